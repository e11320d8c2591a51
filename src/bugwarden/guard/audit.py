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
import hmac
import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from ..store import Database, Store, StoreError
from ..store.audit_facts import index_record
from ..store.journal import Journal
from ..store.keys import KeyRing
from ..store.schema import GENESIS
from .principal import Principal

log = logging.getLogger("bugwarden.audit")
HEAD_FOR_UPDATE = {
    "sqlite": "SELECT seq, hash FROM audit_head WHERE id = 1",  # BEGIN IMMEDIATE already holds the write lock
    "postgres": "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE",
}
_SECRET_KEY = re.compile(r"token|secret|password|passwd|authorization|api[_-]?key|cookie|credential", re.I)
_CONFIRM_CODE = re.compile(r"cf_[0-9a-f]{1,12}_[0-9a-f]{12}_[0-9a-f]{32}")
_SECRET_VALUE = re.compile(r"\bbw_[A-Za-z0-9_-]{16,}|\b(?:sk|pk)_(?:live|test)_[A-Za-z0-9]{8,}")


MAX_DEPTH = 8


def code_fingerprint(code: str) -> str:
    """How a confirmation code is stored in the audit log: its hash, which matches the code an operator holds but
    cannot be sent back as one."""
    return "cf-sha256:" + hashlib.sha256(code.encode()).hexdigest()[:32]


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
        value = _CONFIRM_CODE.sub(lambda m: code_fingerprint(m.group(0)), value)
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
    labels: dict[str, str] = field(default_factory=dict)
    """What the tracker calls the targets (`error`: an error's class and message), for people reading the log.
    Upstream text: shown only as data."""

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


class AuditError(StoreError):
    """The audit store could not record; callers refuse writes and withhold reads on it."""


class AuditLog:
    """Append-only, hash-chained records in one database (SQLite `audit.sqlite3`, or PostgreSQL)."""

    def __init__(
        self,
        db: Database,
        clock: Any = time.monotonic,
        journal: Journal | None = None,
        head_key: Callable[[], bytes] | None = None,
    ) -> None:
        self.db = db
        self._clock = clock
        self.journal = journal
        """Where records go while the store cannot take them (see store/journal.py); None: nowhere."""
        self.healthy = True
        """False since an append failed, until one succeeds: reads are then checked with `ready()` before they run."""
        self._head_key = head_key
        """Keys the chain head (HMAC over its seq and hash) so that moving it back is noticed; every writer of a
        served log has it (`for_store`). Without it, writes leave the head unkeyed and `verify` cannot check it."""

    @classmethod
    def for_store(
        cls, store: Store, state_key: str | None = None, clock: Any = time.monotonic, journal: Journal | None = None
    ) -> AuditLog:
        """The audit log of `store`, its head keyed with the store's key (or one derived from BUGWARDEN_STATE_KEY)."""
        keys = KeyRing(store.state, state_key)
        return cls(store.audit, clock=clock, journal=journal, head_key=lambda: keys.key("audit-head"))

    def _head_mac(self, seq: int, digest: str, key: bytes | None = None) -> str | None:
        key = key if key is not None else (self._head_key() if self._head_key is not None else None)
        if key is None:
            return None
        return hmac.new(key, f"audit-head|{seq}|{digest}".encode(), hashlib.sha256).hexdigest()

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
            key = self._head_key() if self._head_key is not None else None  # read before the head is locked
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
                mac = self._head_mac(seq, digest, key)
                tx.execute("UPDATE audit_head SET seq = ?, hash = ?, mac = ? WHERE id = 1", (seq, digest, mac))
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

    def verify(self, against: Iterable[dict[str, Any]] | None = None) -> tuple[bool, str]:
        """Recompute the chain from one snapshot. Returns (ok, message naming the first bad record).

        With a head key, the head must carry its keyed MAC (a head moved back, with records cut from the end,
        does not). `against` is an earlier export (records with `seq` and `hash`): the live log must still hold
        it unchanged, as its prefix."""
        with self.db.transaction() as tx:
            head = tx.execute("SELECT seq, hash, mac FROM audit_head WHERE id = 1").fetchone()
            rows = tx.execute("SELECT seq, ts, record, prev_hash, hash FROM audit ORDER BY seq").fetchall()
        ok, message = self._verify_rows(head, rows)
        if not ok:
            return ok, message
        if self._head_key is not None and head is not None and int(head[0]) > 0:
            expected_mac = self._head_mac(int(head[0]), str(head[1]))
            if head[2] is None:
                return False, (
                    f"record {int(head[0])}: the chain head carries no key, so records may have been cut from the "
                    "end (right after an upgrade, the next call keys it: verify again after one call)"
                )
            if not hmac.compare_digest(str(head[2]), str(expected_mac)):
                return False, (
                    f"record {int(head[0])}: the chain head was not written by bugwarden (moved back after records "
                    "were cut from the end, or forged)"
                )
        if against is not None:
            return _contains(rows, against, message)
        return ok, message

    def _verify_rows(self, head: Any, rows: list[Any]) -> tuple[bool, str]:
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


def _contains(rows: list[Any], export: Iterable[dict[str, Any]], verdict: str) -> tuple[bool, str]:
    """Whether the live rows (already verified as one chain) hold the exported records unchanged, in place: the
    same hash at the same seq proves everything up to it is unchanged, because each hash covers all before it."""
    live = {int(seq): str(digest) for seq, _ts, _body, _prev, digest in rows}
    last = max(live, default=0)
    seen, first, final = 0, 0, 0
    for number, record in enumerate(export, 1):
        seq, digest = record.get("seq"), record.get("hash")
        if not isinstance(seq, int) or not isinstance(digest, str):
            return False, f"export line {number}: not an audit record (no seq or hash): pass an `audit export` file"
        first, final = first or seq, seq
        if seq > last:
            return False, (
                f"record {seq}: in the export but not in the live log, which ends at {last} "
                "(records were cut from the end)"
            )
        if live.get(seq) != digest:
            return False, f"record {seq}: differs from the export (the live log was rewritten)"
        seen += 1
    if seen == 0:
        return False, "the export holds no records: nothing to compare"
    return True, f"{verdict}; it still holds the export's {seen} records ({first}..{final}) unchanged"
