"""The shared upstream client: timeouts, retries, the quota, TTL cache, coalescing, bounded bodies, error mapping.

One `UpstreamClient` serves one backend with one credential, so its cache is per token by
construction. It knows HTTP and JSON, not any vendor: adapters hand it checked paths (see
`paths.py`), a `Paging` strategy for lists, and a `classify` function that turns a failing response
into the most specific error. It is the only code that talks HTTP to an upstream.

    client = UpstreamClient("BugSnag", "https://api.bugsnag.com", headers={...}, classify=...)
    body, response = await client.get_json("/projects/abc/errors", params=[("per_page", "30")])
    page = await client.get_page("/projects/abc/errors", params, paging=LinkPaging())
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import math
import random
import re
import time
import zlib
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit

import anyio
import anyio.to_thread
import httpx

from ..config import (
    DEFAULT_CACHING,
    DEFAULT_LIMITS,
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUTS,
    Caching,
    Limits,
    Retries,
    Settings,
    Timeouts,
)
from ..version import __version__
from .cache import ResponseCache
from .call_context import CallContext, Deadline
from .errors import (
    AnswerCutShort,
    BackendError,
    Forbidden,
    InvalidArgument,
    InvalidRequest,
    MalformedResponse,
    NotFound,
    NotImplementedUpstream,
    QuotaUnavailable,
    RateLimited,
    ResponseTooLarge,
    TransportError,
    Unauthorized,
    UnexpectedStatus,
    UpstreamError,
    UpstreamServerError,
    UpstreamTimeout,
    failure_words,
    map_transport_errors,
)
from .quota import MemoryQuota, QuotaLedger

log = logging.getLogger("bugwarden.upstream")

Params = Sequence[tuple[str, str]]
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "DELETE", "PUT"})
PROGRESS_EVERY = 2.0
_SIZE = "bugwarden.size"  # where a response carries the size of the body we read
_LINK = re.compile(r"<([^>]*)>((?:\s*;\s*[^;,]+)*)")
MAX_TOTAL = 100_000_000
"""The largest item count a listing's total may claim; a larger one is a lie and is not shown."""
LISTING_PAGES = 20
"""The most pages one listing follows in one call."""
LISTING_REQUESTS = 24
"""The most upstream requests one call may have spent when a listing asks for one more page (BugSnag allows a
token about 30 a minute): a listing stops there and says what it left out."""
EMPTY_PAGES = 2
"""Consecutive empty pages that still name a next page after which a listing stops (an endless empty listing)."""


# -- paging strategies -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UpstreamPage:
    items: list[Any]
    next: str | None
    """The next page's relative URL (path and query under the base URL), or None on the last page."""
    total: int | None


class Paging(Protocol):
    def page(self, body: Any, response: httpx.Response, request_path: str, params: Params) -> UpstreamPage | None:
        """The page in a response, or None when the body is not the promised shape."""
        ...


@dataclass(frozen=True, slots=True)
class LinkPaging:
    """A JSON array body; the next page is the `Link: <...>; rel="next"` URL, followed verbatim (same origin and
    base path only); the total is `X-Total-Count`."""

    origin: tuple[str, str]
    base_path: str

    def page(self, body: Any, response: httpx.Response, request_path: str, params: Params) -> UpstreamPage | None:
        if not isinstance(body, list):
            return None
        total = plausible_total(_int_header(response.headers.get("x-total-count")), len(body))
        return UpstreamPage(body, self._next(response), total)

    def _next(self, response: httpx.Response) -> str | None:
        header = ", ".join(response.headers.get_list("link"))
        for match in _LINK.finditer(header):
            if not re.search(r'(?:^|;)\s*rel\s*=\s*"?next"?\s*(?:;|$)', match.group(2)):
                continue
            split = urlsplit(match.group(1).strip())
            if (split.scheme, split.netloc) != self.origin or not split.path.startswith(self.base_path + "/"):
                log.warning("an upstream sent a next link outside the configured API origin; ignoring it")
                return None
            return split.path + ("?" + split.query if split.query else "")
        return None


@dataclass(frozen=True, slots=True)
class BodyCursorPaging:
    """A JSON object body with the items under `items_key`, the next page's cursor under `cursor_key` (sent back
    as the `cursor_param` query parameter) and an optional `total`."""

    base_path: str
    items_key: str = "items"
    cursor_key: str = "next_cursor"
    cursor_param: str = "cursor"

    def page(self, body: Any, response: httpx.Response, request_path: str, params: Params) -> UpstreamPage | None:
        if not isinstance(body, dict) or not isinstance(body.get(self.items_key), list):
            return None
        raw_total = body.get("total")
        total = plausible_total(raw_total if isinstance(raw_total, int) else None, len(body[self.items_key]))
        upstream_next = body.get(self.cursor_key)
        next_rel = None
        if isinstance(upstream_next, str) and upstream_next:
            query = [(k, v) for k, v in params if k != self.cursor_param] + [(self.cursor_param, upstream_next)]
            next_rel = self.base_path + request_path + "?" + urlencode(query)
        return UpstreamPage(body[self.items_key], next_rel, total)


def plausible_total(total: int | None, on_page: int) -> int | None:
    """A listing's claimed total, or None when it cannot be true (fewer than this page holds, or absurdly many)."""
    if total is None or isinstance(total, bool) or total < on_page or total > MAX_TOTAL:
        return None
    return total


@dataclass(frozen=True, slots=True)
class Followed:
    """A listing followed page by page: its items, and why it stopped early (None when it reached the end)."""

    items: list[Any]
    stopped: str | None


# -- the client --------------------------------------------------------------------------------------


class _Flight:
    """One in-flight GET that concurrent identical callers share."""

    def __init__(self) -> None:
        self.done = anyio.Event()
        self.result: tuple[Any, httpx.Response] | None = None
        self.error: BaseException | None = None


class _Pool:
    """The connection pool, shared by a client and every view of it bound to a call."""

    def __init__(self) -> None:
        self._http: httpx.AsyncClient | None = None

    def client(self, args: dict[str, Any]) -> httpx.AsyncClient:
        if self._http is None or self._http.is_closed:
            self._http = httpx.AsyncClient(**args)
        return self._http

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None


Classify = Callable[[int, Any, httpx.Headers, dict[str, Any]], UpstreamError]
"""(status, parsed body or None, headers, where) -> the error to raise; `where` holds backend, method, path."""


class UpstreamClient:
    """HTTP access to one upstream for one credential.

    Parameters:
    - `label`: how errors and logs name the upstream (`"BugSnag"`).
    - `base_url`: from configuration only; next-page URLs are followed only under it.
    - `headers`: sent on every request (credential included; never logged).
    - `timeouts`, `retries`, `caching`, `limits`: the value objects of `config` (defaults: their `DEFAULT_*`).
    - `classify`: maps a failing response to an error (default: `error_for_status`).
    - `quota`, `quota_key`: the ledger shared by everything using this credential, and the credential's key in it.
    - `transport`, `sleep`, `clock`, `wall_clock`, `rng`: seams for tests (no real sockets, no real sleeping, no
      real time; `wall_clock` is the time the quota ledger records, which processes compare).
    """

    def __init__(
        self,
        label: str,
        base_url: str,
        *,
        headers: dict[str, str],
        timeouts: Timeouts = DEFAULT_TIMEOUTS,
        retries: Retries = DEFAULT_RETRIES,
        caching: Caching = DEFAULT_CACHING,
        limits: Limits = DEFAULT_LIMITS,
        classify: Classify | None = None,
        quota: QuotaLedger | None = None,
        quota_key: str = "",
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.label = label
        self.base_url = base_url.rstrip("/")
        split = urlsplit(self.base_url)
        self.origin = (split.scheme, split.netloc)
        self.base_path = split.path.rstrip("/")
        self.timeouts = timeouts
        self.retries = retries
        self.caching = caching
        self.limits = limits
        self._classify = classify or (lambda status, body, headers, where: error_for_status(status, **where))
        self.quota = quota or MemoryQuota()
        self._quota_key = quota_key
        self._client_args: dict[str, Any] = dict(
            headers={
                "Accept": "application/json",
                "Accept-Encoding": "gzip, deflate",
                "User-Agent": f"bugwarden/{__version__}",
                **headers,
            },
            timeout=httpx.Timeout(timeouts.read, connect=timeouts.connect),
            transport=transport,
            follow_redirects=False,
        )
        self._pool = _Pool()  # shared by every bound view; its client is built on first use (TLS setup: ~60 ms)
        self.context = CallContext.detached()
        """The call this client's requests are made for (see `bound`); detached outside any call."""
        self._sleep = sleep
        self._clock = clock
        self._wall = wall_clock
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not security
        self._cache = ResponseCache(clock, stale_for=caching.stale_for)
        self._flights: dict[str, _Flight] = {}

    def rate_limit(self) -> tuple[int | None, int | None]:
        """The upstream's last word on this credential's rate limit: (limit, remaining)."""
        return self.quota.last_word(self._quota_key)

    @property
    def link_paging(self) -> LinkPaging:
        return LinkPaging(self.origin, self.base_path)

    def body_paging(self, **kw: str) -> BodyCursorPaging:
        return BodyCursorPaging(self.base_path, **kw)

    def bound(self, context: CallContext) -> UpstreamClient:
        """This client, making its requests for one call: charged to its budget, within its deadline, heard by
        its listener and recorded in it. The view shares everything else (connections, cache, quota, flights)."""
        view = copy.copy(self)
        view.context = context
        return view

    async def aclose(self) -> None:
        """Close connections; a later request opens a fresh pool (one server may serve several sessions)."""
        await self._pool.aclose()

    # -- public API -------------------------------------------------------------------------------

    async def get_json(
        self, path: str, params: Params = (), *, cache: bool = False, not_found: str | None = None
    ) -> tuple[Any, httpx.Response]:
        """GET `path` and return `(parsed JSON or None for 204, response)`.

        Identical concurrent GETs share one request. The answer is kept for `caching.ttl` seconds with
        `cache=True` (stable resources), else for `caching.fresh` seconds; a write invalidates what it changes.
        """
        key = self._key(path, params)
        if (hit := self._cache.fresh(key)) is not None:
            return hit.body, hit.response
        while (flight := self._flights.get(key)) is not None:
            await flight.done.wait()
            if flight.error is None:
                assert flight.result is not None
                return flight.result
            if isinstance(flight.error, BackendError):
                raise flight.error
            # The first caller was stopped by something of its own (its token's budget, a cancellation), not by
            # the upstream: this caller asks for itself.
        flight = self._flights[key] = _Flight()
        try:
            try:
                result = await self.request("GET", path, params, not_found=not_found)
            except (RateLimited, UpstreamServerError, TransportError) as exc:
                if (old := self._cache.stale(key)) is None:
                    raise
                age = max(0, round(self._clock() - old.stored_at))
                log.warning("%s %s; serving a cached answer %ds old for %s", self.label, failure_words(exc), age, path)
                await self.context.notice(
                    "warning", f"{self.label} {failure_words(exc)}: serving a cached answer {age}s old instead"
                )
                result = (old.body, old.response)
                flight.result = result
                return result
            flight.result = result
            self._cache.put(
                key,
                *result,
                ttl=self.caching.ttl if cache else self.caching.fresh,
                size=int(result[1].extensions.get(_SIZE, 0)),
                keep_stale=cache,
            )
            return result
        except BaseException as exc:
            flight.error = exc
            raise
        finally:
            del self._flights[key]
            flight.done.set()

    async def get_page(
        self,
        path: str,
        params: Params = (),
        *,
        paging: Paging,
        page: str | None = None,
        not_found: str | None = None,
        cache: bool = False,
    ) -> UpstreamPage:
        """GET one page of `path`. With `page` (a position from an earlier page of the same path), that page."""
        if page is not None:
            split = urlsplit(page)
            if split.scheme or split.netloc or split.path != self.base_path + path:
                raise InvalidArgument("this cursor belongs to another listing: start again without a cursor")
            body, response = await self.request("GET", path, (), not_found=not_found, raw_query=split.query)
            params = parse_qsl(split.query, keep_blank_values=True)
        else:
            body, response = await self.get_json(path, params, not_found=not_found, cache=cache)
        found = paging.page(body, response, path, params)
        if found is None:
            raise self._malformed("GET", path)
        return found

    async def follow(
        self,
        path: str,
        params: Params = (),
        *,
        paging: Paging,
        what: str,
        max_items: int = 1000,
        max_pages: int = LISTING_PAGES,
        not_found: str | None = None,
        cache: bool = False,
    ) -> Followed:
        """Every page of a listing, within caps: at most `max_pages` pages and `max_items` items, and no new page
        once the call has spent `LISTING_REQUESTS` upstream requests. It stops at a next link it has already
        followed, at a page that repeats an earlier one, and after `EMPTY_PAGES` empty pages that still promise
        more. When it stops early it says so as a caveat of the call (`what` names the listing: "the project
        listing of organization X") and in `Followed.stopped`."""
        found = await self.get_page(path, params, paging=paging, not_found=not_found, cache=cache)
        items: list[Any] = list(found.items)
        followed: set[str] = set()
        pages_seen = {_page_key(found.items)}
        pages, empty = 1, 0
        stopped: str | None = None
        while found.next and stopped is None:
            spent = self.context.requests_made()
            if found.next in followed:
                stopped = f"{self.label} sent a next link it had already sent (a loop)"
            elif len(items) >= max_items:
                stopped = f"it reached {max_items} items"
            elif pages >= max_pages:
                stopped = f"it reached {max_pages} pages and {self.label} still offered more"
            elif spent >= LISTING_REQUESTS:
                stopped = f"this call had made {spent} requests to {self.label}"
            else:
                followed.add(found.next)
                found = await self.get_page(path, paging=paging, page=found.next, not_found=not_found)
                pages += 1
                key = _page_key(found.items)
                empty = empty + 1 if not found.items else 0
                if found.items and key in pages_seen:
                    stopped = f"{self.label} repeated a page it had already sent"
                    break
                pages_seen.add(key)
                items.extend(found.items)
                if empty >= EMPTY_PAGES and found.next:
                    stopped = f"{self.label} sent {empty} empty pages in a row that still promised more"
        if stopped is not None:
            words = f"{what} stopped after {pages} page{'s' * (pages != 1)} because {stopped}: it may be incomplete"
            log.warning("%s %s", self.label, words)
            self.context.caveat(words[0].upper() + words[1:] + ".")
            await self.context.notice("warning", words)
        return Followed(items[:max_items], stopped)

    async def send(
        self,
        method: str,
        path: str,
        params: Params = (),
        *,
        json_body: Any = None,
        not_found: str | None = None,
        invalidate: Sequence[str] = (),
        expect: Collection[int] | None = None,
    ) -> tuple[Any, httpx.Response]:
        """A write. Succeeds only on a 2xx status (of `expect` when given: the statuses the API documents for this
        write); a redirect or any other status is a failure (`UnexpectedStatus`), never success, and is never
        followed. Retried only when no response came back for an idempotent method (or on 429); drops cache
        entries whose path starts with any of `invalidate` (and the written path itself)."""
        try:
            body, response = await self.request(method, path, params, json_body=json_body, not_found=not_found)
        finally:
            self.invalidate(path, *invalidate)
        if expect is not None and response.status_code not in expect:
            raise UnexpectedStatus(
                f"{self.label} answered {method} with status {response.status_code}, which its API does not "
                "document for this change, so nothing confirms it was made: check before retrying",
                backend=self.label,
                method=method,
                path=path,
                status=response.status_code,
            )
        return body, response

    def invalidate(self, *prefixes: str) -> None:
        """Forget cached answers (fresh or stale) whose path starts with one of `prefixes`."""
        self._cache.drop(*prefixes)

    # -- the request loop -------------------------------------------------------------------------

    def _deadline(self) -> Deadline:
        return self.context.deadline or Deadline(self._clock() + self.timeouts.call_deadline, self._clock)

    async def request(
        self,
        method: str,
        path: str,
        params: Params = (),
        *,
        json_body: Any = None,
        not_found: str | None = None,
        raw_query: str | None = None,
    ) -> tuple[Any, httpx.Response]:
        """Send one logical request within the quota, with retries; return `(parsed body, response)` or raise."""
        url = self.base_url + path
        deadline = self._deadline()
        idempotent = method in IDEMPOTENT
        attempt = 0
        while True:
            await self.context.spend()  # the calling token's budget counts every upstream request, retries included
            await self._admit(method, path, deadline)
            try:
                response, content = await self._send_once(method, url, path, params, json_body, raw_query, deadline)
                body = self._parse(method, path, response, content)
                if 300 <= response.status_code < 400:
                    raise self._redirected(method, path, response.status_code)
                if not 200 <= response.status_code < 300:
                    where: dict[str, Any] = {"backend": self.label, "method": method, "path": path}
                    error = self._classify(response.status_code, body, response.headers, where)
                    if isinstance(error, NotFound) and not_found:
                        error = NotFound(not_found, **where, status=404)
                    raise error
                return body, response
            except BackendError as exc:
                wait_for = self._retry_wait(exc, attempt, idempotent)
                if wait_for is None:
                    raise
                if wait_for >= deadline.remaining():
                    if isinstance(exc, RateLimited):
                        raise await self._spent(method, path, wait_for) from None
                    raise
                log.info(
                    "%s %s %s failed (%s); retry %d in %.2fs",
                    self.label,
                    method,
                    path,
                    type(exc).__name__,
                    attempt + 1,
                    wait_for,
                )
                attempt += 1
                await self.context.notice(
                    "info" if isinstance(exc, RateLimited) else "warning",
                    f"{self.label} {failure_words(exc)}; retry {attempt} of {self.retries.attempts} in {wait_for:.1f}s",
                )
                reason = f"{self.label}'s rate limit (Retry-After)" if isinstance(exc, RateLimited) else "a retry"
                await self.context.wait(wait_for, reason, self._sleep, PROGRESS_EVERY)

    async def _admit(self, method: str, path: str, deadline: Deadline) -> None:
        """Wait for the quota when the wait fits this call's deadline; otherwise fail at once with the retry time."""
        while True:
            wait_for = await self._ledger(method, path)
            if wait_for <= 0:
                return
            if wait_for + 0.5 >= deadline.remaining():
                raise await self._spent(method, path, wait_for)
            log.info("%s rate limit reached; waiting %.1fs for quota", self.label, wait_for)
            await self.context.notice("info", f"{self.label}'s rate limit reached: waiting {wait_for:.0f}s for quota")
            await self.context.wait(wait_for, f"{self.label}'s rate limit", self._sleep, PROGRESS_EVERY)

    async def _ledger(self, method: str, path: str) -> float:
        """Reserve one request in the quota ledger: the wait before it may go (0: now)."""
        try:
            return await self.quota.acquire(self._quota_key, self._wall())
        except Exception:
            log.exception("the quota ledger failed")
            raise QuotaUnavailable(
                f"bugwarden could not consult its shared quota ledger for {self.label}, so it sent nothing; an "
                "operator must check the bugwarden state store",
                backend=self.label,
                method=method,
                path=path,
            ) from None

    async def _tell_ledger(self, response: httpx.Response) -> None:
        """What the response said about the quota; a ledger that cannot take it loses one observation, no more."""
        try:
            await self.quota.record(
                self._quota_key,
                self._wall(),
                limit=_int_header(response.headers.get("x-ratelimit-limit")),
                remaining=_int_header(response.headers.get("x-ratelimit-remaining"), signed=True),
                retry_after=parse_retry_after(response.headers.get("retry-after"))
                if response.status_code == 429
                else None,
            )
        except Exception:
            log.warning("the quota ledger could not record a response", exc_info=True)

    async def _spent(self, method: str, path: str, wait_for: float) -> RateLimited:
        seconds = max(1, math.ceil(wait_for))
        await self.context.notice(
            "warning", f"{self.label}'s rate limit is used up; the call fails now rather than wait {seconds}s"
        )
        return RateLimited(
            f"{self.label}'s rate limit for this account is used up for now: retry in {seconds}s. Results already "
            "fetched (project lists, event fields) are still served from the cache meanwhile.",
            retry_after=float(seconds),
            backend=self.label,
            method=method,
            path=path,
            status=429,
        )

    async def _send_once(
        self,
        method: str,
        url: str,
        path: str,
        params: Params,
        json_body: Any,
        raw_query: str | None,
        deadline: Deadline,
    ) -> tuple[httpx.Response, bytes]:
        remaining = deadline.remaining()
        where: dict[str, Any] = {"backend": self.label, "method": method, "path": path}
        if remaining <= 0:
            raise UpstreamTimeout(
                f"{self.label} did not answer within this call's time budget; try again shortly", **where
            )
        if raw_query is not None:
            url = url + ("?" + raw_query if raw_query else "")
        elif params:
            url = url + "?" + encode_query(params)
        client = self._pool.client(self._client_args)
        try:
            with map_transport_errors(self.label, method, path), anyio.fail_after(remaining):
                async with client.stream(method, url, json=json_body) as response:
                    content = await self._read_body(method, response, where)
        except TimeoutError:
            raise UpstreamTimeout(
                f"{self.label} did not answer within this call's time budget; try again shortly", **where
            ) from None
        await self._tell_ledger(response)
        self.context.seen(response.status_code)
        response.extensions[_SIZE] = len(content)
        return response, content

    async def _read_body(self, method: str, response: httpx.Response, where: dict[str, Any]) -> bytes:
        """The body; a connection that breaks off after the answer began is said as such, not as unreachable."""
        try:
            return await self._read_bounded(response, where)
        except httpx.TimeoutException:
            raise
        except (httpx.NetworkError, httpx.ProtocolError) as exc:
            unknown = "" if method in ("GET", "HEAD") else ", so whether the change was made is unknown"
            raise AnswerCutShort(
                f"{self.label} began answering (status {response.status_code}) but its answer was cut short"
                f"{unknown}; try again shortly",
                **where,
                status=response.status_code,
            ) from exc

    async def _read_bounded(self, response: httpx.Response, where: dict[str, Any]) -> bytes:
        """The body, decompressed, refusing more than `limits.max_response_bytes` (compressed or not)."""
        limit = self.limits.max_response_bytes
        declared = _int_header(response.headers.get("content-length"))
        if declared is not None and declared > limit:
            raise self._too_large(where)
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        if encoding in ("gzip", "x-gzip"):
            inflater: Any = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            inflater = zlib.decompressobj()
        elif encoding in ("identity", ""):
            inflater = None
        else:
            raise MalformedResponse(
                f"{self.label} answered with an encoding bugwarden cannot read ({encoding[:20]!r})", **where
            )
        if response.is_stream_consumed:  # an in-memory response (httpx.MockTransport): already read and decoded
            if len(response.content) > limit:
                raise self._too_large(where)
            return response.content
        out = bytearray()
        received = 0
        try:
            async for chunk in response.aiter_raw():
                received += len(chunk)
                if received > limit:
                    raise self._too_large(where)
                if inflater is None:
                    out += chunk
                else:
                    data = chunk
                    while data:
                        out += inflater.decompress(data, limit + 1 - len(out))
                        if len(out) > limit:
                            raise self._too_large(where)
                        data = inflater.unconsumed_tail
            if inflater is not None:
                out += inflater.flush()
        except zlib.error:
            raise MalformedResponse(f"{self.label} sent a body that does not decompress", **where) from None
        if len(out) > limit:
            raise self._too_large(where)
        return bytes(out)

    def _too_large(self, where: dict[str, Any]) -> ResponseTooLarge:
        mib = self.limits.max_response_bytes / (1024 * 1024)
        return ResponseTooLarge(
            f"{self.label} sent a response larger than bugwarden accepts ({mib:g} MiB): ask for less (a smaller "
            "limit, or one event instead of full reports)",
            **where,
        )

    def _retry_wait(self, exc: BackendError, attempt: int, idempotent: bool) -> float | None:
        if attempt >= self.retries.attempts:
            return None
        if isinstance(exc, RateLimited):
            # A 429 means the request was not processed, so even writes may be repeated.
            if exc.retry_after is not None:
                return exc.retry_after
            return self._backoff(attempt)
        if not idempotent or not exc.retryable:
            return None
        return self._backoff(attempt)

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.retries.backoff_max, self.retries.backoff_base * (2**attempt))
        return self._rng.uniform(ceiling / 2, ceiling)

    # -- parsing ----------------------------------------------------------------------------------

    def _redirected(self, method: str, path: str, status: int) -> UnexpectedStatus:
        """A redirect is never followed (it would carry the credential elsewhere) and never read as an answer."""
        where: dict[str, Any] = {"backend": self.label, "method": method, "path": path, "status": status}
        if method in ("GET", "HEAD"):
            return UnexpectedStatus(
                f"{self.label} answered with a redirect ({status}) instead of the data; bugwarden follows no "
                "redirects: check that the API URL points at the API itself",
                **where,
            )
        return UnexpectedStatus(
            f"{self.label} answered this change with a redirect ({status}) instead of its result, so nothing "
            "confirms the change was made (bugwarden follows no redirects): check it before retrying",
            **where,
        )

    def _parse(self, method: str, path: str, response: httpx.Response, content: bytes) -> Any:
        if response.status_code == 204 or not content:
            return None
        try:
            return json.loads(content)
        except (ValueError, UnicodeDecodeError, RecursionError):
            if not 200 <= response.status_code < 300:
                return None
            raise self._malformed(method, path, response.status_code) from None

    def _malformed(self, method: str, path: str, status: int | None = None) -> MalformedResponse:
        return MalformedResponse(
            f"{self.label} returned a response bugwarden could not read; try again, and if it persists "
            "check the API URL points at the real API",
            backend=self.label,
            method=method,
            path=path,
            status=status,
        )

    @staticmethod
    def _key(path: str, params: Params) -> str:
        return path + "?" + "&".join(f"{k}={v}" for k, v in params)


def encode_query(params: Params) -> str:
    """The query string with every pair in the order given. httpx's own `params=` groups repeated keys (all
    `filters[f][][type]` before all `filters[f][][value]`), which BugSnag pairs positionally: a wrong filter."""
    return urlencode(list(params))


def configured_client(
    name: str,
    label: str,
    settings: Settings,
    base_url: str,
    token: str,
    headers: dict[str, str],
    *,
    classify: Classify,
    quota: QuotaLedger | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    **client_kw: Any,
) -> UpstreamClient:
    """The client an adapter talks through: `settings`' timeouts, retries, caching and limits, `headers` (the
    credential), and the quota ledger under a key naming the backend, its base URL and its credential (hashed:
    processes sharing a token share its quota, and the token never reaches the store)."""
    key = hashlib.sha256(f"{base_url}|{token}".encode()).hexdigest()[:32]
    return UpstreamClient(
        label,
        base_url,
        headers=headers,
        timeouts=settings.timeouts,
        retries=settings.retries,
        caching=settings.caching,
        limits=settings.limits,
        classify=classify,
        quota=quota,
        quota_key=f"{name}:{key}",
        transport=transport,
        **client_kw,
    )


def error_for_status(
    status: int,
    *,
    backend: str,
    method: str,
    path: str,
    code: int | None = None,
    detail: str | None = None,
    retry_after: float | None = None,
) -> UpstreamError:
    """Map one failing status to the most specific error class. `backend` is the upstream's label; `detail` is
    the upstream's own message as it sent it: kept as the error's `quote`, for render to show fenced."""
    detail = detail if isinstance(detail, str) and detail.strip() else None
    where: dict[str, Any] = dict(backend=backend, method=method, path=path, status=status, code=code)
    where |= {"quote": detail, "quote_source": "upstream.error"}
    said = "; its message follows" if detail else ""
    if status == 401:
        return Unauthorized(
            f"{backend} rejected the configured credential (401): check that the token bugwarden runs with "
            "is valid and not revoked",
            **where,
        )
    if status == 403:
        return Forbidden(f"{backend} refused this action for the configured credential (403){said}", **where)
    if status == 404:
        return NotFound(f"not found on {backend}, or not visible to this token", **where)
    if status in (400, 409, 422):
        return InvalidRequest(f"{backend} rejected the request ({status}){said}", **where)
    if status == 429:
        wait = f" in about {retry_after:.0f}s" if retry_after is not None else " in a minute"
        return RateLimited(f"{backend}'s rate limit was reached: try again{wait}", retry_after=retry_after, **where)
    if status == 501:
        return NotImplementedUpstream(f"{backend} does not implement this route yet (501)", **where)
    if status >= 500:
        return UpstreamServerError(f"{backend} is having trouble ({status}); try again shortly", **where)
    return UnexpectedStatus(f"{backend} answered with unexpected status {status}", **where)


def _page_key(items: list[Any]) -> str:
    """What identifies a page's content, to notice a page sent twice."""
    return hashlib.sha256(json.dumps(items, sort_keys=True, default=str).encode()).hexdigest()


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP-date); None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.replace(".", "", 1).isdigit():
        return min(float(value), 3600.0)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return min(3600.0, max(0.0, when.timestamp() - time.time()))


def _int_header(value: str | None, *, signed: bool = False) -> int | None:
    if not value:
        return None
    value = value.strip()
    digits = value[1:] if signed and value.startswith("-") else value
    return int(value) if digits.isdigit() and len(digits) < 16 else None
