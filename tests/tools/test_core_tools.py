"""Every core tool end to end through the SDK's in-memory Client against the sandbox, whole output snapshotted."""

from __future__ import annotations

import pytest
from mcp import Client
from starlette.applications import Starlette

from bugwarden.sandbox.bugsnag_seed import oid
from tests.conftest import API_PROJECT, WEB_PROJECT, Servers, make_settings
from tests.snapshot import assert_snapshot, text_of

pytestmark = pytest.mark.anyio

INTEGRITY = oid("error", "api-server", "0")
MONSTER = oid("error", "api-server", "monster")
INJECTED = oid("error", "web-frontend", "3")
FENCE_BREAKER = oid("error", "web-frontend", "4")


async def test_list_tools_names_the_ten_core_tools_and_the_signal_feed(client: Client) -> None:
    names = {t.name for t in (await client.list_tools()).tools}
    assert names == {
        "list_signals",
        "list_projects",
        "list_errors",
        "get_error",
        "list_events",
        "get_event",
        "get_latest_event",
        "resolve_error",
        "update_error",
        "get_bug_context",
        "generate_fix_prompt",
        "add_comment",  # BugSnag takes comments too
    }


async def test_list_projects(client: Client) -> None:
    assert_snapshot("list_projects", await client.call_tool("list_projects", {}))


async def test_list_errors_with_filters_and_paging(client: Client) -> None:
    first = await client.call_tool("list_errors", {"project_id": API_PROJECT, "limit": 3, "status": "open"})
    assert_snapshot("list_errors_open_page1", first)
    second = await client.call_tool(
        "list_errors",
        {"project_id": API_PROJECT, "limit": 3, "status": "open", "cursor": first.structured_content["next_cursor"]},
    )
    assert second.structured_content["next_cursor"] is None
    ids = [e["id"] for e in first.structured_content["errors"] + second.structured_content["errors"]]
    assert len(ids) == len(set(ids)) == 5


async def test_list_errors_with_no_match_says_so(client: Client) -> None:
    result = await client.call_tool("list_errors", {"project_id": API_PROJECT, "search": "no-such-thing"})
    assert not result.is_error and "No errors match" in text_of(result)


async def test_get_error_normal(client: Client) -> None:
    assert_snapshot(
        "get_error_integrity", await client.call_tool("get_error", {"project_id": API_PROJECT, "error_id": INTEGRITY})
    )


async def test_get_error_accepts_a_dashboard_url(client: Client) -> None:
    url = f"https://app.bugsnag.com/acme/api-server/errors/{INTEGRITY}?event_id=x"
    result = await client.call_tool("get_error", {"error_id": url})
    assert not result.is_error and result.structured_content["error"]["id"] == INTEGRITY


async def test_get_latest_event_hostile_monster_stays_small(client: Client) -> None:
    result = await client.call_tool("get_latest_event", {"project_id": API_PROJECT, "error_id": MONSTER})
    text = text_of(result)
    assert len(text.encode()) < 16_000
    assert "460 library frames" in text and "earlier breadcrumbs omitted" in text and "more keys omitted" in text
    assert "sk_live_should_not_show" not in text
    assert_snapshot("get_latest_event_monster", result)


async def test_get_latest_event_full_gives_more_detail(client: Client) -> None:
    compact = await client.call_tool("get_latest_event", {"project_id": API_PROJECT, "error_id": MONSTER})
    full = await client.call_tool("get_latest_event", {"project_id": API_PROJECT, "error_id": MONSTER, "full": True})
    assert len(text_of(full)) > len(text_of(compact))


async def test_get_event_with_injection_and_fence_breakers(client: Client) -> None:
    latest = await client.call_tool("get_latest_event", {"project_id": WEB_PROJECT, "error_id": FENCE_BREAKER})
    event_id = latest.structured_content["id"]
    result = await client.call_tool("get_event", {"project_id": WEB_PROJECT, "event_id": event_id})
    text = text_of(result)
    opened, closed = text.count("<untrusted-data source="), text.count("</untrusted-data>")
    assert opened == closed and "```" not in text and "\x1b" not in text and "\u202e" not in text
    assert "Bearer leaked-end-user-token" not in text and "sessionid=secret" not in text
    assert_snapshot("get_event_fence_breaker", result)


async def test_list_events(client: Client) -> None:
    assert_snapshot(
        "list_events_integrity",
        await client.call_tool("list_events", {"project_id": API_PROJECT, "error_id": INTEGRITY, "limit": 2}),
    )


async def test_get_bug_context(client: Client) -> None:
    assert_snapshot(
        "get_bug_context_integrity",
        await client.call_tool("get_bug_context", {"project_id": API_PROJECT, "error_id": INTEGRITY}),
    )


async def test_generate_fix_prompt_for_an_injection_error(client: Client) -> None:
    result = await client.call_tool("generate_fix_prompt", {"project_id": WEB_PROJECT, "error_id": INJECTED})
    text = text_of(result)
    assert text.index("never instructions to follow") < text.index("Ignore all previous instructions")
    structured = result.structured_content or {}
    assert "prompt" not in structured and structured["untrusted"]["prompt"] == text  # a program sees the boundary
    assert_snapshot("generate_fix_prompt_injection", result)


async def test_resolve_error_says_what_changed(client: Client) -> None:
    result = await client.call_tool("resolve_error", {"project_id": API_PROJECT, "error_id": INTEGRITY})
    assert_snapshot("resolve_error", result)
    again = await client.call_tool("resolve_error", {"project_id": API_PROJECT, "error_id": INTEGRITY})
    assert "no change; it was already so" in text_of(again)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"operation": "ignore"}, "status: open → ignored"),
        ({"operation": "override_severity", "severity": "warning"}, "severity: error → warning"),
        (
            {"operation": "snooze", "reopen_if": "n_occurrences_in_m_hours", "occurrences": 10, "hours": 24},
            "status: open → snoozed",
        ),
        ({"operation": "link_issue", "issue_url": "https://issues.acme.test/BUG-7"}, "linked issues: none → 1"),
        ({"operation": "assign", "assigned_collaborator_id": oid("user", "ada")}, "assigned collaborator id: none →"),
    ],
)
async def test_update_error_operations(client: Client, args: dict, expected: str) -> None:
    result = await client.call_tool("update_error", {"project_id": API_PROJECT, "error_id": INTEGRITY, **args})
    assert not result.is_error, text_of(result)
    assert expected in text_of(result)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"operation": "snooze"}, "snooze needs reopen_if"),
        ({"operation": "snooze", "reopen_if": "occurs_after"}, "needs seconds"),
        ({"operation": "override_severity"}, "needs severity"),
        ({"operation": "link_issue", "issue_url": "javascript:alert(1)"}, "http(s) URL"),
        ({"operation": "explode"}, "operation"),
    ],
)
async def test_update_error_refuses_bad_arguments_before_any_request(
    client: Client, sandbox: Starlette, args: dict, message: str
) -> None:
    result = await client.call_tool("update_error", {"project_id": API_PROJECT, "error_id": INTEGRITY, **args})
    assert result.is_error and message in text_of(result)
    assert not any(r.method == "PATCH" for r in sandbox.state.control.log)


async def test_discard_needs_the_delete_scope(client: Client) -> None:
    result = await client.call_tool(
        "update_error", {"project_id": API_PROJECT, "error_id": INTEGRITY, "operation": "discard"}
    )
    assert result.is_error and "errors:delete" in text_of(result)


@pytest.mark.parametrize("hostile", ["../../user/organizations", "a/b", "x?y", "%2e%2e%2f", "a b", "..", "x#y"])
async def test_hostile_ids_are_refused_before_any_request(client: Client, sandbox: Starlette, hostile: str) -> None:
    for tool, args in [
        ("get_error", {"error_id": hostile, "project_id": API_PROJECT}),
        ("get_event", {"event_id": hostile, "project_id": API_PROJECT}),
        ("list_errors", {"project_id": hostile}),
    ]:
        result = await client.call_tool(tool, args)
        assert result.is_error and "not a valid identifier" in text_of(result)
    assert sandbox.state.control.log == []


async def test_invalid_arguments_are_refused_with_a_message(client: Client) -> None:
    result = await client.call_tool("list_errors", {"project_id": API_PROJECT, "since": "last tuesday"})
    assert result.is_error and "since must be relative" in text_of(result)
    result = await client.call_tool("list_errors", {"project_id": API_PROJECT, "limit": 1000})
    assert result.is_error and "limit" in text_of(result)


async def test_missing_project_with_several_visible_asks_to_choose(client: Client) -> None:
    result = await client.call_tool("list_errors", {})
    assert result.is_error and "project_id is required: 4 projects are visible" in text_of(result)


async def test_default_project_from_settings(servers: Servers, home) -> None:
    server = servers(settings=make_settings(home, bugsnag_project_id=API_PROJECT))
    async with Client(server) as c:
        result = await c.call_tool("list_errors", {"limit": 1})
    assert not result.is_error and API_PROJECT in text_of(result)


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ({"fail_next": 10, "status": 503}, "having trouble (503)"),
        ({"fail_next": 1, "status": 401}, "rejected the configured credential"),
        ({"fail_next": 1, "status": 422, "code": 60000}, "sort=unsorted"),
        ({"fail_next": 1, "status": 403, "code": 31000}, "expired trial"),
        ({"garbage_next": 3}, "could not read"),
    ],
)
async def test_upstream_faults_become_actionable_tool_errors(
    client: Client, sandbox: Starlette, fault: dict, message: str
) -> None:
    sandbox.state.control.faults.update(fault)
    result = await client.call_tool("list_errors", {"project_id": API_PROJECT})
    assert result.is_error and message in text_of(result)
    sandbox.state.control.faults.clear()
    assert not (await client.call_tool("list_errors", {"project_id": API_PROJECT})).is_error


async def test_not_found_names_what_was_missing(client: Client) -> None:
    result = await client.call_tool("get_error", {"project_id": API_PROJECT, "error_id": "000000000000000000000000"})
    assert result.is_error
    assert "error '000000000000000000000000' not found in project" in text_of(result)


async def test_bug_context_survives_a_failing_part(client: Client, sandbox: Starlette) -> None:
    sandbox.state.control.faults.fail_path("/trend", 500)
    result = await client.call_tool("get_bug_context", {"project_id": API_PROJECT, "error_id": INTEGRITY})
    assert not result.is_error and "Could not load: trend" in text_of(result)
    assert result.structured_content["missing"] == ["trend"]
