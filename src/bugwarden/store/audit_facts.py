"""The audit log's search index: the facts a person filters on, one row per record, beside the chain.

The chain (`audit`: seq, ts, record, prev_hash, hash) is what `audit verify` proves; `audit_facts` repeats a few
fields of each record in columns (time, tool, decision, who, project) so that the console and `audit tail` can
filter a year of records through indexes instead of parsing every record. The facts are written in the same
transaction as the record they describe, and are never trusted for integrity: a page shows the record itself.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .database import Transaction

# Facts left behind by records removed from the chain (which `audit verify` reports) give way to the new record's.
_INSERT = (
    "INSERT INTO audit_facts (seq, ts, tool, decision, phase, principal_id, principal_name, person, project) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (seq) DO UPDATE SET ts = excluded.ts, tool = excluded.tool, "
    "decision = excluded.decision, phase = excluded.phase, principal_id = excluded.principal_id, "
    "principal_name = excluded.principal_name, person = excluded.person, project = excluded.project"
)
_BACKFILL_BATCH = 5_000


def _text(value: Any, limit: int = 200) -> str | None:
    if value is None or value == "":
        return None
    return str(value)[:limit]


def facts_of(seq: int, ts: str, record: dict[str, Any]) -> tuple[Any, ...]:
    """The indexed columns of one record (missing fields are NULL; long values are capped)."""
    targets = record.get("targets")
    project = targets.get("project_id") if isinstance(targets, dict) else None
    person = record.get("person") or record.get("granted_by")
    return (
        seq,
        ts,
        _text(record.get("tool")),
        _text(record.get("decision")),
        _text(record.get("phase")),
        _text(record.get("principal_id")),
        _text(record.get("principal_name")),
        _text(person),
        _text(project),
    )


def index_record(tx: Transaction, seq: int, ts: str, record: dict[str, Any]) -> None:
    """Add one record's facts; call in the transaction that appends the record."""
    tx.execute(_INSERT, facts_of(seq, ts, record))


def backfill(tx: Transaction, home: Path | None) -> None:
    """Index the records written before the index existed (the migration that creates it runs this)."""
    last = 0
    while True:
        rows = tx.execute(
            "SELECT seq, ts, record FROM audit WHERE seq > ? ORDER BY seq LIMIT ?", (last, _BACKFILL_BATCH)
        ).fetchall()
        if not rows:
            return
        for seq, ts, body in rows:
            try:
                record = json.loads(body)
            except ValueError:
                record = {}  # an edited record: `audit verify` reports it; it is still listed, unfiltered
            index_record(tx, int(seq), str(ts), record if isinstance(record, dict) else {})
        last = int(rows[-1][0])


FACTS_SQLITE = (
    "CREATE TABLE audit_facts (seq INTEGER PRIMARY KEY, ts TEXT NOT NULL, tool TEXT, decision TEXT, phase TEXT, "
    "principal_id TEXT, principal_name TEXT, person TEXT, project TEXT)",
)
FACTS_POSTGRES = (
    "CREATE TABLE audit_facts (seq BIGINT PRIMARY KEY, ts TEXT NOT NULL, tool TEXT, decision TEXT, phase TEXT, "
    "principal_id TEXT, principal_name TEXT, person TEXT, project TEXT)",
)
FACTS_INDEXES = (
    # Every filter is an equality on one column, paged newest first by seq: (column, seq) serves both.
    "CREATE INDEX audit_facts_ts ON audit_facts (ts, seq)",
    "CREATE INDEX audit_facts_tool ON audit_facts (tool, seq)",
    "CREATE INDEX audit_facts_decision ON audit_facts (decision, seq)",
    "CREATE INDEX audit_facts_principal_id ON audit_facts (principal_id, seq)",
    "CREATE INDEX audit_facts_principal_name ON audit_facts (principal_name, seq)",
    "CREATE INDEX audit_facts_person ON audit_facts (person, seq)",
    "CREATE INDEX audit_facts_project ON audit_facts (project, seq)",
)
