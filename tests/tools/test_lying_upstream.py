"""A lying or endless upstream: writes answered by a redirect, next links that loop or never end, absurd totals,
bodies cut short. Every call ends cleanly, says what happened, and is audited for what happened."""

from __future__ import annotations

import httpx
import pytest
from mcp import Client
from starlette.applications import Starlette

from bugwarden.app import build_server
from bugwarden.guard.principal import local_principal
from bugwarden.sandbox.bugsnag_seed import oid
from tests.conftest import API_PROJECT, Servers, admin_principal, make_settings
from tests.snapshot import text_of

pytestmark = pytest.mark.anyio
INTEGRITY = oid("error", "api-server", "0")
KEYERROR = oid("error", "api-server", "1")
EVENT = oid("event", INTEGRITY, "0")
LISTING_CAP = 24 + 2
"""The most upstream requests one call may spend on a listing (BugSnag allows about 30 a minute)."""


def outcomes(server, tool: str) -> list[str]:
    return [r["outcome"] for r in server.audit.records() if r["tool"] == tool and r["phase"] == "result"]


async def test_a_redirect_answering_resolve_error_is_a_failure(client: Client, server, sandbox: Starlette) -> None:
    sandbox.state.control.faults.redirect_next(1, 302, "PATCH")
    result = await client.call_tool("resolve_error", {"project_id": API_PROJECT, "error_id": INTEGRITY})
    assert result.is_error
    text = text_of(result)
    assert "redirect" in text and "302" in text and "resolved" not in text.split(":")[0]
    assert sandbox.state.sim.world.errors[INTEGRITY].data["status"] == "open"
    assert outcomes(server, "resolve_error") == ["UnexpectedStatus"]
    sent = [r for r in sandbox.state.control.log if r.method == "PATCH"]
    assert len(sent) == 1  # not retried, and the redirect was not followed
    assert not any(r.path.startswith("/login") for r in sandbox.state.control.log)


async def test_a_redirect_answering_delete_error_is_a_failure(servers: Servers, home, sandbox: Starlette) -> None:
    server = servers(admin_principal(), settings=make_settings(home, toolsets="all"))
    async with Client(server) as c:
        args = {"project_id": API_PROJECT, "error_id": KEYERROR}
        preview = await c.call_tool("delete_error", args)
        code = preview.structured_content["confirm_code"]
        sandbox.state.control.faults.redirect_next(1, 302, "DELETE")
        result = await c.call_tool("delete_error", {**args, "confirm": code})
    assert result.is_error
    assert "Deleted" not in text_of(result) and "redirect" in text_of(result)
    assert KEYERROR in sandbox.state.sim.world.errors
    assert outcomes(server, "delete_error")[-1] == "UnexpectedStatus"


async def test_a_redirect_answering_a_read_says_so(client: Client, sandbox: Starlette) -> None:
    # get_error asks for several things at once; redirect every one, so the error's own request surely meets one
    # (with a single redirect, which request it lands on is a race, and an optional lookup may absorb it).
    sandbox.state.control.faults.redirect_next(20, 301)
    result = await client.call_tool("get_error", {"project_id": API_PROJECT, "error_id": INTEGRITY})
    assert result.is_error and "redirect" in text_of(result) and "301" in text_of(result)


def listing_requests(sandbox: Starlette) -> int:
    return sum(1 for r in sandbox.state.control.log if r.path.endswith("/projects"))


async def test_a_looping_next_link_stops_at_once_and_says_so(client: Client, sandbox: Starlette) -> None:
    sandbox.state.control.faults.loop_links("/projects")
    result = await client.call_tool("list_projects", {})
    assert not result.is_error, text_of(result)
    assert listing_requests(sandbox) <= 2 * 2  # two organizations, each seen again once at most
    text = text_of(result)
    assert "repeated" in text
    names = [p["id"] for p in result.structured_content["projects"]]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("empty", [False, True])
async def test_endless_pages_stop_at_the_cap_and_say_what_was_left_out(
    client: Client, sandbox: Starlette, empty: bool
) -> None:
    sandbox.state.control.faults.endless_links("/projects", empty=empty)
    result = await client.call_tool("list_projects", {})
    assert not result.is_error, text_of(result)
    assert listing_requests(sandbox) <= LISTING_CAP
    assert "stopped" in text_of(result)
    names = [p["id"] for p in result.structured_content["projects"]]
    assert len(names) == len(set(names))


@pytest.mark.parametrize(
    ("tool", "args"),
    [
        ("get_error", {"project_id": API_PROJECT, "error_id": INTEGRITY}),
        ("get_event", {"project_id": API_PROJECT, "event_id": EVENT}),
        ("get_latest_event", {"project_id": API_PROJECT, "error_id": INTEGRITY}),
    ],
)
async def test_project_lookups_inside_a_read_are_capped(
    client: Client, sandbox: Starlette, tool: str, args: dict[str, str]
) -> None:
    sandbox.state.control.faults.endless_links("/projects", empty=True)
    result = await client.call_tool(tool, args)
    assert not result.is_error, text_of(result)
    assert len(sandbox.state.control.log) <= LISTING_CAP + 4


async def test_an_absurd_total_is_not_shown_as_is(client: Client, sandbox: Starlette, monkeypatch) -> None:
    from bugwarden.sandbox import bugsnag_query

    real = bugsnag_query.paginate

    def lying(*a, **kw):
        chunk, headers = real(*a, **kw)
        headers["X-Total-Count"] = "999999999999999"
        return chunk, headers

    monkeypatch.setattr(bugsnag_query, "paginate", lying)
    result = await client.call_tool("list_errors", {"project_id": API_PROJECT, "limit": 2})
    assert not result.is_error
    assert "999999999999999" not in text_of(result)
    assert "999999999999999" not in str(result.structured_content)


async def test_a_body_cut_short_is_not_called_unreachable(home) -> None:
    class Short(httpx.AsyncByteStream):
        async def __aiter__(self):
            yield b'[{"id": "abc"'
            raise httpx.RemoteProtocolError("peer closed connection without sending complete message body")

    class Cut(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            return httpx.Response(200, headers={"Content-Length": "500"}, stream=Short())

    server = build_server(make_settings(home), principal=local_principal("triage"), backend_transport=Cut())
    try:
        async with Client(server) as c:
            result = await c.call_tool("list_errors", {"project_id": API_PROJECT})
    finally:
        server.close()
    assert result.is_error
    assert "could not reach" not in text_of(result) and "cut short" in text_of(result)


async def test_a_write_answered_with_an_undocumented_success_status_is_a_failure(home) -> None:
    """DELETE /projects/{id}/errors/{id} is documented as 204: a 200 (or 202) is not taken for success."""
    from bugwarden.backends.bugsnag import BugsnagBackend
    from bugwarden.backends.errors import UnexpectedStatus

    async def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(202 if request.method == "DELETE" else 200, json={})

    backend = BugsnagBackend(make_settings(home), transport=httpx.MockTransport(answer))
    try:
        with pytest.raises(UnexpectedStatus, match="does not document"):
            await backend.delete_error(API_PROJECT, KEYERROR)
    finally:
        await backend.aclose()


async def test_a_listing_of_endless_distinct_pages_stops_at_the_page_and_request_caps() -> None:
    """5,000 pages of one item each: a listing follows at most LISTING_PAGES pages, and none once the call has
    made LISTING_REQUESTS requests; the call's caveat says what was left out."""
    from bugwarden.backends import http as upstream
    from bugwarden.backends.call_context import CallContext

    sent: list[str] = []

    async def pages(request: httpx.Request) -> httpx.Response:
        sent.append(str(request.url))
        n = int(request.url.params.get("page", "1"))
        link = f'<http://api.test/items?page={n + 1}>; rel="next"' if n < 5000 else ""
        return httpx.Response(200, json=[{"n": n}], headers={"Link": link, "X-Total-Count": "5000"})

    unbound = upstream.UpstreamClient("BugSnag", "http://api.test", headers={}, transport=httpx.MockTransport(pages))
    call = CallContext()
    client, caveats = unbound.bound(call), call.caveats
    try:
        found = await client.follow("/items", paging=client.link_paging, what="the item listing")
        assert len(sent) == upstream.LISTING_PAGES and len(found.items) == upstream.LISTING_PAGES
        assert found.stopped is not None and "20 pages" in found.stopped
        assert caveats and "may be incomplete" in caveats[0]
        sent.clear()
        found = await client.follow("/items", [("x", "1")], paging=client.link_paging, what="the item listing")
        assert len(sent) == upstream.LISTING_REQUESTS - upstream.LISTING_PAGES  # the call's requests ran out
        assert found.stopped is not None and "requests" in found.stopped
    finally:
        await client.aclose()


@pytest.mark.parametrize(
    ("tool", "args"),
    [
        ("get_event", {"project_id": API_PROJECT, "event_id": EVENT}),
        ("get_latest_event", {"project_id": API_PROJECT, "error_id": INTEGRITY}),
    ],
)
async def test_an_event_arrives_without_its_dashboard_link_when_the_project_list_fails(
    client: Client, sandbox: Starlette, tool: str, args: dict[str, str]
) -> None:
    """The link is an extra: the event's own data arrived, so the answer is the event, saying what it left out."""
    sandbox.state.control.faults.fail_path("/projects", 503)
    result = await client.call_tool(tool, args)
    assert not result.is_error, text_of(result)
    assert "Exception and stack trace" in text_of(result)
    assert "dashboard link is left out" in text_of(result)
