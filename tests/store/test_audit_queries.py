"""The audit log as a person reads it: filters, newest first, keyset pages, the live view's poll, time ranges and the
index behind them, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import bugwarden.guard.audit as audit_module
from bugwarden.config import Settings
from bugwarden.guard.audit import AuditLog
from bugwarden.store import Store
from bugwarden.store.audit_queries import (
    AuditFilter,
    AuditQueries,
    FilterError,
    decode_cursor,
    encode_cursor,
    export_line,
    parse_since,
)

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


class SteppingClock(datetime):
    """`datetime.now` for the audit writer: one minute later on every call, from T0."""

    calls = 0

    @classmethod
    def now(cls, tz: Any = None) -> SteppingClock:
        moment = T0 + timedelta(minutes=cls.calls)
        cls.calls += 1
        return cls.fromtimestamp(moment.timestamp(), tz)


@pytest.fixture
def stepping_time(monkeypatch: pytest.MonkeyPatch) -> None:
    SteppingClock.calls = 0
    monkeypatch.setattr(audit_module, "datetime", SteppingClock)


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        settings = Settings.from_env({}, home=str(tmp_path / "home"))
    else:
        settings = Settings.from_env({}, home=str(tmp_path / "unused"), database_url=request.getfixturevalue("pg_url"))
    opened = Store.open(settings)
    yield opened
    opened.close()


def record(tool: str, decision: str = "allowed", *, who: str = "tok_a", name: str = "triage-bot", **extra: Any):
    return {
        "tool": tool,
        "decision": decision,
        "phase": "result",
        "principal_id": who,
        "principal_name": name,
        "targets": {"project_id": extra.pop("project", "p1")},
        **extra,
    }


def fill(store: Store) -> AuditLog:
    """Twelve records: seq 1..12, at T0 + (seq - 1) minutes when time steps."""
    log = AuditLog(store.audit)
    rows = [
        record("list_errors"),
        record("resolve_error"),
        record("delete_error", "denied"),
        record("list_errors", who="grant_x", name="claude", person="alice"),
        record("resolve_error", who="grant_x", name="claude", person="alice", project="p2"),
        record("get_error", "invalid", project="p2"),
        record("resolve_error"),
        record("list_errors", who="tok_b", name="ci-bot"),
        record("delete_error", "denied", who="grant_x", name="claude", person="alice"),
        record("resolve_error", who="tok_b", name="ci-bot", project="p2"),
        record("list_projects"),
        record("resolve_error", "denied", who="tok_b", name="ci-bot"),
    ]
    for row in rows:
        log.append(row)
    return log


def seqs(records: list[dict[str, Any]]) -> list[int]:
    return [r["seq"] for r in records]


def test_each_filter_selects_its_records_newest_first(store: Store) -> None:
    fill(store)
    q = AuditQueries(store.audit)
    assert seqs(q.page(AuditFilter()).records) == list(range(12, 0, -1))
    assert seqs(q.page(AuditFilter(tool="resolve_error")).records) == [12, 10, 7, 5, 2]
    assert seqs(q.page(AuditFilter(decision="denied")).records) == [12, 9, 3]
    assert seqs(q.page(AuditFilter(project="p2")).records) == [10, 6, 5]
    assert seqs(q.page(AuditFilter(tool="resolve_error", decision="denied")).records) == [12]
    assert seqs(q.page(AuditFilter(tool="resolve_error", project="p2")).records) == [10, 5]
    assert q.page(AuditFilter(tool="nothing-like-this")).records == []


def test_who_matches_a_token_id_an_agent_name_or_the_person_who_granted_it(store: Store) -> None:
    fill(store)
    q = AuditQueries(store.audit)
    assert seqs(q.page(AuditFilter(who="tok_b")).records) == [12, 10, 8]
    assert seqs(q.page(AuditFilter(who="ci-bot")).records) == [12, 10, 8]
    assert seqs(q.page(AuditFilter(who="alice")).records) == [9, 5, 4]
    assert seqs(q.page(AuditFilter(who="alice", decision="denied")).records) == [9]
    assert seqs(q.page(AuditFilter(who="alice"), limit=2).records) == [9, 5]


def test_pages_follow_each_other_without_gaps_or_repeats_while_records_land(store: Store) -> None:
    log = fill(store)
    q = AuditQueries(store.audit)
    first = q.page(AuditFilter(), limit=5)
    assert seqs(first.records) == [12, 11, 10, 9, 8] and first.head == 12 and first.next_cursor
    log.append(record("list_errors"))  # lands between two page reads: the next page does not shift
    second = q.page(AuditFilter(), cursor=first.next_cursor, limit=5)
    assert seqs(second.records) == [7, 6, 5, 4, 3]
    third = q.page(AuditFilter(), cursor=second.next_cursor, limit=5)
    assert seqs(third.records) == [2, 1] and third.next_cursor is None
    filtered = q.page(AuditFilter(tool="resolve_error"), limit=2)
    rest = q.page(AuditFilter(tool="resolve_error"), cursor=filtered.next_cursor, limit=2)
    last = q.page(AuditFilter(tool="resolve_error"), cursor=rest.next_cursor, limit=2)
    assert [seqs(p.records) for p in (filtered, rest, last)] == [[12, 10], [7, 5], [2]]
    assert last.next_cursor is None


def test_the_live_poll_returns_only_what_landed_after_the_page(store: Store) -> None:
    log = fill(store)
    q = AuditQueries(store.audit)
    page = q.page(AuditFilter(tool="resolve_error"))
    assert q.newer(AuditFilter(tool="resolve_error"), after=page.head) == ([], 12)
    log.append(record("list_errors"))
    log.append(record("resolve_error"))
    log.append(record("resolve_error"))
    found, nxt = q.newer(AuditFilter(tool="resolve_error"), after=page.head)
    assert seqs(found) == [14, 15] and nxt == 15
    cut, nxt = q.newer(AuditFilter(), after=12, limit=2)
    assert seqs(cut) == [13, 14] and nxt == 14  # the limit cut it: the next poll goes on from 14
    assert q.newer(AuditFilter(), after=nxt) == ([log.last(1)[0]], 15)


def test_a_time_range_is_exact_and_accepts_ages_and_dates(store: Store, stepping_time: None) -> None:
    fill(store)  # seq n at T0 + (n - 1) minutes
    q = AuditQueries(store.audit)
    since = AuditFilter(since=parse_since("2026-11-01T09:05:00Z"))
    assert seqs(q.page(since).records) == [12, 11, 10, 9, 8, 7, 6]
    window = AuditFilter(since=parse_since("2026-11-01T09:05:00Z"), until=parse_since("2026-11-01T09:08:00Z"))
    assert seqs(q.page(window).records) == [8, 7, 6]
    assert seqs(q.page(AuditFilter(tool="resolve_error", since=window.since, until=window.until)).records) == [7]
    now = T0 + timedelta(minutes=11)
    assert seqs(q.page(AuditFilter(since=parse_since("3m", now))).records) == [12, 11, 10, 9]
    assert seqs(q.page(AuditFilter(since=parse_since("2026-11-01"))).records) == list(range(12, 0, -1))
    assert q.page(AuditFilter(since=parse_since("2026-11-02"))).records == []
    exported = list(q.matching(AuditFilter(since=parse_since("2026-11-01T09:09:00+00:00"))))
    assert seqs(exported) == [10, 11, 12]


def test_matching_streams_every_record_oldest_first_in_batches(store: Store) -> None:
    log = fill(store)
    q = AuditQueries(store.audit)
    assert seqs(list(q.matching(AuditFilter(), batch=5))) == list(range(1, 13))
    assert seqs(list(q.matching(AuditFilter(decision="denied"), batch=2))) == [3, 9, 12]
    assert list(q.matching(AuditFilter(), batch=5)) == list(log.records())


def test_records_read_as_audit_export_writes_them(store: Store) -> None:
    log = fill(store)
    page = AuditQueries(store.audit).page(AuditFilter(), limit=12)
    assert list(reversed(page.records)) == list(log.records())
    line = export_line(page.records[0])
    assert line.startswith('{"decision": "denied"') and '"seq": 12' in line and "\n" not in line


def test_hostile_filter_values_are_values() -> None:
    with pytest.raises(FilterError, match="decision"):
        AuditFilter(decision="allowed' OR 1=1 --")


def test_hostile_filter_values_match_nothing(store: Store) -> None:
    fill(store)
    q = AuditQueries(store.audit)
    assert q.page(AuditFilter(tool="x' OR '1'='1")).records == []
    assert q.page(AuditFilter(who="' OR 1=1 --")).records == []


def test_a_cursor_is_opaque_and_checked() -> None:
    assert decode_cursor(encode_cursor(41)) == 41
    assert "41" not in encode_cursor(41)
    for bad in ("", "41", "not a cursor!", encode_cursor(41)[:-2] + "zz"):
        with pytest.raises(FilterError, match="cursor"):
            decode_cursor(bad)


def test_since_words() -> None:
    now = datetime(2026, 11, 8, 12, 0, tzinfo=UTC)
    assert parse_since("15m", now) == "2026-11-08T11:45:00.000Z"
    assert parse_since("7d", now) == "2026-11-01T12:00:00.000Z"
    assert parse_since("2w", now) == "2026-10-25T12:00:00.000Z"
    assert parse_since("2026-11-01") == "2026-11-01T00:00:00.000Z"
    assert parse_since("2026-11-01T01:00+01:00") == "2026-11-01T00:00:00.000Z"
    for bad, why in (("yesterday", "not a time"), ("2026-11-01T00:00:00", "no time zone"), ("99999w", "ten years")):
        with pytest.raises(FilterError, match=why):
            parse_since(bad, now)
    assert AuditFilter.of(tool=" ", decision="", since="7d").as_params().keys() == {"since"}


def test_a_log_written_before_the_index_is_indexed_when_migrated(tmp_path: Path) -> None:
    home = tmp_path / "home"
    store = Store.sqlite(home)
    fill(store)
    with store.audit.transaction(write=True) as tx:  # back to the schema of bugwarden 0.1 (audit 2)
        tx.execute("DROP TABLE audit_facts")
        tx.execute("ALTER TABLE audit_head DROP COLUMN mac")  # audit 4, the keyed head, came later still
        tx.execute("UPDATE schema_versions SET version = 2 WHERE component = 'audit'")
    store.close()
    reopened = Store.sqlite(home)
    try:
        q = AuditQueries(reopened.audit)
        assert seqs(q.page(AuditFilter(who="alice")).records) == [9, 5, 4]
        assert seqs(q.page(AuditFilter(tool="delete_error")).records) == [9, 3]
    finally:
        reopened.close()


def test_the_filters_are_served_by_indexes(tmp_path: Path) -> None:
    store = Store.sqlite(tmp_path / "home")
    fill(store)
    try:
        with store.audit.transaction() as tx:
            for column in ("tool", "decision", "project", "principal_id", "principal_name", "person"):
                plan = " ".join(
                    str(row[-1])
                    for row in tx.execute(
                        f"EXPLAIN QUERY PLAN SELECT seq FROM audit_facts WHERE {column} = ? AND seq <= ? "
                        "ORDER BY seq DESC LIMIT 51",
                        ("x", 10),
                    ).fetchall()
                )
                assert f"INDEX audit_facts_{column}" in plan and "TEMP B-TREE" not in plan, plan
            query = "EXPLAIN QUERY PLAN SELECT seq FROM audit_facts WHERE ts >= ? ORDER BY ts, seq LIMIT 1"
            plan = str(tx.execute(query, ("x",)).fetchall())
            assert "audit_facts_ts" in plan and "TEMP B-TREE" not in plan, plan
    finally:
        store.close()
