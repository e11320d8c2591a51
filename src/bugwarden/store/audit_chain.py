"""The audit chain's rows: the records (`audit`: seq, ts, record, prev_hash, hash), the chain head (`audit_head`:
the last seq and hash, and the head's MAC) and each record's search facts (audit_facts.py), one implementation per
database.

What a new link holds (its time, body, hash and the head's MAC) is the caller's to compute (guard/audit.py); the
repository hands it the head under the chain's write lock and stores the link, its facts and the moved head in the
same transaction. So any number of processes, or replicas on one PostgreSQL database, append to one chain: SQLite's
`BEGIN IMMEDIATE` (the file's write lock) or PostgreSQL's component lock and the head row's `FOR UPDATE` serialise
them.

    chain = audit_chain(store.audit)
    seq = chain.append(lambda head: ChainLink(...))   # head: the last seq, hash and time, read under the lock
    head, rows = chain.snapshot()                      # what `audit verify` recomputes, from one snapshot
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from .audit_facts import index_record
from .database import Database, StoreError
from .schema import GENESIS

ChainRow = tuple[int, str, str, str, str]
"""One stored record: seq, ts, the record's canonical JSON, prev_hash, hash."""


@dataclass(frozen=True, slots=True)
class ChainHead:
    """The end of the chain as the next append sees it, under the write lock."""

    seq: int
    """The last record's seq (0: the chain is empty)."""
    hash: str
    """The last record's hash (GENESIS: the chain is empty)."""
    last_ts: str | None
    """The last record's stored time (None: the chain is empty, or the record is gone)."""


@dataclass(frozen=True, slots=True)
class ChainLink:
    """One record to append, computed from the `ChainHead` it follows."""

    seq: int
    ts: str
    body: str
    prev_hash: str
    hash: str
    mac: str | None
    """The head's keyed MAC after this link (None: unkeyed)."""
    facts: dict[str, Any] = field(default_factory=dict)
    """The record whose facts the search index repeats (audit_facts.py)."""


@dataclass(frozen=True, slots=True)
class StoredHead:
    """The chain head as stored: what `audit verify` checks the rows against."""

    seq: int
    hash: str
    mac: str | None


class AuditChain(Protocol):
    """The audit chain of one store. Every method raises StoreError when the store cannot be used."""

    def append(self, link: Callable[[ChainHead], ChainLink]) -> int:
        """Append the link `link` computes from the head (called once, under the write lock); returns its seq."""
        ...

    def probe(self) -> None:
        """A write transaction that changes nothing: returns when the chain takes writes now."""
        ...

    def rows(self, since: str | None = None) -> list[ChainRow]:
        """Every row in seq order, from one snapshot; `since` (an ISO UTC time as stored): from the first row
        stored at or after it to the end (a cut by sequence, so no later row is left out where an older log's times
        run backwards)."""
        ...

    def last(self, n: int) -> list[ChainRow]:
        """The last `n` rows, oldest first."""
        ...

    def count(self) -> int:
        """The head's seq: how many records the chain holds."""
        ...

    def snapshot(self) -> tuple[StoredHead | None, list[ChainRow]]:
        """The head and every row in seq order, from one snapshot."""
        ...

    def close(self) -> None: ...


_ROWS = "SELECT seq, ts, record, prev_hash, hash FROM audit"


def _row(row: Any) -> ChainRow:
    seq, ts, body, prev, digest = row
    return int(seq), ts, body, prev, digest


class _SqlAuditChain:
    """The chain in SQL both dialects run; a dialect's class says how the head is read for update."""

    HEAD_FOR_UPDATE: ClassVar[str]

    def __init__(self, db: Database) -> None:
        self.db = db

    def append(self, link: Callable[[ChainHead], ChainLink]) -> int:
        with self.db.transaction(write=True) as tx:
            head = tx.execute(self.HEAD_FOR_UPDATE).fetchone()
            seq, digest = (int(head[0]), str(head[1])) if head else (0, GENESIS)
            last = tx.execute("SELECT ts FROM audit WHERE seq = ?", (seq,)).fetchone() if seq > 0 else None
            new = link(ChainHead(seq, digest, str(last[0]) if last is not None else None))
            if new.seq != seq + 1 or new.prev_hash != digest:
                raise StoreError(f"audit chain: a link for seq {new.seq} cannot follow the head at seq {seq}")
            tx.execute(
                "INSERT INTO audit (seq, ts, record, prev_hash, hash) VALUES (?, ?, ?, ?, ?)",
                (new.seq, new.ts, new.body, new.prev_hash, new.hash),
            )
            index_record(tx, new.seq, new.ts, new.facts)
            tx.execute("UPDATE audit_head SET seq = ?, hash = ?, mac = ? WHERE id = 1", (new.seq, new.hash, new.mac))
        return new.seq

    def probe(self) -> None:
        with self.db.transaction(write=True) as tx:
            tx.execute("SELECT seq FROM audit_head WHERE id = 1").fetchone()

    def rows(self, since: str | None = None) -> list[ChainRow]:
        query = _ROWS
        if since:
            query += (
                " WHERE seq >= (SELECT COALESCE(MIN(seq), (SELECT MAX(seq) + 1 FROM audit)) FROM audit WHERE ts >= ?)"
            )
        with self.db.transaction() as tx:
            return [_row(r) for r in tx.execute(query + " ORDER BY seq", (since,) if since else ()).fetchall()]

    def last(self, n: int) -> list[ChainRow]:
        with self.db.transaction() as tx:
            rows = tx.execute(_ROWS + " ORDER BY seq DESC LIMIT ?", (n,)).fetchall()
        return [_row(r) for r in reversed(rows)]

    def count(self) -> int:
        with self.db.transaction() as tx:
            row = tx.execute("SELECT seq FROM audit_head WHERE id = 1").fetchone()
        return int(row[0]) if row else 0

    def snapshot(self) -> tuple[StoredHead | None, list[ChainRow]]:
        with self.db.transaction() as tx:
            head = tx.execute("SELECT seq, hash, mac FROM audit_head WHERE id = 1").fetchone()
            rows = tx.execute(_ROWS + " ORDER BY seq").fetchall()
        stored = StoredHead(int(head[0]), str(head[1]), None if head[2] is None else str(head[2])) if head else None
        return stored, [_row(r) for r in rows]

    def close(self) -> None:
        self.db.close()


class SqliteAuditChain(_SqlAuditChain):
    HEAD_FOR_UPDATE = "SELECT seq, hash FROM audit_head WHERE id = 1"  # BEGIN IMMEDIATE already holds the write lock


class PostgresAuditChain(_SqlAuditChain):
    HEAD_FOR_UPDATE = "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE"


def audit_chain(db: Database) -> AuditChain:
    """The audit chain in `db`, in its dialect."""
    chains: dict[str, type[_SqlAuditChain]] = {"sqlite": SqliteAuditChain, "postgres": PostgresAuditChain}
    return chains[db.dialect](db)
