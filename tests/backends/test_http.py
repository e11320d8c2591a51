"""The upstream client: retries and backoff, 429 pacing, error mapping, cursors, cache and coalescing."""

from __future__ import annotations

import inspect

import anyio
import httpx
import pytest
from starlette.applications import Starlette

from bugwarden.backends import errors as E
from bugwarden.backends.base import ErrorChange, ErrorQuery
from bugwarden.backends.bugsnag import BugsnagBackend
from bugwarden.backends.http import RatePacer, UpstreamClient, error_for_status, parse_retry_after, safe_detail
from bugwarden.config import Retries, Timeouts
from tests.conftest import API_PROJECT, make_settings

pytestmark = pytest.mark.anyio

KEYERROR = "5348278ea871e61ce4046253"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def backend_for(sandbox: Starlette, home, **kw) -> tuple[BugsnagBackend, FakeClock]:  # type: ignore[no-untyped-def]
    clock = FakeClock()
    settings = make_settings(home, retries=Retries(attempts=3, backoff_base=0.5, backoff_max=4, retry_after_cap=30))
    b = BugsnagBackend(settings, transport=httpx.ASGITransport(app=sandbox), sleep=clock.sleep, clock=clock, **kw)
    return b, clock


async def test_5xx_is_retried_with_jittered_backoff_then_succeeds(sandbox: Starlette, home) -> None:
    b, clock = backend_for(sandbox, home)
    sandbox.state.control.faults.fail_next(2, 503)
    error = await b.get_error(API_PROJECT, KEYERROR)
    assert error.error_class == "KeyError"
    assert len(clock.slept) == 2 and 0.25 <= clock.slept[0] <= 0.5 and 0.5 <= clock.slept[1] <= 1.0
    assert [r.status for r in sandbox.state.control.log] == [503, 503, 200]


async def test_5xx_gives_up_after_the_retry_budget(sandbox: Starlette, home) -> None:
    b, _ = backend_for(sandbox, home)
    sandbox.state.control.faults.fail_next(10, 502)
    with pytest.raises(E.UpstreamServerError, match="having trouble"):
        await b.get_error(API_PROJECT, KEYERROR)
    assert len(sandbox.state.control.log) == 4


async def test_writes_are_not_retried_on_5xx(sandbox: Starlette, home) -> None:
    b, _ = backend_for(sandbox, home)
    sandbox.state.control.faults.fail_next(1, 500)
    with pytest.raises(E.UpstreamServerError):
        await b.update_error(API_PROJECT, KEYERROR, ErrorChange("fix"))
    assert len(sandbox.state.control.log) == 1


async def test_429_waits_for_retry_after_and_retries(sandbox: Starlette, home) -> None:
    b, clock = backend_for(sandbox, home)
    sandbox.state.control.faults.fail_next(1, 429, retry_after=7)
    await b.get_error(API_PROJECT, KEYERROR)
    assert clock.slept == [7.0]


async def test_429_retry_after_is_capped(sandbox: Starlette, home) -> None:
    b, clock = backend_for(sandbox, home)
    sandbox.state.control.faults.fail_next(1, 429, retry_after=600)
    await b.get_error(API_PROJECT, KEYERROR)
    assert clock.slept == [30.0]


async def test_real_rate_limit_paces_instead_of_failing(home) -> None:
    from bugwarden.sandbox.bugsnag_app import create_bugsnag_app
    from bugwarden.sandbox.faults import Control

    clock = FakeClock()
    sandbox = create_bugsnag_app(control=Control(rate_limit=5, clock=clock))
    b = BugsnagBackend(make_settings(home), transport=httpx.ASGITransport(app=sandbox), sleep=clock.sleep, clock=clock)
    for _ in range(12):
        await b.get_error(API_PROJECT, KEYERROR)
    statuses = [r.status for r in sandbox.state.control.log]
    assert statuses.count(429) == 0 and statuses.count(200) == 12
    assert sum(clock.slept) >= 60  # twelve requests at five a minute take over a minute of (fake) waiting


def test_pacer_spreads_requests_when_remaining_is_low() -> None:
    clock = FakeClock()
    pacer = RatePacer(clock=clock)
    assert pacer.delay() == 0
    pacer.observe(httpx.Headers({"X-RateLimit-Limit": "30", "X-RateLimit-Remaining": "20"}))
    assert pacer.delay() == 0
    pacer.observe(httpx.Headers({"X-RateLimit-Limit": "30", "X-RateLimit-Remaining": "1"}))
    assert pacer.delay() == 2.0
    pacer.note_sent()
    clock.now += 10
    pacer.observe(httpx.Headers({"x-ratelimit-limit": "30", "x-ratelimit-remaining": "0"}))
    assert pacer.delay() == 50.0


async def test_garbage_body_is_a_malformed_response(sandbox: Starlette, home) -> None:
    b, _ = backend_for(sandbox, home)
    sandbox.state.control.faults.garbage_next(1)
    with pytest.raises(E.MalformedResponse, match="could not read"):
        await b.get_project(API_PROJECT)


async def test_hanging_upstream_times_out(sandbox: Starlette, home) -> None:
    settings = make_settings(
        home, timeouts=Timeouts(connect=0.2, read=0.2, call_deadline=0.5), retries=Retries(attempts=0)
    )
    b = BugsnagBackend(settings, transport=httpx.ASGITransport(app=sandbox))
    sandbox.state.control.faults.hang_next(1)
    with anyio.fail_after(5):
        with pytest.raises(E.UpstreamTimeout):
            await b.get_project(API_PROJECT)


async def test_bad_token_is_unauthorized(sandbox: Starlette, home) -> None:
    b = BugsnagBackend(make_settings(home, "wrong-token"), transport=httpx.ASGITransport(app=sandbox))
    with pytest.raises(E.Unauthorized, match="rejected the configured credential"):
        await b.list_organizations()


async def test_hostile_ids_never_reach_the_upstream(sandbox: Starlette, home) -> None:
    b, _ = backend_for(sandbox, home)
    hostile = ["../admin", "..", ".", "a/b", "x?y=1", "x#frag", "%2e%2e", "a%2Fb", "a b", "a\nb", "", "é"]
    for value in hostile:
        with pytest.raises(E.InvalidArgument):
            await b.get_error(API_PROJECT, value)
        with pytest.raises(E.InvalidArgument):
            await b.get_error(value, KEYERROR)
        with pytest.raises(E.InvalidArgument):
            await b.list_pivot_values(API_PROJECT, value)
    assert sandbox.state.control.log == []


async def test_cursors_are_opaque_and_tamper_proof(sandbox: Starlette, home) -> None:
    b, _ = backend_for(sandbox, home)
    page = await b.list_errors(API_PROJECT, ErrorQuery(limit=2))
    assert page.next_cursor and "http" not in page.next_cursor and "sandbox.test" not in page.next_cursor
    for bad in (page.next_cursor[:-2] + "AA", "aHR0cDovL2V2aWwuZXhhbXBsZS8", "not a cursor"):
        with pytest.raises(E.InvalidArgument, match="cursor"):
            await b.list_errors(API_PROJECT, ErrorQuery(limit=2), cursor=bad)
    other, _ = backend_for(sandbox, home)
    other.http._cursors = type(b.http._cursors)("another-token-scope")
    with pytest.raises(E.InvalidArgument):
        await other.list_errors(API_PROJECT, ErrorQuery(limit=2), cursor=page.next_cursor)


async def test_next_links_to_other_origins_are_not_followed(home) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, json=[{"id": "a"}], headers={"Link": '<https://evil.example/x?offset=1>; rel="next"'}
        )

    client = UpstreamClient("bugsnag", "http://sandbox.test", headers={}, transport=httpx.MockTransport(handler))
    page = await client.get_page("/projects/p/errors")
    assert page.next_cursor is None


async def test_link_header_with_commas_in_the_url_is_parsed(home) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        link = '<http://sandbox.test/projects/p/errors?filters%5Bsearch%5D%5B%5D%5Bvalue%5D=a,b&offset=2>; rel="next"'
        return httpx.Response(200, json=[], headers={"Link": link})

    client = UpstreamClient("bugsnag", "http://sandbox.test", headers={}, transport=httpx.MockTransport(handler))
    page = await client.get_page("/projects/p/errors")
    assert page.next_cursor is not None
    assert client._cursors.decode(page.next_cursor).endswith("=a,b&offset=2")


async def test_concurrent_identical_gets_share_one_request(sandbox: Starlette, home) -> None:
    b, _ = backend_for(sandbox, home)
    sandbox.state.control.faults.latency = 0.05
    results = []

    async def call() -> None:
        results.append(await b.get_error(API_PROJECT, KEYERROR))

    async with anyio.create_task_group() as tg:
        for _ in range(8):
            tg.start_soon(call)
    assert len(results) == 8 and len(sandbox.state.control.log) == 1


async def test_stable_resources_are_cached_until_a_write(sandbox: Starlette, home) -> None:
    b, _ = backend_for(sandbox, home)
    for _ in range(3):
        await b.get_project(API_PROJECT)
        await b.list_event_fields(API_PROJECT)
    assert len(sandbox.state.control.log) == 2
    await b.update_project(API_PROJECT, {"name": "Renamed"})
    assert (await b.get_project(API_PROJECT)).name == "Renamed"


async def test_cache_entries_expire(sandbox: Starlette, home) -> None:
    b, clock = backend_for(sandbox, home)
    await b.get_project(API_PROJECT)
    clock.now += 301
    await b.get_project(API_PROJECT)
    assert len(sandbox.state.control.log) == 2


def test_status_mapping() -> None:
    where = dict(backend="bugsnag", method="GET", path="/x")
    assert isinstance(error_for_status(401, **where), E.Unauthorized)
    assert "billing" in str(error_for_status(403, code=30000, **where))
    assert "seats" in str(error_for_status(402, code=32000, **where))
    assert isinstance(error_for_status(403, code=40000, **where), E.Forbidden)
    assert "40000" in str(error_for_status(403, code=40000, **where))
    assert isinstance(error_for_status(404, not_found="error 'x' not found", **where), E.NotFound)
    assert isinstance(error_for_status(422, code=60000, **where), E.ResultsCapped)
    assert isinstance(error_for_status(400, detail="Buckets count must be between 1 and 50", **where), E.InvalidRequest)
    limited = error_for_status(429, retry_after=12, **where)
    assert isinstance(limited, E.RateLimited) and limited.retry_after == 12 and "12s" in str(limited)
    assert isinstance(error_for_status(501, **where), E.NotImplementedUpstream)
    assert isinstance(error_for_status(503, **where), E.UpstreamServerError)


def test_upstream_details_are_reduced_to_plain_words() -> None:
    assert safe_detail("Bad <script>alert(1)</script>\n\x1b[31mred") == "Bad <script>alert(1)< script> [31mred"
    assert safe_detail("x" * 500) is not None and len(safe_detail("x" * 500) or "") == 161
    assert parse_retry_after("12") == 12.0 and parse_retry_after("soon") is None


def test_every_httpx_exception_is_mapped() -> None:
    classes = [
        c
        for _, c in inspect.getmembers(httpx, inspect.isclass)
        if issubclass(c, Exception) and c.__module__.startswith("httpx") and c is not httpx.HTTPStatusError
    ]
    request = httpx.Request("GET", "http://x")
    unmapped = []
    for cls in classes:
        try:
            exc = cls("boom", request=request) if "request" in inspect.signature(cls).parameters else cls("boom")
        except TypeError:
            continue
        try:
            with E.map_transport_errors("bugsnag", "GET", "/x"):
                raise exc
        except E.TransportError:
            continue
        except Exception:
            unmapped.append(cls.__name__)
    assert unmapped in ([], ["HTTPError", "RequestError", "TransportError"]) or set(unmapped) <= {
        "HTTPError",
        "RequestError",
        "TransportError",
        "CookieConflict",
        "ResponseNotRead",
        "RequestNotRead",
        "StreamConsumed",
        "StreamClosed",
        "InvalidURL",
    }
