"""One whole-output snapshot per tool (text and structured content), on a fresh sandbox each.

The core tools' richer cases live beside their tests (test_core_tools.py, test_bugport_tools.py); this file
covers every tool once, so that no tool's answer can change without a reviewed snapshot diff.
"""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client
from starlette.applications import Starlette

from bugwarden.sandbox.bugport_seed import uid
from bugwarden.sandbox.bugsnag_seed import oid
from tests.conftest import API_PROJECT, Servers, admin_principal, bugport_settings, make_settings
from tests.snapshot import assert_snapshot

pytestmark = pytest.mark.anyio
ACME = oid("org", "acme")
GLOBEX = oid("org", "globex")
INTEGRITY = oid("error", "api-server", "0")
KEYERROR = oid("error", "api-server", "1")
EVENT = oid("event", INTEGRITY, "0")
GROUP = oid("rg", "api-server", "staging", "3.7.0")
SEARCH = "abd86caf7a49de26373b7126"
CASES: dict[str, dict[str, Any]] = {
    "update_error": {
        "project_id": API_PROJECT,
        "error_id": KEYERROR,
        "operation": "override_severity",
        "severity": "info",
    },
    "list_organizations": {},
    "get_project": {"project_id": API_PROJECT},
    "create_project": {"organization_id": ACME, "name": "Payments Worker", "type": "python"},
    "update_project": {"project_id": API_PROJECT, "resolve_on_deploy": True},
    "update_organization": {"organization_id": ACME, "name": "Acme Inc"},
    "list_collaborators": {"organization_id": ACME},
    "update_release_group": {"release_group_id": GROUP, "visible": False},
    "bulk_update_errors": {"project_id": API_PROJECT, "error_ids": [INTEGRITY, KEYERROR], "operation": "ignore"},
    "list_pivot_values": {"project_id": API_PROJECT, "error_id": INTEGRITY, "event_field_display_id": "app.version"},
    "get_stability_trend": {"project_id": API_PROJECT},
    "list_releases": {"project_id": API_PROJECT, "limit": 2},
    "list_release_groups": {"project_id": API_PROJECT, "release_stage_name": "staging", "limit": 3},
    "list_project_events": {"project_id": API_PROJECT, "filters": ["user.id=u-1001"], "limit": 3},
    "list_event_fields": {"project_id": API_PROJECT},
    "list_saved_searches": {"project_id": API_PROJECT},
    "create_saved_search": {"project_id": API_PROJECT, "name": "Android only", "filters": ["os.name=Android"]},
    "delete_event": {"project_id": API_PROJECT, "event_id": EVENT},
    "delete_organization": {"organization_id": GLOBEX},
    "list_comments": {"project_id": API_PROJECT, "error_id": KEYERROR},
    "update_comment": {
        "project_id": API_PROJECT,
        "error_id": KEYERROR,
        "comment_id": oid("comment", KEYERROR, "0"),
        "body": "Fixed in 3.7.1",
    },
    "delete_comment": {"project_id": API_PROJECT, "error_id": KEYERROR, "comment_id": oid("comment", KEYERROR, "0")},
    "list_feature_flags": {"project_id": API_PROJECT, "release_stage_name": "production"},
    "update_saved_search": {"project_id": API_PROJECT, "saved_search_id": SEARCH, "name": "Open errors"},
    "delete_saved_search": {"project_id": API_PROJECT, "saved_search_id": SEARCH},
    "delete_event_data": {"project_id": API_PROJECT, "filters": ["user.id=u-1001"]},
}


@pytest.mark.parametrize("tool", sorted(CASES))
async def test_whole_output(servers: Servers, home: Any, tool: str) -> None:
    server = servers(admin_principal(), settings=make_settings(home, toolsets="all"))
    async with Client(server) as client:
        assert_snapshot(tool, await client.call_tool(tool, CASES[tool]))


async def test_add_comment_whole_output(servers: Servers, bugport_sandbox: Starlette, home: Any) -> None:
    server = servers(settings=bugport_settings(home), bugport=bugport_sandbox)
    async with Client(server) as client:
        result = await client.call_tool(
            "add_comment", {"error_id": "bugport:" + uid("bug", "0"), "body": "Fixed in 2.4"}
        )
    assert_snapshot("add_comment", result)


async def test_get_event_data_deletion_whole_output(servers: Servers, sandbox: Starlette, home: Any) -> None:
    sandbox.state.sim.deletions["d1"] = {
        "id": "d1",
        "project_id": API_PROJECT,
        "status": "completed",
        "total": 42,
        "filters": {"user.id": [{"type": "eq", "value": "u-1001"}]},
        "created_at": "2026-11-20T10:00:00.000Z",
        "completed_at": "2026-11-20T10:05:00.000Z",
    }
    server = servers(admin_principal(), settings=make_settings(home, toolsets="all"))
    async with Client(server) as client:
        result = await client.call_tool("get_event_data_deletion", {"project_id": API_PROJECT, "deletion_id": "d1"})
    assert_snapshot("get_event_data_deletion", result)
