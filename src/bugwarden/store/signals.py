"""Signals: what accepted webhook deliveries said, de-duplicated, newest change first, kept for a while.

Each signal has a `dedup_key` (the same event, release or comment reported again finds its row) and a `seq`
that grows with every change: a new signal, or a new trigger merged into one already stored (BugSnag fires
`exception` and `firstException` for one event). Writers hold the component's write lock, so `seq` is
committed in order and a reader that remembers the last `seq` it saw (`changes_after`) misses nothing,
on any replica sharing the database.

The rows are plain column dicts; what they mean (triggers, tests, summaries) belongs to `bugwarden.hooks`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import UTC, datetime
from typing import Any

from .database import Database, Transaction

FIELDS = (
    "hook_id",
    "source",
    "project_id",
    "trigger_type",
    "triggers",
    "trigger_message",
    "error_id",
    "event_id",
    "error_class",
    "message",
    "context",
    "release_stage",
    "app_version",
    "severity",
    "unhandled",
    "status",
    "occurrences",
    "first_seen",
    "last_seen",
    "dashboard_url",
    "detail",
    "test",
    "received_at",
)
# Statements assembled from FIELDS (ours, never input).
_SELECT = "SELECT seq, dedup_key, " + ", ".join(FIELDS) + ", received FROM signals"  # noqa: S608
_INSERT = (
    "INSERT INTO signals (seq, dedup_key, "  # noqa: S608
    + ", ".join(FIELDS)
    + ", received) VALUES ("
    + ", ".join("?" for _ in range(len(FIELDS) + 3))
    + ")"
)
Merge = Callable[[dict[str, Any], dict[str, Any]], dict[str, Any] | None]
"""(stored row, new fields) -> the columns to change, or None when the delivery adds nothing (a replay)."""


def _row(row: Any) -> dict[str, Any]:
    names = ("seq", "dedup_key", *FIELDS, "received")
    return dict(zip(names, row, strict=True))


class SignalStore:
    """The signals table of a store."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def record(
        self,
        dedup_key: str,
        fields: dict[str, Any],
        received: float,
        merge: Merge,
        keep_for: float,
        hook_id: str | None = None,
    ) -> tuple[str, int]:
        """Store one delivery's signal: ('new', seq), ('merged', seq) when it changed a stored one, or
        ('duplicate', seq) when it adds nothing. Signals received more than `keep_for` seconds ago are dropped.
        The delivery is counted for `hook_id` (accepted, or refused when a duplicate) in the same transaction."""
        with self.db.transaction(write=True) as tx:
            outcome = self._record(tx, dedup_key, fields, received, merge, keep_for)
            if hook_id is not None:
                column = "refused" if outcome[0] == "duplicate" else "accepted"
                tx.execute(
                    f"UPDATE hooks SET {column} = {column} + 1, last_delivery_at = ? WHERE id = ?",  # noqa: S608
                    (datetime.now(UTC).isoformat(timespec="seconds"), hook_id),
                )
            return outcome

    def _record(
        self, tx: Transaction, dedup_key: str, fields: dict[str, Any], received: float, merge: Merge, keep_for: float
    ) -> tuple[str, int]:
        found = tx.execute(_SELECT + " WHERE dedup_key = ?", (dedup_key,)).fetchone()
        top = tx.execute("SELECT MAX(seq) FROM signals").fetchone()
        seq = int(top[0] or 0) + 1 if top else 1
        if found is not None:
            stored = _row(found)
            changes = merge(stored, fields)
            if not changes:
                return "duplicate", int(stored["seq"])
            names = [n for n in changes if n in FIELDS]
            assignments = ", ".join(f"{n} = ?" for n in names)  # names from FIELDS only
            tx.execute(
                f"UPDATE signals SET seq = ?, {assignments} WHERE dedup_key = ?",  # noqa: S608
                (seq, *(changes[n] for n in names), dedup_key),
            )
            return "merged", seq
        tx.execute(_INSERT, (seq, dedup_key, *(fields.get(n) for n in FIELDS), received))
        tx.execute("DELETE FROM signals WHERE received < ?", (received - keep_for,))
        return "new", seq

    def page(
        self,
        *,
        projects: Collection[str] = (),
        project_id: str | None = None,
        trigger: str | None = None,
        release_stage: str | None = None,
        since: float | None = None,
        before: int | None = None,
        limit: int = 20,
    ) -> tuple[list[dict[str, Any]], int | None]:
        """Newest first: (rows, the seq to pass as `before` for the next page, or None). `projects` (non-empty)
        limits the rows to those projects; `trigger` matches any trigger merged into a signal."""
        where: list[str] = []
        params: list[Any] = []
        if projects:
            where.append("project_id IN (" + ", ".join("?" for _ in projects) + ")")
            params += sorted(projects)
        for column, value in (("project_id", project_id), ("release_stage", release_stage)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if trigger is not None:
            where.append("triggers LIKE ?")
            params.append(f"%,{trigger},%")
        if since is not None:
            where.append("received >= ?")
            params.append(since)
        if before is not None:
            where.append("seq < ?")
            params.append(before)
        query = _SELECT + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY seq DESC LIMIT ?"
        with self.db.transaction() as tx:
            rows = [_row(r) for r in tx.execute(query, (*params, limit + 1)).fetchall()]
        more = len(rows) > limit
        rows = rows[:limit]
        return rows, (int(rows[-1]["seq"]) if more and rows else None)

    def latest_seq(self) -> int:
        with self.db.transaction() as tx:
            row = tx.execute("SELECT MAX(seq) FROM signals").fetchone()
        return int(row[0] or 0) if row else 0

    def changes_after(self, seq: int, limit: int = 500) -> list[tuple[int, str]]:
        """(seq, project_id) of every signal stored or changed after `seq`, oldest first."""
        with self.db.transaction() as tx:
            rows = tx.execute(
                "SELECT seq, project_id FROM signals WHERE seq > ? ORDER BY seq LIMIT ?", (seq, limit)
            ).fetchall()
        return [(int(r[0]), str(r[1])) for r in rows]

    def count(self) -> int:
        with self.db.transaction() as tx:
            row = tx.execute("SELECT COUNT(*) FROM signals").fetchone()
        return int(row[0]) if row else 0
