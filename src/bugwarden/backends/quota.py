"""The upstream request quota, shared by everything that uses one upstream credential.

BugSnag allows about 30 requests a minute per token and says so in `X-RateLimit-Limit` /
`X-RateLimit-Remaining`; a 429 carries `Retry-After`. A ledger remembers, per credential, when
requests were sent and what the upstream last said, and answers one question before every
request: may it go now, and if not, how long until it may. The in-memory ledger serves one
process; the store's ledger (`store.quota`) serves every process and replica sharing a store, so
together they stay within the upstream's limit.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Protocol

WINDOW = 60.0


class QuotaLedger(Protocol):
    def reserve(self, key: str, now: float) -> float:
        """Record one request for `key` and return 0 when it may go now; otherwise record nothing and return the
        seconds until one may."""
        ...

    def observe(
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
