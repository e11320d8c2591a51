"""The upstream request quota, shared by everything that uses one upstream credential.

BugSnag allows about 30 requests a minute per token and says so in `X-RateLimit-Limit` /
`X-RateLimit-Remaining`; a 429 carries `Retry-After`. A ledger remembers, per credential, when
requests were sent and what the upstream last said, and answers one question before every
request: may it go now, and if not, how long until it may. `MemoryQuota` serves one process;
`StoredQuota` keeps the ledger in the state store, through the quota repository it is handed
(store/quota.py; backends import no store), so every process and replica sharing the store (SQLite
files under one BUGWARDEN_HOME, or one PostgreSQL database) paces to the upstream's one limit
together. Times are wall-clock seconds, so replicas need roughly synchronised clocks (NTP).
"""

from __future__ import annotations

import functools
import threading
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import anyio.to_thread

WINDOW = 60.0
MAX_BLOCK = 3600.0
"""The longest a 429's Retry-After blocks a credential (longer ones are capped where they are read)."""


class QuotaLedger(Protocol):
    """What the upstream client asks before every request and tells after every response. The async methods are
    what it calls; each ledger decides whether its work needs a worker thread."""

    async def acquire(self, key: str, now: float) -> float:
        """Record one request for `key` and return 0 when it may go now; otherwise record nothing and return the
        seconds until one may."""
        ...

    async def record(
        self, key: str, now: float, *, limit: int | None, remaining: int | None, retry_after: float | None
    ) -> None:
        """What the upstream said in a response's rate-limit headers (or a 429's Retry-After)."""
        ...

    def last_word(self, key: str) -> tuple[int | None, int | None]:
        """The upstream's last (limit, remaining) for `key` (for `doctor`)."""
        ...


@dataclass
class _Account:
    sent: deque[float] = field(default_factory=deque)
    limit: int | None = None
    remaining: int | None = None
    remaining_at: float = 0.0
    blocked_until: float = 0.0


def decide(
    sent: list[float], now: float, limit: int | None, remaining: int | None, remaining_at: float, blocked_until: float
) -> float:
    """The wait before the next request (0: go). Shared by every ledger so they agree to the second.

    `sent` are our send times (any order) over the last two minutes. The upstream's window is taken to slide
    over a minute. Our own sends age out one by one; requests by others that share the credential (what the
    upstream's last `remaining` says was used beyond ours) are assumed to hold until a minute after that
    answer, the worst case.
    """
    # Stored times are trusted only within their lifetimes: a row dated in the future (a replica's clock ahead, an
    # edited store) counts as now, and a block lasts at most the longest Retry-After ever honoured.
    blocked_until = min(blocked_until, now + MAX_BLOCK)
    remaining_at = min(remaining_at, now)
    sent = [min(t, now) for t in sent]
    if blocked_until > now:
        return blocked_until - now
    if not limit or limit <= 0:
        return 0.0
    ours = sorted(t for t in sent if t > now - WINDOW)
    others = 0
    if remaining is not None and now - remaining_at < WINDOW:
        ours_then = sum(1 for t in sent if remaining_at - WINDOW < t <= remaining_at)
        others = max(0, limit - remaining - ours_then)
    if len(ours) + others < limit:
        return 0.0
    waits = []
    need = len(ours) + others - limit + 1
    if need <= len(ours):
        waits.append(ours[need - 1] + WINDOW - now)
    if others:
        others_gone = remaining_at + WINDOW
        later = [t for t in ours if t > others_gone - WINDOW]
        waits.append(others_gone - now if len(later) < limit else later[len(later) - limit] + WINDOW - now)
    return max(0.0, min(waits)) if waits else WINDOW


class MemoryQuota:
    """The ledger of one process."""

    def __init__(self) -> None:
        self._accounts: dict[str, _Account] = {}
        self._lock = threading.Lock()

    def _account(self, key: str, now: float) -> _Account:
        account = self._accounts.setdefault(key, _Account())
        while account.sent and account.sent[0] <= now - 2 * WINDOW:  # `decide` looks back from the last answer
            account.sent.popleft()
        return account

    async def acquire(self, key: str, now: float) -> float:
        return self.reserve(key, now)

    async def record(
        self, key: str, now: float, *, limit: int | None, remaining: int | None, retry_after: float | None
    ) -> None:
        self.observe(key, now, limit=limit, remaining=remaining, retry_after=retry_after)

    def reserve(self, key: str, now: float) -> float:
        with self._lock:
            a = self._account(key, now)
            wait = decide(list(a.sent), now, a.limit, a.remaining, a.remaining_at, a.blocked_until)
            if wait <= 0:
                a.sent.append(now)
            return wait

    def last_word(self, key: str) -> tuple[int | None, int | None]:
        with self._lock:
            account = self._accounts.get(key)
            return (account.limit, account.remaining) if account else (None, None)

    def observe(
        self, key: str, now: float, *, limit: int | None, remaining: int | None, retry_after: float | None
    ) -> None:
        with self._lock:
            a = self._account(key, now)
            if limit is not None:
                a.limit = limit
            if remaining is not None:
                # The request this answer belongs to was already counted as sent: remaining is after it.
                a.remaining, a.remaining_at = remaining, now
            if retry_after is not None:
                a.blocked_until = max(a.blocked_until, now + retry_after)


Said = tuple[int | None, int | None, float]
"""What one response said: (limit, remaining, when); None where it said nothing."""
Word = tuple[int | None, int | None, float, float]
"""What the upstream last said of a credential: (limit, remaining, when remaining was said, blocked until)."""


class QuotaRecords(Protocol):
    """Where `StoredQuota` keeps the ledger: the state store's quota repository (store/quota.py), which runs each
    method in one transaction serialised with every other process's. Raises the store's StoreError."""

    def reserve(
        self,
        key: str,
        now: float,
        *,
        said: Said | None,
        forget_before: float,
        max_block: float,
        decide: Callable[[list[float], Word], float],
    ) -> float: ...

    def block(self, key: str, said: Said, until: float) -> None: ...

    def last_word(self, key: str) -> tuple[int | None, int | None]: ...


class StoredQuota:
    """The ledger in the state store (its quota repository), shared by every process using it.

    Each `reserve` is one write transaction: the store serialises them (SQLite's file lock, PostgreSQL's
    advisory lock), so two replicas can never both take the last request of a window. What a response said
    about the limit is written with this process's next `reserve` (one transaction per request, not two), except
    a 429's Retry-After, which binds everyone at once. A store failure raises its StoreError; the upstream
    client turns that into a refusal to send, never into an unpaced send.

        StoredQuota(SqlQuotaRepository(store.state), run=in_store_thread)
    """

    def __init__(self, records: QuotaRecords, run: Callable[..., Awaitable[Any]] | None = None) -> None:
        self.records = records
        self._run: Callable[..., Awaitable[Any]] = run or anyio.to_thread.run_sync
        """How blocking store work is run (the server passes the store's own bounded worker threads)."""
        self._pending: dict[str, Said] = {}
        self._lock = threading.Lock()

    async def acquire(self, key: str, now: float) -> float:
        wait: float = await self._run(self.reserve, key, now)
        return wait

    async def record(
        self, key: str, now: float, *, limit: int | None, remaining: int | None, retry_after: float | None
    ) -> None:
        observe = functools.partial(self.observe, key, now, limit=limit, remaining=remaining, retry_after=retry_after)
        if retry_after is None:
            observe()  # kept in memory until the next reserve: no I/O
        else:
            await self._run(observe)

    def reserve(self, key: str, now: float) -> float:
        with self._lock:
            pending = self._pending.pop(key, None)

        def paced(sent: list[float], word: Word) -> float:
            return decide(sent, now, *word)

        return self.records.reserve(
            key, now, said=pending, forget_before=now - 2 * WINDOW, max_block=MAX_BLOCK, decide=paced
        )

    def observe(
        self, key: str, now: float, *, limit: int | None, remaining: int | None, retry_after: float | None
    ) -> None:
        if retry_after is not None:
            self.records.block(key, (limit, remaining, now), until=now + retry_after)
        elif limit is not None or remaining is not None:
            with self._lock:
                self._pending[key] = (limit, remaining, now)

    def last_word(self, key: str) -> tuple[int | None, int | None]:
        with self._lock:
            pending = self._pending.get(key)
        if pending is not None and pending[0] is not None and pending[1] is not None:
            return pending[0], pending[1]
        return self.records.last_word(key)
