"""Reading the audit log the way a person asks: filtered, newest first, a page at a time, and what is new since.

    queries = AuditQueries(store.audit)
    page = queries.page(AuditFilter(tool="resolve_error", since=parse_since("7d")), limit=50)
    page.records, page.next_cursor          # newest first; pass next_cursor back for the page after
    queries.newer(filters, after=page.head) # the live view's poll: matching records after seq N, oldest first
    queries.matching(filters)               # every matching record, oldest first, streamed (exports)

Filters are equalities on the indexed facts (store/audit_facts.py) and a time range; a page is found through the
index of one filter and the sequence number (keyset paging: the cursor is the last seq shown, so a page costs the
same at record 10 and record 10,000,000, and records landing meanwhile do not shift it). A time bound becomes a
sequence-number bound, since records are numbered in the order of their times.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any

from .database import Database, StoreError, Transaction

DECISIONS = ("allowed", "denied", "invalid")
MAX_PAGE = 500
_RELATIVE = re.compile(r"^\s*(\d{1,6})\s*(s|m|h|d|w)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_WHO_COLUMNS = ("principal_id", "principal_name", "person")
_CURSOR_PREFIX = "a1."


class FilterError(ValueError):
    """A filter value that cannot be used; the message says what to write instead."""


def stored_time(moment: datetime) -> str:
    """A time as the audit log stores it: UTC, milliseconds, with Z."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_since(value: str, now: datetime | None = None) -> str:
    """A time bound as stored: `15m`, `12h`, `7d`, `2w` (ago), an ISO date (`2026-11-01`, midnight UTC), or an
    ISO time with a zone (`2026-11-01T09:30:00Z`, `…+01:00`). Raises FilterError."""
    text = value.strip()
    relative = _RELATIVE.match(text)
    if relative:
        seconds = int(relative.group(1)) * _UNIT_SECONDS[relative.group(2)]
        if seconds > 3650 * 86400:
            raise FilterError(f"{value!r} reaches back more than ten years: use a smaller number or an ISO date")
        return stored_time((now or datetime.now(UTC)) - timedelta(seconds=seconds))
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise FilterError(
            f"{value!r} is not a time: use an age like 15m, 12h, 7d or 2w, an ISO date like 2026-11-01, or an ISO "
            "time with a zone like 2026-11-01T09:00:00Z"
        ) from None
    if parsed.tzinfo is None:
        if len(text) == 10:  # a bare date: the day begins at midnight UTC
            parsed = parsed.replace(tzinfo=UTC)
        else:
            raise FilterError(f"{value!r} has no time zone: add Z (UTC) or an offset like +01:00")
    return stored_time(parsed)


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """What a person asks for. Every field is optional; set fields must all hold.

    `who` matches a token or grant id, an agent's name, or the person who granted it. `since` and `until` are
    stored times (see `parse_since`); `until` is exclusive."""

    tool: str | None = None
    decision: str | None = None
    who: str | None = None
    project: str | None = None
    since: str | None = None
    until: str | None = None

    def __post_init__(self) -> None:
        if self.decision is not None and self.decision not in DECISIONS:
            raise FilterError(f"decision {self.decision!r} is not one of {', '.join(DECISIONS)}")

    @classmethod
    def of(cls, **values: str | None) -> AuditFilter:
        """A filter from form or command-line values: blanks are no filter; `since`/`until` are parsed."""
        cleaned = {k: (v.strip() if isinstance(v, str) and v.strip() else None) for k, v in values.items()}
        for bound in ("since", "until"):
            if cleaned.get(bound):
                cleaned[bound] = parse_since(str(cleaned[bound]))
        return cls(**cleaned)

    def as_params(self) -> dict[str, str]:
        """The set fields, e.g. for a URL that repeats this filter."""
        return {f.name: str(getattr(self, f.name)) for f in fields(self) if getattr(self, f.name) is not None}

    @property
    def empty(self) -> bool:
        return not self.as_params()


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The seq a cursor of `page` points before (raises FilterError)."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    if not text.startswith(_CURSOR_PREFIX) or not text[len(_CURSOR_PREFIX) :].isdigit():
        raise FilterError("this page cursor is not one bugwarden made: start again from the first page")
    return int(text[len(_CURSOR_PREFIX) :])


@dataclass(frozen=True, slots=True)
class AuditPage:
    records: list[dict[str, Any]]
    """Newest first, each as `audit export` writes it (the stored record with seq, ts, prev_hash and hash)."""
    next_cursor: str | None
    """For the next (older) page; None on the last."""
    head: int
    """The newest seq in the log when the page was read: the live view asks for what came after it."""


def export_line(record: dict[str, Any]) -> str:
    """One record as a line of `audit export` (and of the console's download): sorted keys, no newline."""
    return json.dumps(record, sort_keys=True)


class AuditQueries:
    """Filtered reads of the audit log (one snapshot per call)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def page(self, filters: AuditFilter, *, cursor: str | None = None, limit: int = 50) -> AuditPage:
        """Up to `limit` matching records, newest first, before `cursor` (raises FilterError, StoreError)."""
        limit = max(1, min(limit, MAX_PAGE))
        before = decode_cursor(cursor) if cursor else None
        with self.db.transaction() as tx:
            head = _head(tx)
            low, high = _bounds(tx, filters)
            if before is not None:
                high = min(high, before - 1) if high is not None else before - 1
            seqs = _seqs(tx, filters, low, high, limit + 1, newest_first=True)
            records = _records(tx, seqs[:limit])
        more = len(seqs) > limit
        return AuditPage(records, encode_cursor(seqs[limit - 1]) if more else None, head)

    def newer(self, filters: AuditFilter, *, after: int, limit: int = 100) -> tuple[list[dict[str, Any]], int]:
        """Matching records with seq above `after`, oldest first, and the seq to ask after next time."""
        limit = max(1, min(limit, MAX_PAGE))
        with self.db.transaction() as tx:
            head = _head(tx)
            low, high = _bounds(tx, filters)
            low = max(low or 0, after + 1)
            if high is not None and high < low:
                return [], max(after, head)
            seqs = _seqs(tx, filters, low, high, limit, newest_first=False)
            records = _records(tx, seqs)
        # Had the limit cut the list, the next poll goes on from the last record shown, not from the head.
        return records, (seqs[-1] if len(seqs) == limit else max(after, head))

    def matching(self, filters: AuditFilter, *, batch: int = 1000) -> Iterator[dict[str, Any]]:
        """Every matching record, oldest first, read in batches (each its own snapshot; new records join the end)."""
        with self.db.transaction() as tx:
            low, high = _bounds(tx, filters)
        while True:
            with self.db.transaction() as tx:
                seqs = _seqs(tx, filters, low, high, batch, newest_first=False)
                records = _records(tx, seqs)
            yield from records
            if len(seqs) < batch:
                return
            low = seqs[-1] + 1

    def head(self) -> int:
        with self.db.transaction() as tx:
            return _head(tx)


def _head(tx: Transaction) -> int:
    row = tx.execute("SELECT MAX(seq) FROM audit").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def _bounds(tx: Transaction, filters: AuditFilter) -> tuple[int | None, int | None]:
    """The seq range a time range covers (None: unbounded); an empty range is (1, 0)."""
    low = high = None
    if filters.since:
        # Records are numbered in the order of their times: the first at or after `since` starts the range.
        row = tx.execute(
            "SELECT seq FROM audit_facts WHERE ts >= ? ORDER BY ts, seq LIMIT 1", (filters.since,)
        ).fetchone()
        if row is None:
            return 1, 0
        low = int(row[0])
    if filters.until:
        row = tx.execute(
            "SELECT seq FROM audit_facts WHERE ts < ? ORDER BY ts DESC, seq DESC LIMIT 1", (filters.until,)
        ).fetchone()
        if row is None:
            return 1, 0
        high = int(row[0])
    return low, high


def _seqs(
    tx: Transaction, filters: AuditFilter, low: int | None, high: int | None, limit: int, *, newest_first: bool
) -> list[int]:
    """The seqs of up to `limit` matching records in [low, high]."""
    if low is not None and high is not None and high < low:
        return []
    where: list[str] = []
    params: list[Any] = []
    for column in ("tool", "decision", "project"):
        value = getattr(filters, column)
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    # Without an equality filter, the chain itself by seq (a record is listed even if its facts were lost).
    table = "audit_facts" if where or filters.who is not None else "audit"
    if low is not None:
        where.append("seq >= ?")
        params.append(low)
    if high is not None:
        where.append("seq <= ?")
        params.append(high)
    order = "DESC" if newest_first else "ASC"
    if filters.who is None:
        return _select(tx, table, where, params, order, limit)
    # "who" may be an id, an agent's name or a person: one indexed query per column, merged.
    found: set[int] = set()
    for column in _WHO_COLUMNS:
        found.update(_select(tx, table, [*where, f"{column} = ?"], [*params, filters.who], order, limit))
    return sorted(found, reverse=newest_first)[:limit]


def _select(
    tx: Transaction, table: str, where: Sequence[str], params: Sequence[Any], order: str, limit: int
) -> list[int]:
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    # The limit is written into the statement (an int of ours): PostgreSQL's generic plan for a prepared statement
    # then knows it is small and walks an index in seq order instead of sorting every match.
    sql = f"SELECT seq FROM {table}{clause} ORDER BY seq {order} LIMIT {int(limit)}"  # noqa: S608 - names are ours
    rows = tx.execute(sql, tuple(params)).fetchall()
    return [int(row[0]) for row in rows]


def _records(tx: Transaction, seqs: Sequence[int]) -> list[dict[str, Any]]:
    """The stored records of `seqs`, in that order, as `audit export` writes them."""
    if not seqs:
        return []
    marks = ", ".join("?" for _ in seqs)
    rows = tx.execute(
        f"SELECT seq, ts, record, prev_hash, hash FROM audit WHERE seq IN ({marks})",  # noqa: S608 - placeholders only
        tuple(seqs),
    ).fetchall()
    by_seq: dict[int, dict[str, Any]] = {}
    for seq, ts, body, prev, digest in rows:
        try:
            inner = json.loads(body)
        except ValueError:
            inner = {"unreadable": str(body)[:2000]}
        if not isinstance(inner, dict):
            inner = {"unreadable": str(body)[:2000]}
        by_seq[int(seq)] = {**inner, "seq": int(seq), "ts": ts, "prev_hash": prev, "hash": digest}
    return [by_seq[s] for s in seqs if s in by_seq]


__all__ = [
    "DECISIONS",
    "AuditFilter",
    "AuditPage",
    "AuditQueries",
    "FilterError",
    "StoreError",
    "decode_cursor",
    "encode_cursor",
    "export_line",
    "parse_since",
    "stored_time",
]
