"""The core tools serving BugPort, and both backends at once."""

from __future__ import annotations

import pytest
from mcp import Client
from starlette.applications import Starlette

from bugwarden.guard.principal import Principal
from bugwarden.guard.scopes import BUNDLES
from bugwarden.sandbox.bugport_seed import uid
from tests.conftest import API_PROJECT, bugport_server, bugport_settings
from tests.snapshot import assert_snapshot

pytestmark = pytest.mark.anyio
SHOP = "bugport:" + uid("p", "shop")
ADMIN = "bugport:" + uid("p", "admin")
CHECKOUT = uid("bug", "0")
HOSTILE = uid("bug", "2")
EXPORT = uid("bug", "3")


async def test_bugport_alone(bugport_sandbox: Starlette, home) -> None:  # type: ignore[no-untyped-def]
    server = bugport_server(bugport_sandbox, bugport_settings(home))
    async with Client(server) as c:
        names = {t.name for t in (await c.list_tools()).tools}
        assert {"list_errors", "get_bug_context", "add_comment", "update_error"} <= names
        assert not {"list_events", "get_event", "get_latest_event"} & names  # BugPort has no events
        assert_snapshot("bugport_list_projects", await c.call_tool("list_projects", {}))
        errors = await c.call_tool("list_errors", {"project_id": SHOP, "status": "open"})
        assert [e["id"] for e in errors.structured_content["errors"]] == [CHECKOUT, HOSTILE]
        assert_snapshot("bugport_get_error", await c.call_tool("get_error", {"project_id": SHOP, "error_id": CHECKOUT}))
        assert_snapshot(
            "bugport_hostile_context", await c.call_tool("get_bug_context", {"project_id": SHOP, "error_id": HOSTILE})
        )
        prompt = await c.call_tool("generate_fix_prompt", {"project_id": SHOP, "error_id": CHECKOUT})
        text = prompt.content[0].text
        assert "BugPort's own notes" in text and "stripe_key_missing" in text
        events = await c.call_tool("list_events", {"project_id": SHOP, "error_id": CHECKOUT})
        assert events.is_error and "not available for the configured trackers" in events.content[0].text
    server.audit.close()


async def test_hostile_report_stays_inside_fences(bugport_sandbox: Starlette, home) -> None:  # type: ignore
    server = bugport_server(bugport_sandbox, bugport_settings(home))
    async with Client(server) as c:
        for tool in ("get_error", "get_bug_context", "generate_fix_prompt"):
            text = (await c.call_tool(tool, {"project_id": SHOP, "error_id": HOSTILE})).content[0].text
            assert text.count('<untrusted-data source="') == text.count("</untrusted-data>")
            assert "```" not in text and "\x1b" not in text and "\u202e" not in text
            outside = text
            for block in text.split("<untrusted-data")[1:]:
                outside = outside.replace(block.split("</untrusted-data>")[0], "")
            assert "IMPORTANT SYSTEM NOTICE" not in outside
    server.audit.close()


async def test_resolve_update_and_comment(bugport_sandbox: Starlette, home) -> None:  # type: ignore
    server = bugport_server(bugport_sandbox, bugport_settings(home))
    async with Client(server) as c:
        resolved = await c.call_tool("resolve_error", {"project_id": SHOP, "error_id": CHECKOUT})
        assert "status: open → resolved" in resolved.content[0].text
        updated = await c.call_tool(
            "update_error", {"project_id": SHOP, "error_id": CHECKOUT, "status": "closed", "severity": "critical"}
        )
        assert "status: resolved → closed" in updated.content[0].text
        assert "severity: high → critical" in updated.content[0].text
        wrong = await c.call_tool("update_error", {"project_id": SHOP, "error_id": CHECKOUT, "severity": "error"})
        assert wrong.is_error and "low, medium, high or critical" in wrong.content[0].text
        op = await c.call_tool("update_error", {"project_id": SHOP, "error_id": CHECKOUT, "operation": "ignore"})
        assert op.is_error and "status and/or severity" in op.content[0].text
        comment = await c.call_tool("add_comment", {"project_id": SHOP, "error_id": CHECKOUT, "body": "Fixed in 2.4"})
        assert "Commented on bug report" in comment.content[0].text
    assert bugport_sandbox.state.sim.ws.reports[CHECKOUT].comments[-1]["body"] == "Fixed in 2.4"
    server.audit.close()


async def test_the_bridge_scopes_cap_what_is_offered(bugport_sandbox: Starlette, home) -> None:  # type: ignore
    admin = Principal(id="a", name="admin", scopes=BUNDLES["admin"])
    server = bugport_server(bugport_sandbox, bugport_settings(home, "bp_mcp_sandbox_ro"), admin)
    async with Client(server) as c:
        names = {t.name for t in (await c.list_tools()).tools}
        assert "list_errors" in names and not {"resolve_error", "update_error", "add_comment"} & names
        denied = await c.call_tool("resolve_error", {"project_id": SHOP, "error_id": CHECKOUT})
        assert denied.is_error and "not available for the configured trackers" in denied.content[0].text
    assert not any(r.method in ("PATCH", "POST") for r in bugport_sandbox.state.control.log)
    server.audit.close()


async def test_two_backends_route_by_project_id(bugport_sandbox: Starlette, sandbox: Starlette, home) -> None:  # type: ignore
    settings = bugport_settings(home, with_bugsnag=True)
    server = bugport_server(bugport_sandbox, settings, bugsnag_sandbox=sandbox)
    async with Client(server) as c:
        names = {t.name for t in (await c.list_tools()).tools}
        assert {"list_events", "add_comment"} <= names  # the union of what the backends serve
        projects = (await c.call_tool("list_projects", {})).structured_content["projects"]
        assert {p["backend"] for p in projects} == {"bugsnag", "bugport"} and len(projects) == 6
        snag = await c.call_tool("list_errors", {"project_id": API_PROJECT, "limit": 2})
        port = await c.call_tool("list_errors", {"project_id": SHOP, "limit": 2})
        assert not snag.is_error and not port.is_error
        assert all(e["project_id"] == SHOP for e in port.structured_content["errors"])
        comment_on_bugsnag = await c.call_tool(
            "add_comment", {"project_id": API_PROJECT, "error_id": "ec0d6c73fe01b5443e71589e", "body": "x"}
        )
        assert (
            comment_on_bugsnag.is_error and "not available for bugsnag projects" in comment_on_bugsnag.content[0].text
        )
        ambiguous = await c.call_tool("list_errors", {})
        assert ambiguous.is_error and "6 projects are visible" in ambiguous.content[0].text
    records = list(server.audit.records())
    assert {r["backend"] for r in records if r["tool"] == "list_errors"} == {"bugsnag", "bugport"}
    server.audit.close()


async def test_project_limits_apply_to_bugport_ids(bugport_sandbox: Starlette, home) -> None:  # type: ignore
    limited = Principal(id="l", name="limited", scopes=BUNDLES["triage"], projects=frozenset({SHOP}))
    server = bugport_server(bugport_sandbox, bugport_settings(home), limited)
    async with Client(server) as c:
        denied = await c.call_tool("get_error", {"project_id": ADMIN, "error_id": EXPORT})
        assert denied.is_error and "outside this agent's project limits" in denied.content[0].text
        other = await c.call_tool("get_error", {"project_id": SHOP, "error_id": EXPORT})
        assert other.is_error and "not found in project" in other.content[0].text
    server.audit.close()


async def test_status_values_are_checked_against_the_routed_tracker(
    bugport_sandbox: Starlette, sandbox: Starlette, home
) -> None:  # type: ignore[no-untyped-def]
    server = bugport_server(bugport_sandbox, bugport_settings(home, with_bugsnag=True), bugsnag_sandbox=sandbox)
    async with Client(server) as c:
        snag = await c.call_tool("list_errors", {"project_id": API_PROJECT, "status": "resolved"})
        assert snag.is_error and "does not exist on bugsnag" in snag.content[0].text
        port = await c.call_tool("list_errors", {"project_id": SHOP, "severity": "warning"})
        assert port.is_error and "low, medium, high, critical" in port.content[0].text
    assert not any(r.path.endswith("/errors") for r in sandbox.state.control.log)
    server.audit.close()
