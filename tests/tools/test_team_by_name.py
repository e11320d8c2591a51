"""Assigning an error to a team by the team's name, as a person says it ("give it to Payments"), not only by an id
no tool lists: looked up among the project's organization's teams, which BugSnag shows an organization admin."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from starlette.applications import Starlette

from bugwarden.sandbox.bugsnag_seed import READONLY_TOKEN, oid
from tests.conftest import API_PROJECT, Servers, admin_principal, make_settings
from tests.snapshot import text_of

pytestmark = pytest.mark.anyio
INTEGRITY = oid("error", "api-server", "0")
KEYERROR = oid("error", "api-server", "1")


def assign(team: str, **more: Any) -> dict[str, Any]:
    return {"project_id": API_PROJECT, "error_id": INTEGRITY, "operation": "assign", "assigned_team_id": team} | more


async def test_a_team_named_by_its_name_is_assigned_by_its_id(servers: Servers, sandbox: Starlette, home: Path) -> None:
    errors = sandbox.state.sim.world.errors
    async with Client(servers(admin_principal(), settings=make_settings(home, toolsets="all"))) as client:
        done = await client.call_tool("update_error", assign("payments"))
        assert not done.is_error, text_of(done)
        assert errors[INTEGRITY].data["assigned_team_id"] == oid("team", "acme", "payments")
        bulk = await client.call_tool(
            "bulk_update_errors",
            {"project_id": API_PROJECT, "error_ids": [KEYERROR], "operation": "assign", "assigned_team_id": "Backend"},
        )
        assert not bulk.is_error, text_of(bulk)
        assert errors[KEYERROR].data["assigned_team_id"] == oid("team", "backend")
        by_id = await client.call_tool("update_error", assign(oid("team", "backend")))
        assert not by_id.is_error and errors[INTEGRITY].data["assigned_team_id"] == oid("team", "backend")
        unknown = await client.call_tool("update_error", assign("Frontend"))
        assert unknown.is_error and "no team of the project's organization is called 'Frontend'" in text_of(unknown)
    assert errors[INTEGRITY].data["assigned_team_id"] == oid("team", "backend")  # the unknown name changed nothing


async def test_without_an_organization_admin_upstream_the_name_cannot_be_looked_up_and_says_so(
    servers: Servers, sandbox: Starlette, home: Path
) -> None:
    settings = make_settings(home, token=READONLY_TOKEN)
    async with Client(servers(admin_principal(), settings=settings)) as client:
        refused = await client.call_tool("update_error", assign("Payments"))
    assert refused.is_error and "naming a team needs an organization admin upstream" in text_of(refused)
    assert "pass the team's id instead" in text_of(refused)


async def test_an_issue_tracker_is_named_by_its_integration_key_or_tracker_project(
    servers: Servers, sandbox: Starlette, home: Path
) -> None:
    args = {"project_id": API_PROJECT, "error_id": INTEGRITY, "operation": "create_issue"}
    log = sandbox.state.control.log
    async with Client(servers(admin_principal(), settings=make_settings(home, toolsets="all"))) as client:
        for named in ("GitHub", "acme/api-server", "API"):
            done = await client.call_tool("update_error", args | {"notification_id": named})
            assert not done.is_error, text_of(done)
        assert any(r.path.endswith("/configured_integration_summaries") for r in log)
        unknown = await client.call_tool("update_error", args | {"notification_id": "linear"})
        said = text_of(unknown)
        assert unknown.is_error and "no issue tracker of project" in said and "'linear'" in said
        assert "github, jira" in said and "nothing was changed" in said  # the keys it has, quoted in the fence
