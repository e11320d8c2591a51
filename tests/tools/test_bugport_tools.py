"""The core tools serving BugPort, and both backends at once; ids that route themselves."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client
from starlette.applications import Starlette

from bugwarden.guard.principal import Principal
from bugwarden.guard.scopes import BUNDLES
from bugwarden.sandbox.bugport_seed import uid
from tests.conftest import API_PROJECT, Servers, bugport_settings
from tests.snapshot import assert_snapshot, text_of

pytestmark = pytest.mark.anyio
SHOP = "bugport:" + uid("p", "shop")
ADMIN = "bugport:" + uid("p", "admin")
CHECKOUT = "bugport:" + uid("bug", "0")
HOSTILE = "bugport:" + uid("bug", "2")
EXPORT = "bugport:" + uid("bug", "3")


async def test_bugport_alone(servers: Servers, bugport_sandbox: Starlette, home: Path) -> None:
    server = servers(settings=bugport_settings(home), bugport=bugport_sandbox)
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
        text = text_of(prompt)
        assert "BugPort's own notes" in text and "stripe_key_missing" in text
        events = await c.call_tool("list_events", {"project_id": SHOP, "error_id": CHECKOUT})
        assert events.is_error and "have no events" in text_of(events)
        assert "use get_error or get_bug_context" in text_of(events)


async def test_a_bug_report_id_needs_no_project_id(
    servers: Servers, bugport_sandbox: Starlette, sandbox: Starlette, home: Path
) -> None:
    server = servers(settings=bugport_settings(home, with_bugsnag=True), bugport=bugport_sandbox)
    async with Client(server) as c:
        context = await c.call_tool("get_bug_context", {"error_id": CHECKOUT})
        assert not context.is_error and context.structured_content["error"]["project_id"] == SHOP
        bare = uid("bug", "0")
        hinted = await c.call_tool("get_error", {"project_id": API_PROJECT, "error_id": bare})
        assert hinted.is_error and f"pass it as 'bugport:{bare}'" in text_of(hinted)
        wrong = await c.call_tool("get_error", {"project_id": SHOP, "error_id": "ec0d6c73fe01b5443e71589e"})
        assert wrong.is_error and "looks like a BugSnag error id" in text_of(wrong)
        mismatch = await c.call_tool("get_error", {"project_id": ADMIN, "error_id": CHECKOUT})
        assert mismatch.is_error and "does not match the project" in text_of(mismatch)
    assert not any(bare in r.path for r in sandbox.state.control.log)


async def test_hostile_report_stays_inside_fences(servers: Servers, bugport_sandbox: Starlette, home: Path) -> None:
    server = servers(settings=bugport_settings(home), bugport=bugport_sandbox)
    async with Client(server) as c:
        for tool in ("get_error", "get_bug_context", "generate_fix_prompt"):
            text = text_of(await c.call_tool(tool, {"error_id": HOSTILE}))
            assert text.count('<untrusted-data source="') == text.count("</untrusted-data>")
            assert "```" not in text and "\x1b" not in text and "\u202e" not in text
            outside = text
            for block in text.split("<untrusted-data")[1:]:
                outside = outside.replace(block.split("</untrusted-data>")[0], "")
            assert "IMPORTANT SYSTEM NOTICE" not in outside


async def test_resolve_update_and_comment(servers: Servers, bugport_sandbox: Starlette, home: Path) -> None:
    server = servers(settings=bugport_settings(home), bugport=bugport_sandbox)
    async with Client(server) as c:
        resolved = await c.call_tool("resolve_error", {"error_id": CHECKOUT})
        assert "resolved" in text_of(resolved) and "status: open → resolved" in text_of(resolved)
        assert "fixed" not in text_of(resolved)
        updated = await c.call_tool("update_error", {"error_id": CHECKOUT, "status": "closed", "severity": "critical"})
        assert "status: resolved → closed" in text_of(updated)
        assert "severity: high → critical" in text_of(updated)
        wrong = await c.call_tool("update_error", {"error_id": CHECKOUT, "severity": "error"})
        assert wrong.is_error and "low, medium, high, critical" in text_of(wrong)
        op = await c.call_tool("update_error", {"error_id": CHECKOUT, "operation": "ignore"})
        assert op.is_error and "status and/or severity" in text_of(op)
        empty = await c.call_tool("add_comment", {"error_id": CHECKOUT, "body": ""})
        assert empty.is_error and "body must not be empty" in text_of(empty)
        comment = await c.call_tool("add_comment", {"error_id": CHECKOUT, "body": "Fixed in 2.4"})
        assert "Commented on bug report" in text_of(comment)
    assert bugport_sandbox.state.sim.ws.reports[uid("bug", "0")].comments[-1]["body"] == "Fixed in 2.4"


async def test_the_bridge_scopes_cap_what_is_offered(servers: Servers, bugport_sandbox: Starlette, home: Path) -> None:
    admin = Principal(id="a", name="admin", scopes=BUNDLES["admin"])
    server = servers(admin, settings=bugport_settings(home, "bp_mcp_sandbox_ro"), bugport=bugport_sandbox)
    async with Client(server) as c:
        names = {t.name for t in (await c.list_tools()).tools}
        assert "list_errors" in names and not {"resolve_error", "update_error", "add_comment"} & names
        denied = await c.call_tool("resolve_error", {"project_id": SHOP, "error_id": CHECKOUT})
        assert denied.is_error and "write access with the configured upstream token" in text_of(denied)
    assert not any(r.method in ("PATCH", "POST") for r in bugport_sandbox.state.control.log)


async def test_two_backends_route_by_project_id(servers: Servers, bugport_sandbox: Starlette, home: Path) -> None:
    server = servers(settings=bugport_settings(home, with_bugsnag=True), bugport=bugport_sandbox)
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
        assert not comment_on_bugsnag.is_error  # both trackers take comments through the same tool
        assert "Commented on error ec0d6c73fe01b5443e71589e" in text_of(comment_on_bugsnag)
        bugport_comments = await c.call_tool("list_comments", {"error_id": CHECKOUT})
        assert "toolset insights" in text_of(bugport_comments)  # served by both, in the insights toolset
        events = await c.call_tool("list_events", {"error_id": CHECKOUT})
        assert events.is_error and "not available for BugPort projects: no events" in text_of(events)
        ambiguous = await c.call_tool("list_errors", {})
        assert ambiguous.is_error and "6 projects are visible" in text_of(ambiguous)
        assert "BUGSNAG_PROJECT_ID" in text_of(ambiguous)
    records = [r for r in server.audit.records() if r["tool"] == "list_errors" and r["decision"] == "allowed"]
    assert {r["backend"] for r in records} == {"bugsnag", "bugport"}


async def test_a_bugport_only_setup_does_not_mention_bugsnag(
    servers: Servers, bugport_sandbox: Starlette, home: Path
) -> None:
    server = servers(settings=bugport_settings(home), bugport=bugport_sandbox)
    async with Client(server) as c:
        result = await c.call_tool("list_errors", {})
    assert result.is_error and "project_id is required" in text_of(result)
    assert "BUGSNAG" not in text_of(result)


async def test_project_limits_apply_to_bugport_ids(servers: Servers, bugport_sandbox: Starlette, home: Path) -> None:
    limited = Principal(id="l", name="limited", scopes=BUNDLES["triage"], projects=frozenset({SHOP}))
    server = servers(limited, settings=bugport_settings(home), bugport=bugport_sandbox)
    async with Client(server) as c:
        denied = await c.call_tool("get_error", {"project_id": ADMIN, "error_id": EXPORT})
        assert denied.is_error and "outside this agent's project limits" in text_of(denied)
        by_id = await c.call_tool("get_error", {"error_id": EXPORT})
        assert by_id.is_error and "outside this agent's project limits" in text_of(by_id)
        assert ADMIN not in text_of(by_id)
        other = await c.call_tool("get_error", {"project_id": SHOP, "error_id": EXPORT})
        assert other.is_error and "does not match the project" in text_of(other)


async def test_status_values_are_checked_against_the_routed_tracker(
    servers: Servers, bugport_sandbox: Starlette, sandbox: Starlette, home: Path
) -> None:
    server = servers(settings=bugport_settings(home, with_bugsnag=True), bugport=bugport_sandbox)
    async with Client(server) as c:
        snag = await c.call_tool("list_errors", {"project_id": API_PROJECT, "status": "resolved"})
        assert snag.is_error and "does not exist on BugSnag" in text_of(snag)
        port = await c.call_tool("list_errors", {"project_id": SHOP, "severity": "warning"})
        assert port.is_error and "low, medium, high, critical" in text_of(port)
        stage = await c.call_tool("list_errors", {"project_id": SHOP, "release_stage": "production"})
        assert stage.is_error and "BugPort cannot filter by release_stage" in text_of(stage)
    assert not any(r.path.endswith("/errors") for r in sandbox.state.control.log)


async def test_with_bugport_alone_ids_as_bugport_shows_them_need_no_prefix(
    servers: Servers, bugport_sandbox: Starlette, home: Path
) -> None:
    server = servers(settings=bugport_settings(home), bugport=bugport_sandbox)
    bare_bug, bare_project = CHECKOUT.removeprefix("bugport:"), SHOP.removeprefix("bugport:")
    async with Client(server) as c:
        alone = await c.call_tool("get_error", {"error_id": bare_bug})
        assert not alone.is_error, text_of(alone)
        assert alone.structured_content["error"]["project_id"] == SHOP
        listed = await c.call_tool("list_errors", {"project_id": bare_project, "status": "open"})
        assert not listed.is_error and listed.structured_content["errors"][0]["id"] == CHECKOUT


def test_bugport_shaped_ids_route_to_bugport_beside_bugsnag() -> None:
    from bugwarden.runtime import _BUGPORT_ID

    assert _BUGPORT_ID.match("bug_7Hx2kQ9") and not _BUGPORT_ID.match("ec0d6c73fe01b5443e71589e")
