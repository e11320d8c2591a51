"""The chain banner's verdicts: parsed from `audit verify`, kept for a while, never two verifications at once, and a
page that does not wait for a long one."""

from __future__ import annotations

import threading
from pathlib import Path

from bugwarden.guard.audit import AuditLog
from bugwarden.store import Store
from bugwarden.web.chain_watch import ChainState, ChainWatch, state_of


def test_verdicts_read_as_banners() -> None:
    assert state_of((True, "ok: 12 records, chain intact"), 5.0) == ChainState(True, 12, "", 5.0)
    assert state_of((False, "record 7: hash mismatch (the record was edited)"), 5.0) == ChainState(
        False, 7, "hash mismatch (the record was edited)", 5.0
    )


class SlowLog:
    """An audit log whose verification waits until the test lets it finish, counting how often it ran."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.runs = 0

    def verify(self) -> tuple[bool, str]:
        self.runs += 1
        self.release.wait(10)
        return True, "ok: 3 records, chain intact"


def test_a_long_verification_runs_once_in_the_background_and_pages_do_not_wait() -> None:
    slow = SlowLog()
    now = [100.0]
    watch = ChainWatch(slow, ttl=30, wait=0.0, clock=lambda: now[0])  # type: ignore[arg-type]
    assert watch.current() is None and watch.current() is None
    slow.release.set()
    for _ in range(1000):
        if watch._running is None:
            break
        threading.Event().wait(0.01)
    assert watch.current() == ChainState(True, 3, "", 100.0) and slow.runs == 1
    now[0] += 31
    assert watch.current() is not None  # the stale verdict is shown while the next one runs


def test_a_small_log_is_verified_before_the_page_is_shown(tmp_path: Path) -> None:
    log = AuditLog(Store.sqlite(tmp_path).audit)
    log.append({"tool": "t"})
    state = ChainWatch(log, wait=30).current()
    assert state is not None and state.ok and state.upto == 1
