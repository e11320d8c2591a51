"""The shared upstream client: timeouts, retries, 429 pacing, TTL cache, coalescing, cursors, error mapping.

One `UpstreamClient` serves one backend with one credential, so its cache and its cursors are
per token by construction. Backends hand it checked paths (see `paths.py`) and query pairs;
it is the only code that talks HTTP to an upstream.

    client = UpstreamClient("bugsnag", "https://api.bugsnag.com", headers={...}, settings=...)
    body, response = await client.get_json("/projects/abc/errors", params=[("per_page", "30")])
    page = await client.get_page("/projects/abc/errors", params, cursor=None)
"""

from __future__ import annotations

import contextvars
import json
import logging
import random
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

import anyio
import httpx

from .. import __version__
from ..config import DEFAULT_CACHING, DEFAULT_RETRIES, DEFAULT_TIMEOUTS, Caching, Retries, Settings, Timeouts
from .cursors import CursorCodec
from .errors import (
    AccountRestricted,
    BackendError,
    Forbidden,
    InvalidRequest,
    MalformedResponse,
    NotFound,
    NotImplementedUpstream,
    RateLimited,
    ResultsCapped,
    Unauthorized,
    UpstreamError,
    UpstreamServerError,
    UpstreamTimeout,
    map_transport_errors,
)

log = logging.getLogger("bugwarden.upstream")

Params = Sequence[tuple[str, str]]
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "DELETE", "PUT"})

_LINK = re.compile(r"<([^>]*)>((?:\s*;\s*[^;,]+)*)")
_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("bugwarden_deadline", default=None)


_statuses: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar("bugwarden_statuses", default=None)


def record_statuses() -> list[int]:
    """Collect the status of every upstream response in this context (for the audit record)."""
    statuses: list[int] = []
    _statuses.set(statuses)
    return statuses


def set_deadline(seconds_from_now: float) -> contextvars.Token[float | None]:
    """Give every upstream request made in this context one shared deadline (a tool call's budget)."""
    return _deadline.set(time.monotonic() + seconds_from_now)


def reset_deadline(token: contextvars.Token[float | None]) -> None:
    _deadline.reset(token)


@dataclass(frozen=True, slots=True)
class UpstreamPage:
    items: list[Any]
    next_cursor: str | None
    total: int | None


class RatePacer:
    """Spreads requests out when `X-RateLimit-Remaining` runs low, so agents wait briefly instead of seeing 429s.

    The window is assumed to be one minute (BugSnag's documented behaviour). We remember when our
    own requests were sent; when upstream says none remain, we wait until the oldest of ours in
    the window ages out.
    """

    def __init__(self, window: float = 60.0, reserve: int = 2, clock: Callable[[], float] = time.monotonic):
        self.window = window
        self.reserve = reserve
        self.clock = clock
        self.limit: int | None = None
        self.remaining: int | None = None
        self._sent: deque[float] = deque()

    def note_sent(self) -> None:
        now = self.clock()
        self._sent.append(now)
        while self._sent and self._sent[0] <= now - self.window:
            self._sent.popleft()

    def observe(self, headers: httpx.Headers) -> None:
        limit, remaining = headers.get("x-ratelimit-limit"), headers.get("x-ratelimit-remaining")
        if limit and limit.isdigit():
            self.limit = int(limit)
        if remaining and remaining.lstrip("-").isdigit():
            self.remaining = int(remaining)

    def delay(self) -> float:
        """Seconds to wait before the next request (0 when there is headroom)."""
        if self.remaining is None or self.limit is None or self.remaining > self.reserve:
            return 0.0
        now = self.clock()
        recent = [t for t in self._sent if t > now - self.window]
        if self.remaining <= 0:
            if recent:
                return max(0.0, recent[0] + self.window - now)
            return self.window / max(self.limit, 1)
        return self.window / max(self.limit, 1)


class _Flight:
    """One in-flight GET that concurrent identical callers share."""

    def __init__(self) -> None:
        self.done = anyio.Event()
        self.result: tuple[Any, httpx.Response] | None = None
        self.error: BaseException | None = None


class UpstreamClient:
    """HTTP access to one upstream for one credential.

    Parameters:
    - `backend`: name used in errors and logs (`"bugsnag"`, `"bugport"`).
    - `base_url`: from configuration only; `Link` URLs are followed only under it.
    - `headers`: sent on every request (credential included; never logged).
    - `error_body`: turns a failing response's JSON into `(code, detail)` for `error_for_status`.
    - `transport`, `sleep`, `clock`, `rng`: seams for tests (no real sockets, no real sleeping).
    """

    def __init__(
        self,
        backend: str,
        base_url: str,
        *,
        headers: dict[str, str],
        timeouts: Timeouts = DEFAULT_TIMEOUTS,
        retries: Retries = DEFAULT_RETRIES,
        caching: Caching = DEFAULT_CACHING,
        error_body: Callable[[Any], tuple[int | None, str | None]] | None = None,
        cursor_scope: str = "",
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.backend = backend
        self.base_url = base_url.rstrip("/")
        split = urlsplit(self.base_url)
        self._origin = (split.scheme, split.netloc)
        self._base_path = split.path.rstrip("/")
        self.timeouts = timeouts
        self.retries = retries
        self.caching = caching
        self._error_body = error_body or (lambda body: (None, None))
        self._client_args: dict[str, Any] = dict(
            headers=headers,
            timeout=httpx.Timeout(timeouts.read, connect=timeouts.connect),
            transport=transport,
            follow_redirects=False,
        )
        self._http: httpx.AsyncClient | None = None  # built on first use: its TLS setup costs ~60 ms at start-up
        self._cursors = CursorCodec(f"{backend}|{self.base_url}|{cursor_scope}")
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not security
        self.pacer = RatePacer(clock=clock)
        self._cache: dict[str, tuple[float, Any, httpx.Response]] = {}
        self._flights: dict[str, _Flight] = {}
        self.requests_sent = 0

    @classmethod
    def from_settings(
        cls,
        backend: str,
        base_url: str,
        settings: Settings,
        *,
        credential: str,
        headers: dict[str, str],
        error_body: Callable[[Any], tuple[int | None, str | None]],
        **kwargs: Any,
    ) -> UpstreamClient:
        """A client with the settings' timeouts, retries and caching, and cursors bound to `credential`."""
        return cls(
            backend,
            base_url,
            headers={"Accept": "application/json", "User-Agent": f"bugwarden/{__version__}", **headers},
            timeouts=settings.timeouts,
            retries=settings.retries,
            caching=settings.caching,
            error_body=error_body,
            cursor_scope=str(hash(credential)),
            **kwargs,
        )

    async def aclose(self) -> None:
        """Close connections; a later request opens a fresh pool (one server may serve several sessions)."""
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    # -- public API -------------------------------------------------------------------------------

    async def get_json(
        self, path: str, params: Params = (), *, cache: bool = False, not_found: str | None = None
    ) -> tuple[Any, httpx.Response]:
        """GET `path` and return `(parsed JSON or None for 204, response)`.

        Identical concurrent GETs share one request. With `cache=True` the answer is kept for
        `caching.ttl` seconds (until a write invalidates it).
        """
        key = self._key(path, params)
        if cache and (hit := self._cache.get(key)) and hit[0] > self._clock():
            return hit[1], hit[2]
        if (flight := self._flights.get(key)) is not None:
            await flight.done.wait()
            if flight.error is not None:
                raise flight.error
            assert flight.result is not None
            return flight.result
        flight = self._flights[key] = _Flight()
        try:
            result = await self.request("GET", path, params, not_found=not_found)
            flight.result = result
            if cache and self.caching.ttl > 0:
                self._cache[key] = (self._clock() + self.caching.ttl, *result)
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
        cursor: str | None = None,
        not_found: str | None = None,
        items_key: str | None = None,
        cache: bool = False,
    ) -> UpstreamPage:
        """GET one page. With `cursor`, the page it names (path and params are then ignored).

        The next page comes from the `Link rel="next"` header, or from `next_cursor` in the body
        when `items_key` names a BugPort-style envelope.
        """
        if cursor is not None:
            relative = self._cursors.decode(cursor)
            split = urlsplit(relative)
            path = split.path[len(self._base_path) :] if split.path.startswith(self._base_path) else split.path
            body, response = await self.request("GET", path, (), not_found=not_found, raw_query=split.query)
        else:
            body, response = await self.get_json(path, params, not_found=not_found, cache=cache)
        total = _int_header(response.headers.get("x-total-count"))
        if items_key is not None:
            if not isinstance(body, dict) or not isinstance(body.get(items_key), list):
                raise self._malformed("GET", path)
            items, next_rel = body[items_key], None
            if isinstance(body.get("total"), int):
                total = body["total"]
            upstream_next = body.get("next_cursor")
            if isinstance(upstream_next, str) and upstream_next:
                q = [(k, v) for k, v in params if k != "cursor"] + [("cursor", upstream_next)]
                next_rel = self._base_path + path + "?" + urlencode(q)
        else:
            if not isinstance(body, list):
                raise self._malformed("GET", path)
            items, next_rel = body, self._next_link(response)
        return UpstreamPage(items, self._cursors.encode(next_rel) if next_rel else None, total)

    async def send(
        self,
        method: str,
        path: str,
        params: Params = (),
        *,
        json_body: Any = None,
        not_found: str | None = None,
        invalidate: Sequence[str] = (),
    ) -> tuple[Any, httpx.Response]:
        """A write. Retried only when no response came back for an idempotent method; drops cache entries
        whose path starts with any of `invalidate` (and the written path itself)."""
        try:
            return await self.request(method, path, params, json_body=json_body, not_found=not_found)
        finally:
            self.invalidate(path, *invalidate)

    def invalidate(self, *prefixes: str) -> None:
        for key in list(self._cache):
            if any(key.startswith(p) for p in prefixes):
                del self._cache[key]

    # -- the request loop -------------------------------------------------------------------------

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
        """Send one logical request with pacing and retries; return `(parsed body, response)` or raise."""
        url = self.base_url + path
        deadline = _deadline.get() or (time.monotonic() + self.timeouts.call_deadline)
        idempotent = method in IDEMPOTENT
        attempt = 0
        while True:
            await self._pace(deadline)
            try:
                response = await self._send_once(method, url, path, params, json_body, raw_query, deadline)
                body = self._parse(method, path, response)
                if response.status_code >= 400:
                    raise self.error_for_response(method, path, response, body, not_found)
                return body, response
            except BackendError as exc:
                wait = self._retry_wait(exc, attempt, idempotent)
                if wait is None or time.monotonic() + wait >= deadline:
                    raise
                log.info(
                    "%s %s %s failed (%s); retry %d in %.2fs",
                    self.backend,
                    method,
                    path,
                    type(exc).__name__,
                    attempt + 1,
                    wait,
                )
                attempt += 1
                await self._sleep(wait)

    async def _send_once(
        self,
        method: str,
        url: str,
        path: str,
        params: Params,
        json_body: Any,
        raw_query: str | None,
        deadline: float,
    ) -> httpx.Response:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise UpstreamTimeout(
                f"{self.backend} did not answer within this call's time budget; try again shortly",
                backend=self.backend,
                method=method,
                path=path,
            )
        if raw_query is not None:
            url = url + ("?" + raw_query if raw_query else "")
            params = ()
        if self._http is None or self._http.is_closed:
            self._http = httpx.AsyncClient(**self._client_args)
        self.pacer.note_sent()
        self.requests_sent += 1
        try:
            with map_transport_errors(self.backend, method, path), anyio.fail_after(remaining):
                response = await self._http.request(method, url, params=list(params) or None, json=json_body)
        except TimeoutError:
            raise UpstreamTimeout(
                f"{self.backend} did not answer within this call's time budget; try again shortly",
                backend=self.backend,
                method=method,
                path=path,
            ) from None
        self.pacer.observe(response.headers)
        if (statuses := _statuses.get()) is not None:
            statuses.append(response.status_code)
        return response

    async def _pace(self, deadline: float) -> None:
        delay = self.pacer.delay()
        if delay > 0:
            delay = min(delay, max(0.0, deadline - time.monotonic() - 0.5))
            log.info("%s rate limit nearly exhausted; pacing %.2fs", self.backend, delay)
            await self._sleep(delay)

    def _retry_wait(self, exc: BackendError, attempt: int, idempotent: bool) -> float | None:
        if attempt >= self.retries.attempts:
            return None
        if isinstance(exc, RateLimited):
            # A 429 means the request was not processed, so even writes may be repeated.
            if exc.retry_after is not None:
                return min(exc.retry_after, self.retries.retry_after_cap)
            return self._backoff(attempt)
        if not idempotent or not exc.retryable:
            return None
        return self._backoff(attempt)

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.retries.backoff_max, self.retries.backoff_base * (2**attempt))
        return self._rng.uniform(ceiling / 2, ceiling)

    # -- parsing and error mapping ----------------------------------------------------------------

    def _parse(self, method: str, path: str, response: httpx.Response) -> Any:
        if response.status_code == 204 or not response.content:
            return None
        try:
            return json.loads(response.content)
        except (ValueError, UnicodeDecodeError):
            if response.status_code >= 400:
                return None
            raise self._malformed(method, path, response.status_code) from None

    def _malformed(self, method: str, path: str, status: int | None = None) -> MalformedResponse:
        return MalformedResponse(
            f"{self.backend} returned a response bugwarden could not read; try again, and if it persists "
            "check the API URL points at the real API",
            backend=self.backend,
            method=method,
            path=path,
            status=status,
        )

    def error_for_response(
        self, method: str, path: str, response: httpx.Response, body: Any, not_found: str | None
    ) -> UpstreamError:
        code, detail = self._error_body(body)
        return error_for_status(
            response.status_code,
            backend=self.backend,
            method=method,
            path=path,
            code=code,
            detail=detail,
            retry_after=parse_retry_after(response.headers.get("retry-after")),
            not_found=not_found,
        )

    def _next_link(self, response: httpx.Response) -> str | None:
        header = ", ".join(response.headers.get_list("link"))
        for match in _LINK.finditer(header):
            if not re.search(r'(?:^|;)\s*rel\s*=\s*"?next"?\s*(?:;|$)', match.group(2)):
                continue
            split = urlsplit(match.group(1).strip())
            if (split.scheme, split.netloc) != self._origin or not split.path.startswith(self._base_path + "/"):
                log.warning("%s sent a next link outside the configured API origin; ignoring it", self.backend)
                return None
            return split.path + ("?" + split.query if split.query else "")
        return None

    @staticmethod
    def _key(path: str, params: Params) -> str:
        return path + "?" + "&".join(f"{k}={v}" for k, v in params)


def error_for_status(
    status: int,
    *,
    backend: str,
    method: str,
    path: str,
    code: int | None = None,
    detail: str | None = None,
    retry_after: float | None = None,
    not_found: str | None = None,
) -> UpstreamError:
    """Map one failing status (and BugSnag's category code) to the most specific error class."""
    where: dict[str, Any] = dict(backend=backend, method=method, path=path, status=status, code=code)
    name = "BugSnag" if backend == "bugsnag" else "BugPort" if backend == "bugport" else backend
    said = f" ({name} said: {detail})" if detail else ""
    if code in (30000, 31000, 32000):
        reason = {
            30000: "a lapsed payment",
            31000: "an expired trial or invalid subscription",
            32000: "no available seats for this user",
        }[code]
        return AccountRestricted(
            f"{name} API access is restricted by {reason}: an account owner must fix billing; retrying will not help",
            **where,
        )
    if status == 401:
        return Unauthorized(
            f"{name} rejected the configured credential (401): check that the token bugwarden runs with "
            "is valid and not revoked",
            **where,
        )
    if status == 403:
        if code == 40000:
            return Forbidden(
                f"the {name} user behind this token lacks the project role for this action (code 40000): "
                "a project owner or organization admin must do it, or grant the role",
                **where,
            )
        return Forbidden(f"{name} refused this action for the configured credential (403){said}", **where)
    if status == 404:
        return NotFound(not_found or f"not found on {name}, or not visible to this token", **where)
    if status == 422 and code == 60000:
        return ResultsCapped(
            f"{name} cannot return complete sorted results for this query (code 60000): retry with "
            "sort=unsorted, or add filters (for example a shorter 'since') to narrow it",
            **where,
        )
    if status in (400, 409, 422):
        return InvalidRequest(f"{name} rejected the request ({status}){said}", **where)
    if status == 429:
        wait = f" in about {retry_after:.0f}s" if retry_after is not None else " in a minute"
        return RateLimited(f"{name} rate limit reached: try again{wait}", retry_after=retry_after, **where)
    if status == 501:
        return NotImplementedUpstream(f"{name} does not implement this route yet (501)", **where)
    if status >= 500:
        return UpstreamServerError(f"{name} is having trouble ({status}); try again shortly", **where)
    return UpstreamError(f"{name} answered with unexpected status {status}{said}", **where)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP-date); None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.replace(".", "", 1).isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def safe_detail(text: object, limit: int = 160) -> str | None:
    """Reduce an upstream error message to plain words, for quoting in an agent message.

    Upstream bodies can echo attacker-controlled input, so only letters, digits, spaces and
    basic punctuation survive, on one line, capped.
    """
    if not isinstance(text, str):
        return None
    cleaned = "".join(c if (c.isascii() and (c.isalnum() or c in " .,:;'_()[]=<>-")) else " " for c in text)
    cleaned = " ".join(cleaned.split())
    return (cleaned[:limit] + "…" if len(cleaned) > limit else cleaned) or None


def _int_header(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None
