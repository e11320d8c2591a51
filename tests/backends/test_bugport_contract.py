"""The BugPort adapter against the simulator: bridge discovery and invocation, REST fallbacks, error mapping."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette

from bugwarden.backends import errors as E
from bugwarden.backends.base import ErrorChange, ErrorQuery
from bugwarden.backends.bugport import BugportBackend, bug_group, detail
from bugwarden.backends.capabilities import Comments, ErrorChanges, Errors, Events, has
from bugwarden.config import ConfigError, Settings
from bugwarden.sandbox.bugport_seed import uid
from tests.conftest import bugport_settings

pytestmark = pytest.mark.anyio
SHOP = "bugport:" + uid("p", "shop")
ADMIN = "bugport:" + uid("p", "admin")
CHECKOUT = uid("bug", "0")
EXPORT = uid("bug", "3")


def backend(sandbox: Starlette, home, token: str = "bp_mcp_sandbox_rw") -> BugportBackend:
    return BugportBackend(bugport_settings(home, token), transport=httpx.ASGITransport(app=sandbox))


def paths(sandbox: Starlette) -> list[str]:
    return [f"{r.method} {r.path}" for r in sandbox.state.control.log]


def test_the_api_url_must_end_in_v1() -> None:
    with pytest.raises(ConfigError, match="must end in '/v1'"):
        Settings.from_env({"BUGPORT_API_URL": "https://api.bugport.dev", "BUGPORT_TOKEN": "x"})


async def test_discovery_reads_config_and_tools(bugport_sandbox: Starlette, home) -> None:
    b = backend(bugport_sandbox, home)
    bridge = await b.bridge_info()
    assert bridge.scopes == {"bugs:read", "bugs:write"} and "update_bug_status" in bridge.tools
    assert {p.id for p in bridge.projects} == {SHOP, ADMIN}
    assert has(b, Comments) and has(b, ErrorChanges) and not has(b, Events) and not isinstance(b, Events)
    reader = backend(bugport_sandbox, home, "bp_mcp_sandbox_ro")
    await reader.discover()
    assert not has(reader, ErrorChanges) and not has(reader, Comments) and has(reader, Errors)
    await b.discover()
    assert paths(bugport_sandbox).count("GET /v1/mcp/config") == 2  # once per token, then cached


async def test_list_bugs_with_filters_and_paging(bugport_sandbox: Starlette, home) -> None:
    b = backend(bugport_sandbox, home)
    page = await b.list_errors(SHOP, ErrorQuery(limit=2))
    assert len(page.items) == 2 and page.total == 3 and page.next
    rest = await b.list_errors(SHOP, ErrorQuery(limit=2), page.next)
    assert len(rest.items) == 1 and rest.next is None
    assert {e.id for e in page.items + rest.items} == {"bugport:" + uid("bug", str(n)) for n in range(3)}
    filtered = await b.list_errors(SHOP, ErrorQuery(status=("open",), search="safari"))
    assert [e.message for e in filtered.items] == ["Checkout button does nothing on Safari"]
    with pytest.raises(E.InvalidArgument, match=r"cannot filter bug reports by release_stage"):
        await b.list_errors(SHOP, ErrorQuery(release_stage="production"))


async def test_context_from_the_bridge_and_fallback_when_not_wired(bugport_sandbox: Starlette, home) -> None:
    b = backend(bugport_sandbox, home)
    context = await b.bug_context(SHOP, CHECKOUT)
    report = context.report
    assert report is not None and context.error.status == "open"
    assert report.console_logs[0].level == "error" and report.network[0].status == 500
    assert (await b.fix_brief(SHOP, CHECKOUT))[1]
    bugport_sandbox.state.sim.unwired = {"context", "prompt"}
    b.http.invalidate("")  # forget what was read, so the fallback routes are asked
    fallback = await b.bug_context(SHOP, "bugport:" + CHECKOUT)
    assert fallback.report is not None and fallback.error == context.error
    assert (fallback.report.console_logs, fallback.report.network) == (report.console_logs, report.network)
    assert {"GET /v1/bugs/" + CHECKOUT + s for s in ("", "/logs", "/network", "/comments", "/activity")} <= set(
        paths(bugport_sandbox)
    )
    b.http.invalidate("")
    assert (await b.fix_brief(SHOP, CHECKOUT))[1] is None


async def test_a_bug_from_another_project_is_not_found(bugport_sandbox: Starlette, home) -> None:
    b = backend(bugport_sandbox, home)
    with pytest.raises(E.NotFound):
        await b.get_error(SHOP, EXPORT)
    with pytest.raises(E.NotFound):
        await b.bug_context(SHOP, EXPORT)
    with pytest.raises(E.NotFound):
        await b.update_error(SHOP, EXPORT, ErrorChange("set", {"status": "closed"}))
    assert bugport_sandbox.state.sim.ws.reports[EXPORT].bug["status"] == "resolved"


async def test_updates_and_comments_go_through_the_bridge(bugport_sandbox: Starlette, home) -> None:
    b = backend(bugport_sandbox, home)
    updated = await b.update_error(SHOP, CHECKOUT, ErrorChange("set", {"status": "in_progress", "severity": "low"}))
    assert updated is not None and (updated.status, updated.severity) == ("in_progress", "low")
    resolved = await b.update_error(SHOP, CHECKOUT, ErrorChange("fix"))
    assert resolved is not None and resolved.status == "resolved"
    comment = await b.add_comment(SHOP, CHECKOUT, "Fixed in 2.4.1")
    assert comment.body == "Fixed in 2.4.1"
    assert "POST /v1/mcp/tools/invoke" in paths(bugport_sandbox)
    assert not any(p.startswith("PATCH") for p in paths(bugport_sandbox))


async def test_writes_fall_back_to_rest_when_invoke_is_not_wired(bugport_sandbox: Starlette, home) -> None:
    bugport_sandbox.state.sim.unwired = {"invoke"}
    b = backend(bugport_sandbox, home)
    await b.update_error(SHOP, CHECKOUT, ErrorChange("set", {"status": "closed"}))
    await b.add_comment(SHOP, CHECKOUT, "via REST")
    assert f"PATCH /v1/bugs/{CHECKOUT}" in paths(bugport_sandbox)
    assert f"POST /v1/bugs/{CHECKOUT}/comments" in paths(bugport_sandbox)


async def test_health_and_version(bugport_sandbox: Starlette, home) -> None:
    assert await backend(bugport_sandbox, home).health() == ("ok", "0.2.0")


@pytest.mark.parametrize(
    ("fault", "error", "message"),
    [
        ({"fail_next": 1, "status": 401}, E.Unauthorized, "rejected the configured credential"),
        ({"fail_next": 1, "status": 403}, E.Forbidden, "refused this action"),
        ({"fail_next": 5, "status": 503}, E.UpstreamServerError, "having trouble"),
        ({"fail_next": 5, "status": 429, "retry_after": 0}, E.RateLimited, "rate limit"),
        ({"garbage_next": 5}, E.MalformedResponse, "could not read"),
    ],
)
async def test_error_mapping(bugport_sandbox: Starlette, home, fault: dict, error: type, message: str) -> None:
    b = backend(bugport_sandbox, home)
    await b.discover()
    bugport_sandbox.state.control.faults.update(fault)
    with pytest.raises(error, match=message):
        await b.get_error(SHOP, CHECKOUT)


async def test_not_found_and_validation_errors(bugport_sandbox: Starlette, home) -> None:
    b = backend(bugport_sandbox, home)
    with pytest.raises(E.NotFound, match="bug report 'nope' not found"):
        await b.get_error(SHOP, "nope")
    bugport_sandbox.state.sim.unwired = {"invoke"}
    with pytest.raises(E.InvalidRequest, match=r"rejected the request \(422\); its message follows") as refused:
        await b.update_error(SHOP, CHECKOUT, ErrorChange("set", {"status": "wontfix"}))
    assert "status: must be one of" in (refused.value.quote or "")  # the upstream's words, as a fact
    with pytest.raises(E.Forbidden):
        await backend(bugport_sandbox, home, "bp_mcp_sandbox_ro").update_error(
            SHOP, CHECKOUT, ErrorChange("set", {"status": "closed"})
        )


async def test_a_project_limited_token_gets_403_elsewhere(bugport_sandbox: Starlette, home) -> None:
    b = backend(bugport_sandbox, home, "bp_mcp_sandbox_shop_only")
    assert [p.id for p in await b.list_projects()] == [SHOP]
    with pytest.raises(E.Forbidden):
        await b.list_errors(ADMIN, ErrorQuery())


def test_parsing_is_tolerant() -> None:
    bug = bug_group(
        {"id": "b1", "project_id": "p", "status": "won't fix", "severity": "blocker", "brand_new_field": {"x": 1}}
    )
    assert bug is not None
    assert (bug.id, bug.status, bug.severity, bug.message, bug.project_id) == (
        "bugport:b1",
        "won't fix",
        "blocker",
        "",
        "bugport:p",
    )
    assert bug_group({"id": "../x", "project_id": "p"}) is None and bug_group({"id": "b1"}) is None
    report = detail({"console_logs": [{"message": 3}, "junk"], "network": [{"status": "500"}], "comments": None}, {})
    assert report.console_logs[0].message == "3" and report.network[0].status == 500 and report.comments == ()
