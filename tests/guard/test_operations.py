"""Arguments belong to their operation: a multiplexed tool refuses what the chosen operation does not take,
so a decline binds to exactly what would be sent (review 3, item 2)."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client
from mcp.types import ElicitResult
from starlette.applications import Starlette

from bugwarden.guard.principal import Principal
from bugwarden.guard.scopes import BUNDLES
from bugwarden.sandbox.bugsnag_seed import oid
from tests.conftest import API_PROJECT, Servers, make_settings
from tests.snapshot import text_of

pytestmark = pytest.mark.anyio
ERROR = oid("error", "api-server", "0")
ADMIN = Principal(id="ops-admin", name="ops-admin", scopes=BUNDLES["admin"])


def writes(sandbox: Starlette) -> list[str]:
    return [f"{r.method} {r.path}" for r in sandbox.state.control.log if r.method != "GET"]


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"issue_title": "irrelevant"}, "issue_title"),
        ({"assigned_collaborator_id": "someone"}, "assigned_collaborator_id"),
        ({"reopen_if": "occurs_after", "seconds": 60}, "reopen_if, seconds"),
        ({"issue_url": "https://example.com/1"}, "issue_url"),
    ],
)
async def test_a_declined_discard_stays_declined_when_an_irrelevant_argument_is_added(
    servers: Servers, sandbox: Starlette, home: Any, extra: dict[str, Any], named: str
) -> None:
    server = servers(ADMIN, settings=make_settings(home, toolsets="all"))
    asked: list[str] = []

    async def decline(ctx, params):
        asked.append(params.message)
        return ElicitResult(action="decline")

    args = {"project_id": API_PROJECT, "error_id": ERROR, "operation": "discard"}
    async with Client(server, mode="legacy", elicitation_callback=decline) as human:
        declined = await human.call_tool("update_error", args)
        assert "user declined" in text_of(declined) and len(asked) == 1
    async with Client(server) as model:  # the same agent re-sends from a client that cannot ask
        smuggled = await model.call_tool("update_error", {**args, **extra})
        assert smuggled.is_error and f"{named} do" in text_of(smuggled) and "operation discard" in text_of(smuggled)
        plain = await model.call_tool("update_error", args)
        assert plain.is_error and "the user declined this change" in text_of(plain)
    assert writes(sandbox) == []
    refused = [r for r in server.audit.records() if r["phase"] == "result"][1]
    assert (refused["decision"], refused["outcome"]) == ("invalid", "invalid_argument")


@pytest.mark.parametrize(
    ("tool", "args", "named"),
    [
        ("update_error", {"operation": "open", "severity": "error"}, "severity goes with operation override_severity"),
        (
            "update_error",
            {"operation": "ignore", "issue_title": "x"},
            "issue_title does not belong to operation ignore",
        ),
        (
            "update_error",
            {"operation": "snooze", "reopen_if": "occurs_after", "seconds": 60, "hours": 2},
            "hours does not belong to operation snooze, which takes reopen_if, seconds",
        ),
        (
            "update_error",
            {"operation": "assign", "assigned_collaborator_id": "c1", "issue_url": "https://x.test/1"},
            "issue_url does not belong to operation assign",
        ),
        (
            "bulk_update_errors",
            {"operation": "fix", "additional_users": 5},
            "additional_users does not belong to operation fix, which takes no further arguments",
        ),
    ],
)
async def test_an_argument_of_another_operation_is_refused_with_its_name(
    servers: Servers, sandbox: Starlette, home: Any, tool: str, args: dict[str, Any], named: str
) -> None:
    server = servers(ADMIN, settings=make_settings(home, toolsets="all"))
    call = {"project_id": API_PROJECT, **args}
    call.update({"error_ids": [ERROR]} if tool == "bulk_update_errors" else {"error_id": ERROR})
    async with Client(server) as client:
        result = await client.call_tool(tool, call)
    assert result.is_error and named in text_of(result), text_of(result)
    assert writes(sandbox) == []


async def test_the_operation_companions_still_work(servers: Servers, sandbox: Starlette, home: Any) -> None:
    server = servers(ADMIN, settings=make_settings(home, toolsets="all"))
    async with Client(server) as client:
        snoozed = await client.call_tool(
            "update_error",
            {
                "project_id": API_PROJECT,
                "error_id": ERROR,
                "operation": "snooze",
                "reopen_if": "occurs_after",
                "seconds": 60,
            },
        )
    assert not snoozed.is_error, text_of(snoozed)
    assert writes(sandbox) == [f"PATCH /projects/{API_PROJECT}/errors/{ERROR}"]


async def test_a_declined_settings_change_binds_whatever_is_added(
    servers: Servers, sandbox: Starlette, home: Any
) -> None:
    server = servers(ADMIN, settings=make_settings(home, toolsets="all"))

    async def decline(ctx, params):
        return ElicitResult(action="decline")

    args = {"project_id": API_PROJECT, "name": "renamed"}
    async with Client(server, mode="legacy", elicitation_callback=decline) as human:
        assert "user declined" in text_of(await human.call_tool("update_project", args))
    async with Client(server) as model:
        for extra in ({"operation": "rename"}, {"organization_id": "x"}, {"confirm": "cf_1_000000000000_" + "0" * 32}):
            again = await model.call_tool("update_project", {**args, **extra})
            assert again.is_error, text_of(again)
        nulls = await model.call_tool("update_project", {**args, "resolve_on_deploy": None})
        assert nulls.is_error and "the user declined this change" in text_of(nulls)
    assert writes(sandbox) == []
