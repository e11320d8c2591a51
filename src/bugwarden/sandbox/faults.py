"""What both simulators share: a request log, injectable faults, and a per-token rate limiter.

Tests drive faults in-process (`app.state.control.faults.fail_next(2, 503)`); out-of-process
clients use `POST /_sandbox/faults` with the same fields.
"""

from __future__ import annotations

import json
import time
import zlib
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.responses import Response, StreamingResponse

CHUNK = 64 * 1024


@dataclass
class LoggedRequest:
    method: str
    path: str
    query: str
    token: str | None
    status: int = 0


@dataclass
class Faults:
    """Injected misbehaviour, consumed request by request."""

    latency: float = 0.0
    fail_status: int = 503
    fail_code: int | None = None
    fail_remaining: int = 0
    garbage_remaining: int = 0
    hang_remaining: int = 0
    retry_after: int | None = None
    fail_message: str = "Injected failure"
    """The message an injected failure carries (tests make it hostile: upstream text is untrusted)."""
    oversize_remaining: int = 0
    oversize_bytes: int = 50 * 1024 * 1024
    oversize_gzip: bool = False
    fail_paths: dict[str, int] = field(default_factory=dict)
    """Path suffix -> status: every matching request fails (until cleared)."""
    slow_paths: dict[str, float] = field(default_factory=dict)
    """Path suffix -> seconds: every matching request waits that long first (until cleared)."""
    redirect_remaining: int = 0
    redirect_status: int = 302
    redirect_method: str | None = None
    """The next `redirect_remaining` requests answer `redirect_status` with a Location and no body (a lying proxy)."""
    loop_paths: set[str] = field(default_factory=set)
    """Path suffixes whose listings always name themselves as the next page (a looping next link)."""
    endless_paths: dict[str, bool] = field(default_factory=dict)
    """Path suffix -> empty: listings that always have one more page (empty ones when True), without end."""

    def redirect_next(self, count: int, status: int = 302, method: str | None = None) -> None:
        """The next `count` requests (of `method` only, if given) answer `status` with no body."""
        self.redirect_remaining, self.redirect_status, self.redirect_method = count, status, method

    def redirected(self, method: str, url: str) -> Response | None:
        """An injected redirect with no body (to a path that is not the API's), or None."""
        if self.redirect_remaining <= 0 or self.redirect_method not in (None, method):
            return None
        self.redirect_remaining -= 1
        return Response(b"", self.redirect_status, headers={"Location": url.split("/", 3)[0] + "//login.test/"})

    def loop_links(self, suffix: str) -> None:
        self.loop_paths.add(suffix)

    def endless_links(self, suffix: str, *, empty: bool = False) -> None:
        self.endless_paths[suffix] = empty

    def relink(self, url: str, path: str, query: str, response: Response) -> Response:
        """A listing answer with its next link rewritten by the looping and endless faults (others unchanged)."""
        if response.status_code != 200:
            return response
        if any(path.endswith(s) for s in self.loop_paths):
            response.headers["Link"] = f'<{url}>; rel="next"'
        for suffix, empty in self.endless_paths.items():
            if path.endswith(suffix):
                params = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k != "endless"]
                step = int(dict(parse_qsl(query)).get("endless", "0")) + 1
                base = url.split("?", 1)[0]
                response.headers["Link"] = f'<{base}?{urlencode([*params, ("endless", str(step))])}>; rel="next"'
                if empty:
                    body = json.dumps([]).encode()
                    response.body = body
                    response.headers["Content-Length"] = str(len(body))
        return response

    def slow_path(self, suffix: str, seconds: float) -> None:
        self.slow_paths[suffix] = seconds

    def delay_for(self, path: str) -> float:
        return self.latency + sum(s for suffix, s in self.slow_paths.items() if path.endswith(suffix))

    def fail_path(self, suffix: str, status: int = 500) -> None:
        self.fail_paths[suffix] = status

    def failing_status(self, path: str) -> int | None:
        return next((status for suffix, status in self.fail_paths.items() if path.endswith(suffix)), None)

    def fail_next(
        self,
        count: int,
        status: int = 503,
        code: int | None = None,
        retry_after: int | None = None,
        message: str = "Injected failure",
    ) -> None:
        self.fail_remaining, self.fail_status, self.fail_code = count, status, code
        self.retry_after, self.fail_message = retry_after, message

    def oversize_next(self, count: int, megabytes: int = 50, gzip: bool = False) -> None:
        """The next `count` answers are a JSON array of `megabytes` (after decompression; gzip: a zip bomb)."""
        self.oversize_remaining, self.oversize_bytes, self.oversize_gzip = count, megabytes * 1024 * 1024, gzip

    def oversized(self) -> Response | None:
        """An injected oversized answer, streamed so the simulator never holds it whole."""
        if self.oversize_remaining <= 0:
            return None
        self.oversize_remaining -= 1
        size, gzip = self.oversize_bytes, self.oversize_gzip

        async def body() -> AsyncIterator[bytes]:
            filler = b"[" + b'"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",' * (CHUNK // 33)
            sent = 0
            if gzip:
                head, block, tail = _zero_blocks()
                yield head
                for _ in range(max(0, size // (1024 * 1024) - 1)):
                    yield block
                yield tail
                return
            while sent < size:
                yield filler
                sent += len(filler)

        headers = {"Content-Encoding": "gzip"} if gzip else {}
        return StreamingResponse(body(), 200, headers=headers, media_type="application/json")

    def garbage_next(self, count: int) -> None:
        self.garbage_remaining = count

    def hang_next(self, count: int) -> None:
        self.hang_remaining = count

    def clear(self) -> None:
        self.latency, self.fail_remaining, self.garbage_remaining, self.hang_remaining = 0.0, 0, 0, 0
        self.oversize_remaining = 0
        self.fail_paths.clear()
        self.slow_paths.clear()
        self.redirect_remaining = 0
        self.loop_paths.clear()
        self.endless_paths.clear()

    def update(self, data: dict[str, Any]) -> None:
        if "latency_ms" in data:
            self.latency = float(data["latency_ms"]) / 1000
        if "fail_next" in data:
            self.fail_next(
                int(data["fail_next"]),
                int(data.get("status", 503)),
                data.get("code"),
                data.get("retry_after"),
                str(data.get("message", "Injected failure")),
            )
        if "oversize_next" in data:
            self.oversize_next(int(data["oversize_next"]), int(data.get("megabytes", 50)), bool(data.get("gzip")))
        if "garbage_next" in data:
            self.garbage_next(int(data["garbage_next"]))
        if "hang_next" in data:
            self.hang_next(int(data["hang_next"]))
        if "redirect_next" in data:
            self.redirect_next(int(data["redirect_next"]), int(data.get("status", 302)), data.get("method"))
        if "loop_links" in data:
            self.loop_links(str(data["loop_links"]))
        if "endless_links" in data:
            self.endless_links(str(data["endless_links"]), empty=bool(data.get("empty")))
        if "fail_path" in data:
            self.fail_path(str(data["fail_path"]), int(data.get("status", 500)))
        if data.get("clear"):
            self.clear()


@cache
def _zero_blocks() -> tuple[bytes, bytes, bytes]:
    """A gzip stream of zeros in parts: the head (header and 1 MiB), a block that inflates to 1 MiB more each
    time it is repeated, and the end (whose checksum only matches one repetition: a client stops long before)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    head = compressor.compress(b"\0" * (1024 * 1024)) + compressor.flush(zlib.Z_SYNC_FLUSH)
    block = compressor.compress(b"\0" * (1024 * 1024)) + compressor.flush(zlib.Z_SYNC_FLUSH)
    return head, block, compressor.flush()


class RateLimiter:
    """A sliding one-minute window per token."""

    def __init__(self, limit: int, window: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self.limit = limit
        self.window = window
        self.clock = clock
        self._hits: dict[str, deque[float]] = {}

    def hit(self, token: str) -> tuple[bool, int, int]:
        """Record one request; returns (allowed, remaining, retry_after seconds). A limit of 0 means none."""
        if self.limit <= 0:
            return True, -1, 0
        now = self.clock()
        hits = self._hits.setdefault(token, deque())
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            return False, 0, max(1, int(hits[0] + self.window - now + 0.999))
        hits.append(now)
        return True, self.limit - len(hits), 0


@dataclass
class Control:
    """The knobs and records of one simulator instance."""

    rate_limit: int = 30
    clock: Callable[[], float] = time.monotonic
    faults: Faults = field(default_factory=Faults)
    log: list[LoggedRequest] = field(default_factory=list)
    limiter: RateLimiter = field(init=False)
    hooks: list[str] = field(default_factory=list)
    """Webhook URLs the simulated account's data forwarding POSTs to (`bugwarden sandbox --hook URL`)."""
    hook_transport: Any = None
    """In-process tests: the httpx transport deliveries go through (None: the network)."""

    def __post_init__(self) -> None:
        self.limiter = RateLimiter(self.rate_limit, clock=self.clock)
