"""The tamper-evident audit log: hash-chained records of every invocation, one chain per store.

Each record carries `seq`, `prev_hash` and `hash = sha256(prev_hash || canonical JSON of the record)`.
The chain head (last seq and hash) lives in the same database and is moved in the same transaction
as the record, so any number of processes (or replicas on one PostgreSQL database) append to one
chain: the write lock (SQLite) or the head row lock (PostgreSQL) serialises them. `verify()`
recomputes the chain from one snapshot and names the first record that was edited, deleted,
inserted, moved or cut off the end.

Writes log an `intent` record before the upstream call; if that cannot be stored the write does
not happen.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from ..store import Database, StoreError
from ..store.audit_facts import index_record
from ..store.journal import Journal
from ..store.schema import GENESIS
from .principal import Principal

log = logging.getLogger("bugwarden.audit")
HEAD_FOR_UPDATE = {
    "sqlite": "SELECT seq, hash FROM audit_head WHERE id = 1",  # BEGIN IMMEDIATE already holds the write lock
    "postgres": "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE",
}
_SECRET_KEY = re.compile(r"token|secret|password|passwd|authorization|api[_-]?key|cookie|credential", re.I)
_SECRET_VALUE = re.compile(r"\bbw_[A-Za-z0-9_-]{16,}|\b(?:sk|pk)_(?:live|test)_[A-Za-z0-9]{8,}")


MAX_DEPTH = 8


def redact(value: Any, key: str = "", depth: int = 0) -> Any:
    """Arguments as they may be stored: secret-looking keys and values replaced, long strings capped, nesting
    deeper than MAX_DEPTH cut (JSON of any depth is recorded, never a recursion error)."""
    if key and _SECRET_KEY.search(key):
        return "[redacted]"
    if isinstance(value, dict | list | tuple) and depth >= MAX_DEPTH:
        return "[nested too deep]"
    if isinstance(value, dict):
        return {str(k)[:100]: redact(v, str(k), depth + 1) for k, v in list(value.items())[:50]}
    if isinstance(value, list | tuple):
        return [redact(v, "", depth + 1) for v in list(value)[:50]]
    if isinstance(value, str):
        value = _SECRET_VALUE.sub("[redacted]", value)
        return value if len(value) <= 300 else value[:300] + "…"
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact(str(value))


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One invocation's facts, built in steps by the checkpoint and stored by `AuditLog`.

    `decision` is `allowed`, `denied` (policy) or `invalid` (the arguments were refused);
    `outcome` says how it ended: `ok`, `denied`, `invalid_argument`, `input_required`, the upstream
    error class (`NotFound`, `RateLimited`, ...) or `internal_error:<reference>`.
    """

    invocation: str
    principal_id: str
    principal_name: str
    client_name: str | None
    client_version: str | None
    transport: str
    tool: str
    arguments: dict[str, Any]
    backend: str | None = None
    targets: dict[str, str] = field(default_factory=dict)
    decision: str = "pending"
    reason: str = ""
    phase: str = "result"
    outcome: str | None = None
    consent: str | None = None
    upstream_status: int | None = None
    duration_ms: float | None = None
    result_bytes: int | None = None
    person: str | None = None
    """Calls through an OAuth grant: the person who gave it, and the OAuth client it was given to."""
    oauth_client: str | None = None

    @classmethod
    def start(
        cls, *, principal: Principal, client: tuple[str | None, str | None], transport: str, tool: str, arguments: Any
    ) -> AuditRecord:
        return cls(
            invocation=uuid.uuid4().hex,
            principal_id=principal.id,
            principal_name=principal.name,
            client_name=client[0],
            client_version=client[1],
            transport=transport,
            tool=tool[:100],
            arguments=redact(arguments) if isinstance(arguments, dict) else {"_": redact(arguments)},
            person=principal.person,
            oauth_client=principal.client_id,
        )

    def by(self, principal: Principal) -> AuditRecord:
        return replace(
            self,
            principal_id=principal.id,
            principal_name=principal.name,
            person=principal.person,
            oauth_client=principal.client_id,
        )

    def targeting(self, backend: str | None, targets: dict[str, str], arguments: dict[str, Any]) -> AuditRecord:
        """The record with the resolved targets (default project filled in, URLs unpacked) and their backend."""
        return replace(self, backend=backend, targets=targets, arguments=redact(arguments))

    def refused(self, decision: str, reason: str, outcome: str | None = None) -> AuditRecord:
        kind = outcome or ("denied" if decision == "denied" else "invalid_argument")
        return replace(self, decision=decision, reason=reason, outcome=kind)

    def allowed(self, reason: str) -> AuditRecord:
        return replace(self, decision="allowed", reason=reason)

    def finished(
        self, outcome: str, *, upstream_status: int | None = None, result_bytes: int = 0, consent: str | None = None
    ) -> AuditRecord:
        return replace(
            self, outcome=outcome, upstream_status=upstream_status, result_bytes=result_bytes, consent=consent
        )


class AuditError(RuntimeError):
    """The audit store could not record; callers refuse writes and withhold reads on it."""


class AuditLog:
    """Append-only, hash-chained records in one database (SQLite `audit.sqlite3`, or PostgreSQL)."""

    def __init__(self, db: Database, clock: Any = time.monotonic, journal: Journal | None = None) -> None:
        self.db = db
        self._clock = clock
        self.journal = journal
        """Where records go while the store cannot take them (see store/journal.py); None: nowhere."""
        self.healthy = True
        """False since an append failed, until one succeeds: reads are then checked with `ready()` before they run."""

    def close(self) -> None:
        self.db.close()

    # -- writing ----------------------------------------------------------------------------------

    def append(self, record: dict[str, Any], *, started: float | None = None) -> int:
        """Store one record durably and return its sequence number (raises AuditError).

        The record's time is taken under the write lock and never earlier than the record before it, so times
        never run backwards in sequence order (a clock stepped back repeats the last time instead). With
        `started` (on `clock`), `duration_ms` is measured under the lock too: it includes any wait for the store.
        """
        try:
            if self.journal is not None and not self.journal.draining and self.journal.pending():
                self.journal.drain(self.append)  # what was refused during an outage goes first, in its order
            with self.db.transaction(write=True) as tx:
                head = tx.execute(HEAD_FOR_UPDATE[self.db.dialect]).fetchone()
                seq, prev = (int(head[0]) + 1, str(head[1])) if head else (1, GENESIS)
                ts = _now()
                if seq > 1:
                    last = tx.execute("SELECT ts FROM audit WHERE seq = ?", (seq - 1,)).fetchone()
                    if last is not None and str(last[0]) > ts:
                        ts = str(last[0])
                if started is not None:
                    record = {**record, "duration_ms": round((self._clock() - started) * 1000, 1)}
                body = canonical({**record, "seq": seq, "ts": ts})
                digest = chain_hash(prev, body)
                tx.execute(
                    "INSERT INTO audit (seq, ts, record, prev_hash, hash) VALUES (?, ?, ?, ?, ?)",
                    (seq, ts, body, prev, digest),
                )
                index_record(tx, seq, ts, record)
                tx.execute("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1", (seq, digest))
        except (StoreError, AuditError) as exc:
            self.healthy = False
            log.error("audit store failed: %s", exc)
            raise AuditError("the audit log could not record this call") from exc
        self.healthy = True
        return seq

    def keep(self, record: AuditRecord, started: float | None = None) -> bool:
        """The store could not take `record`: keep it in the outage journal, to be appended when the store returns
        (False when there is no journal or it could not keep it)."""
        if self.journal is None:
            return False
        body = asdict(record)
        if started is not None:
            body["duration_ms"] = round((self._clock() - started) * 1000, 1)
        return self.journal.keep(body)

    def ready(self) -> bool:
        """Whether the store takes writes now (a write transaction that changes nothing); sets `healthy`."""
        try:
            with self.db.transaction(write=True) as tx:
                tx.execute("SELECT seq FROM audit_head WHERE id = 1").fetchone()
        except StoreError:
            self.healthy = False
            return False
        self.healthy = True
        return True

    def write_intent(self, record: AuditRecord) -> int:
        return self.append(asdict(replace(record, phase="intent", outcome="pending")))

    def finish(self, record: AuditRecord, started: float) -> int:
        """Store the final record of an invocation, its duration including the wait for the store (raises
        AuditError)."""
        return self.append(asdict(record), started=started)

    # -- reading ----------------------------------------------------------------------------------

    def rows(self, since: str | None = None) -> Iterator[tuple[int, str, str, str, str]]:
        """Rows in order, from one snapshot; `since` is an ISO UTC time in the stored format: every record from
        the first one stored at or after it, to the end (a cut by sequence, so no later record is left out even
        where an older log's times run backwards)."""
        query = "SELECT seq, ts, record, prev_hash, hash FROM audit"
        params: tuple[Any, ...] = ()
        if since:
            query += (
                " WHERE seq >= (SELECT COALESCE(MIN(seq), (SELECT MAX(seq) + 1 FROM audit)) FROM audit WHERE ts >= ?)"
            )
            params = (since,)
        with self.db.transaction() as tx:
            for seq, ts, body, prev, digest in tx.execute(query + " ORDER BY seq", params).fetchall():
                yield int(seq), ts, body, prev, digest

    def records(self, since: str | None = None) -> Iterator[dict[str, Any]]:
        for seq, ts, body, prev, digest in self.rows(since):
            yield {**json.loads(body), "seq": seq, "ts": ts, "prev_hash": prev, "hash": digest}

    def last(self, n: int) -> list[dict[str, Any]]:
        """The last `n` records, oldest first (none for n = 0)."""
        if n <= 0:
            return []
        with self.db.transaction() as tx:
            rows = tx.execute(
                "SELECT seq, ts, record, prev_hash, hash FROM audit ORDER BY seq DESC LIMIT ?", (n,)
            ).fetchall()
        return [
            {**json.loads(body), "seq": int(seq), "ts": ts, "prev_hash": prev, "hash": digest}
            for seq, ts, body, prev, digest in reversed(rows)
        ]

    def count(self) -> int:
        with self.db.transaction() as tx:
            row = tx.execute("SELECT seq FROM audit_head WHERE id = 1").fetchone()
        return int(row[0]) if row else 0

    def verify(self) -> tuple[bool, str]:
        """Recompute the chain from one snapshot. Returns (ok, message naming the first bad record)."""
        with self.db.transaction() as tx:
            head = tx.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
            rows = tx.execute("SELECT seq, ts, record, prev_hash, hash FROM audit ORDER BY seq").fetchall()
        prev, expected = GENESIS, 1
        for seq, ts, body, prev_hash, digest in rows:
            try:
                inner = json.loads(body)
            except ValueError:
                return False, f"record {seq}: body is not valid JSON (edited)"
            if seq != expected:
                return False, f"record {seq}: expected seq {expected} (a record was deleted or inserted)"
            if inner.get("seq") != seq or inner.get("ts") != ts:
                return False, f"record {seq}: seq or time does not match its body (moved or edited)"
            if prev_hash != prev:
                return False, f"record {seq}: prev_hash does not match record {seq - 1} (chain broken)"
            if chain_hash(prev_hash, body) != digest:
                return False, f"record {seq}: hash mismatch (the record was edited)"
            prev, expected = digest, seq + 1
        count = expected - 1
        head_seq, head_hash = (int(head[0]), str(head[1])) if head else (0, GENESIS)
        if head_seq > count:
            return (
                False,
                f"record {count + 1}: the log ends at {count} but the head says {head_seq} "
                "(records were removed from the end)",
            )
        if head_seq < count:
            return False, f"record {head_seq + 1}: the head says {head_seq} but the log goes on (records were added)"
        if head_hash != prev:
            return False, f"record {count}: does not match the chain head (records were replaced)"
        return True, f"ok: {count} records, chain intact"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def canonical(record: dict[str, Any]) -> str:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def chain_hash(prev: str, body: str) -> str:
    return hashlib.sha256((prev + "\n" + body).encode()).hexdigest()
