"""Audit record times: never backwards in sequence order, `--since` exact, durations that include the store's wait."""

from __future__ import annotations

import json
import sqlite3
import threading
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bugwarden.cli import main as cli
from bugwarden.guard import audit as audit_module
from bugwarden.guard.audit import AuditLog, AuditRecord
from bugwarden.guard.principal import Principal
from bugwarden.store import Database, Store, Transaction


class SteppedClock:
    """`datetime` whose `now` returns the given times in turn (a wall clock stepped back by NTP, say)."""

    def __init__(self, *times: str) -> None:
        self.times = [datetime.fromisoformat(t.replace("Z", "+00:00")) for t in times]

    def now(self, tz: object = None) -> datetime:
        return self.times.pop(0) if len(self.times) > 1 else self.times[0]


def test_record_times_never_run_backwards_in_sequence_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = SteppedClock("2026-12-01T10:00:05Z", "2026-12-01T10:00:03Z", "2026-12-01T10:00:06Z")
    monkeypatch.setattr(audit_module, "datetime", clock)
    log = AuditLog(Store.sqlite(tmp_path).audit)
    for i in range(3):
        log.append({"tool": f"t{i}"})
    times = [r["ts"] for r in log.records()]
    assert times == sorted(times)
    assert times[1] == "2026-12-01T10:00:05.000Z"
    assert log.verify()[0]
    log.close()


def test_export_since_leaves_out_no_later_record(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A clock stepped back between two records: `audit export --since` still lists every record after the
    first one at or after the time."""
    clock = SteppedClock("2026-12-01T10:00:05Z", "2026-12-01T10:00:03Z", "2026-12-01T10:00:06Z")
    monkeypatch.setattr(audit_module, "datetime", clock)
    log = AuditLog(Store.sqlite(tmp_path).audit)
    for i in range(3):
        log.append({"tool": f"t{i}"})
    log.close()
    monkeypatch.setenv("BUGWARDEN_HOME", str(tmp_path))
    assert cli(["audit", "export", "--since", "2026-12-01T10:00:04Z"]) == 0
    exported = [json.loads(line)["seq"] for line in capsys.readouterr().out.splitlines()]
    assert exported == [1, 2, 3]


def test_the_time_is_taken_under_the_write_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A writer that waited for the lock is stamped when it got it, not when it began to wait."""
    waiting = AuditLog(Store.sqlite(tmp_path).audit)
    other = AuditLog(Store.sqlite(tmp_path).audit)
    blocker = sqlite3.connect(tmp_path / "audit.sqlite3", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    times = iter(("2026-12-01T10:00:01Z", "2026-12-01T10:00:09Z"))
    stamped: list[str] = []

    class Clock:
        @staticmethod
        def now(tz: object = None) -> datetime:
            value = next(times)
            stamped.append(value)
            return datetime.fromisoformat(value.replace("Z", "+00:00"))

    monkeypatch.setattr(audit_module, "datetime", Clock)
    done = threading.Event()

    def slow_writer() -> None:
        waiting.append({"tool": "waited"})
        done.set()

    thread = threading.Thread(target=slow_writer)
    thread.start()
    # While the lock is held the waiting writer has read no time yet.
    assert not done.wait(0.3)
    assert stamped == []
    blocker.execute("ROLLBACK")
    blocker.close()
    thread.join(10)
    other.append({"tool": "next"})
    stored = [r["ts"] for r in other.records()]
    assert stored == sorted(stored)
    waiting.close()
    other.close()


def test_since_is_exact_by_sequence(tmp_path: Path) -> None:
    """An older log whose times run backwards: `--since` keeps every record after the first one at or after it."""
    log = AuditLog(Store.sqlite(tmp_path).audit)
    for i in range(4):
        log.append({"tool": f"t{i}"})
    log.close()
    db = sqlite3.connect(tmp_path / "audit.sqlite3")
    times = [(1, "2026-12-01T09:00:00.000Z"), (2, "2026-12-01T10:00:05.000Z"), (3, "2026-12-01T10:00:03.000Z")]
    for seq, ts in [*times, (4, "2026-12-01T10:00:06.000Z")]:
        db.execute("UPDATE audit SET ts = ? WHERE seq = ?", (ts, seq))
        db.execute("UPDATE audit_facts SET ts = ? WHERE seq = ?", (ts, seq))  # as the index of such a log has them
    db.commit()
    db.close()
    log = AuditLog(Store.sqlite(tmp_path).audit)
    assert [seq for seq, *_ in log.rows("2026-12-01T10:00:04.000Z")] == [2, 3, 4]
    assert [seq for seq, *_ in log.rows("2026-12-01T11:00:00.000Z")] == []
    log.close()


def test_duration_includes_the_wait_for_the_store(tmp_path: Path) -> None:
    now = [100.0]
    log = AuditLog(Store.sqlite(tmp_path).audit, clock=lambda: now[0])
    record = AuditRecord.start(
        principal=Principal(id="p", name="p", scopes=frozenset()),
        client=(None, None),
        transport="stdio",
        tool="t",
        arguments={},
    )

    class Waiting:
        """The store's transaction, entered only after the lock was waited for (10 s on the call's clock)."""

        def __init__(self, inner: Database) -> None:
            self.inner = inner
            self.dialect = inner.dialect

        def transaction(self, *, write: bool = False) -> AbstractContextManager[Transaction]:
            now[0] += 10.0
            return self.inner.transaction(write=write)

        def close(self) -> None:
            self.inner.close()

    log.db = Waiting(log.db)
    log.finish(record, started=99.0)
    (stored,) = list(log.records())
    assert stored["duration_ms"] == 11_000.0
    assert datetime.fromisoformat(stored["ts"].replace("Z", "+00:00")).tzinfo == UTC
    log.close()
