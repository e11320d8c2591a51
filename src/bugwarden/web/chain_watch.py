"""The audit chain's state for the console's banner: verified up to record N, or broken at record K and how.

Verifying reads the whole log (about 3 s per 100,000 records), so a page does not wait for it every time: the
last verdict is kept for `ttl` seconds, one verification runs at a time, and while one runs pages show the
previous verdict (with its age) instead of waiting.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..guard.audit import AuditLog

_RECORD = re.compile(r"^record (\d+): (.*)$", re.S)
_COUNT = re.compile(r"^ok: (\d+) records")


@dataclass(frozen=True, slots=True)
class ChainState:
    ok: bool
    upto: int
    """The last record verified (ok), or the first bad record (broken)."""
    what: str
    """Why it is broken (empty when ok)."""
    checked_at: float
    """Wall-clock time of the verification."""


def state_of(verdict: tuple[bool, str], now: float) -> ChainState:
    ok, message = verdict
    if ok:
        found = _COUNT.match(message)
        return ChainState(True, int(found.group(1)) if found else 0, "", now)
    broken = _RECORD.match(message)
    if broken:
        return ChainState(False, int(broken.group(1)), broken.group(2), now)
    return ChainState(False, 0, message, now)


class ChainWatch:
    def __init__(self, audit: AuditLog, ttl: float = 30.0, clock: Callable[[], float] = time.time) -> None:
        self.audit = audit
        self.ttl = ttl
        self.clock = clock
        self._last: ChainState | None = None
        self._running = threading.Lock()

    def current(self) -> ChainState:
        """The latest verdict, verifying again when it is older than `ttl` (blocking only when there is none)."""
        last = self._last
        if last is not None and self.clock() - last.checked_at < self.ttl:
            return last
        if not self._running.acquire(blocking=last is None):
            assert last is not None
            return last
        try:
            self._last = state_of(self.audit.verify(), self.clock())
            return self._last
        finally:
            self._running.release()


_WATCHES: dict[int, ChainWatch] = {}


def watch_for(audit: AuditLog) -> ChainWatch:
    """The one watch of an audit log in this process."""
    found = _WATCHES.get(id(audit))
    if found is None or found.audit is not audit:
        found = _WATCHES[id(audit)] = ChainWatch(audit)
    return found
