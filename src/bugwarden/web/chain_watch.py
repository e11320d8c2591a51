"""The audit chain's state for the console's banner: verified up to record N, or broken at record K and how.

Verifying reads the whole log (a few seconds per 100,000 records), so a page does not wait for it every time:
the last verdict is kept for `ttl` seconds; a stale or missing verdict starts one verification in a background
thread (never two at once), and a page waits for it at most `wait` seconds, showing the previous verdict, or
that verification is under way, when it takes longer.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..guard.audit import AuditLog
from ..store import StoreError

log = logging.getLogger("bugwarden.web")
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
    def __init__(
        self, audit: AuditLog, ttl: float = 30.0, wait: float = 3.0, clock: Callable[[], float] = time.time
    ) -> None:
        self.audit = audit
        self.ttl = ttl
        self.wait = wait
        self.clock = clock
        self._last: ChainState | None = None
        self._lock = threading.Lock()
        self._running: threading.Event | None = None

    def current(self) -> ChainState | None:
        """The latest verdict (verifying again when it is older than `ttl`); None while the first one runs."""
        last = self._last
        if last is not None and self.clock() - last.checked_at < self.ttl:
            return last
        with self._lock:
            done = self._running
            if done is None:
                done = self._running = threading.Event()
                threading.Thread(target=self._verify, args=(done,), name="bugwarden-chain", daemon=True).start()
        done.wait(self.wait)
        return self._last

    def _verify(self, done: threading.Event) -> None:
        try:
            self._last = state_of(self.audit.verify(), self.clock())
        except StoreError as exc:
            log.error("the audit chain could not be verified: %s", exc)
            self._last = ChainState(False, 0, "the audit store could not be read", self.clock())
        finally:
            with self._lock:
                self._running = None
            done.set()


_WATCHES: dict[int, ChainWatch] = {}


def watch_for(audit: AuditLog) -> ChainWatch:
    """The one watch of an audit log in this process."""
    found = _WATCHES.get(id(audit))
    if found is None or found.audit is not audit:
        found = _WATCHES[id(audit)] = ChainWatch(audit)
    return found
