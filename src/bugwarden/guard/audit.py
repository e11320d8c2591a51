"""The tamper-evident audit log: one hash-chained record per tool invocation, in SQLite.

Each record carries `seq`, `prev_hash` and `hash = sha256(prev_hash || canonical JSON of the record)`.
`verify()` recomputes the chain and names the first record that was edited, deleted, inserted
or moved. The head (last seq and hash) is also written beside the database so that cutting
records off the end is detected too. Writes log an `intent` record, durably, before the upstream
call; if that cannot be stored the write does not happen.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .principal import Principal

GENESIS = "0" * 64
_SECRET_KEY = re.compile(r"token|secret|password|passwd|authorization|api[_-]?key|cookie|credential", re.I)
_SECRET_VALUE = re.compile(r"\bbw_[A-Za-z0-9_-]{16,}|\b(?:sk|pk)_(?:live|test)_[A-Za-z0-9]{8,}")


def redact(value: Any, key: str = "") -> Any:
    """Arguments as they may be stored: secret-looking keys and values replaced, long strings capped."""
    if key and _SECRET_KEY.search(key):
        return "[redacted]"
    if isinstance(value, dict):
        return {str(k): redact(v, str(k)) for k, v in list(value.items())[:50]}
    if isinstance(value, list):
        return [redact(v) for v in value[:50]]
    if isinstance(value, str):
        value = _SECRET_VALUE.sub("[redacted]", value)
        return value if len(value) <= 300 else value[:300] + "…"
    return value


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One invocation's facts. Built in steps by the choke point; stored by `AuditLog`."""

    invocation: str
    principal_id: str
    principal_name: str
    client_name: str | None
    client_version: str | None
    transport: str
    tool: str
    backend: str
    arguments: dict[str, Any]
    targets: dict[str, str] = field(default_factory=dict)
    decision: str = "pending"
    reason: str = ""
    phase: str = "result"
    outcome: str | None = None
    upstream_status: int | None = None
    duration_ms: float | None = None
    result_bytes: int | None = None

    @classmethod
    def start(
        cls,
        *,
        principal: Principal,
        client: tuple[str | None, str | None],
        transport: str,
        tool: str,
        arguments: dict[str, Any],
        backend: str,
    ) -> AuditRecord:
        return cls(
            invocation=uuid.uuid4().hex,
            principal_id=principal.id,
            principal_name=principal.name,
            client_name=client[0],
            client_version=client[1],
            transport=transport,
            tool=tool,
            backend=backend,
            arguments=redact(arguments),
        )

    def with_targets(self, arguments: dict[str, Any], backend: str | None = None) -> AuditRecord:
        """The record with the resolved targets (default project filled in, URLs unpacked) and their backend."""
        targets = {
            k: str(arguments[k])
            for k in ("project_id", "error_id", "event_id", "organization_id")
            if arguments.get(k) is not None
        }
        return replace(self, targets=targets, arguments=redact(arguments), backend=backend or self.backend)

    def denied(self, reason: str) -> AuditRecord:
        return replace(self, decision="denied", reason=reason, outcome="denied")

    def allowed(self, reason: str) -> AuditRecord:
        return replace(self, decision="allowed", reason=reason)

    def finished(self, outcome: str, *, upstream_status: int | None = None, result_bytes: int = 0) -> AuditRecord:
        return replace(self, outcome=outcome, upstream_status=upstream_status, result_bytes=result_bytes)


class AuditError(RuntimeError):
    """The audit store could not record; callers refuse writes on it."""


class AuditLog:
    """Append-only, hash-chained records in `<home>/audit.sqlite3` (owner-only permissions, WAL)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.head_path = path.with_suffix(".head")
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fresh = not path.exists()
        if fresh:
            path.touch(mode=0o600)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS audit (seq INTEGER PRIMARY KEY, ts TEXT NOT NULL, "
            "record TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL)"
        )

    @classmethod
    def open(cls, home: Path) -> AuditLog:
        return cls(Path(home) / "audit.sqlite3")

    def close(self) -> None:
        self._db.close()

    # -- writing ----------------------------------------------------------------------------------

    def append(self, record: dict[str, Any]) -> int:
        """Store one record durably and return its sequence number (raises AuditError)."""
        ts = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                row = self._db.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
                seq, prev = (row[0] + 1, row[1]) if row else (1, GENESIS)
                body = canonical({**record, "seq": seq, "ts": ts})
                digest = chain_hash(prev, body)
                self._db.execute(
                    "INSERT INTO audit (seq, ts, record, prev_hash, hash) VALUES (?, ?, ?, ?, ?)",
                    (seq, ts, body, prev, digest),
                )
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    if self._db.in_transaction:
                        self._db.execute("ROLLBACK")
                raise AuditError(f"audit store failed: {exc}") from exc
            self._write_head(seq, digest)
            return seq

    def _write_head(self, seq: int, digest: str) -> None:
        tmp = self.head_path.with_suffix(".head.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(f"{seq} {digest}\n")
        os.replace(tmp, self.head_path)

    def write_intent(self, record: AuditRecord) -> int:
        return self.append(asdict(replace(record, phase="intent", outcome="pending")))

    def finish(self, record: AuditRecord, started: float) -> int:
        """Store the final record of an invocation (raises AuditError; the caller then withholds the result)."""
        return self.append(asdict(replace(record, duration_ms=round((time.monotonic() - started) * 1000, 1))))

    # -- reading ----------------------------------------------------------------------------------

    def rows(self, since: str | None = None) -> Iterator[tuple[int, str, str, str, str]]:
        query = "SELECT seq, ts, record, prev_hash, hash FROM audit"
        params: tuple[Any, ...] = ()
        if since:
            query += " WHERE ts >= ?"
            params = (since,)
        yield from self._db.execute(query + " ORDER BY seq", params)

    def records(self, since: str | None = None) -> Iterator[dict[str, Any]]:
        for seq, ts, body, prev, digest in self.rows(since):
            yield {**json.loads(body), "seq": seq, "ts": ts, "prev_hash": prev, "hash": digest}

    def verify(self) -> tuple[bool, str]:
        """Recompute the chain. Returns (ok, message naming the first bad record).

        The head file is a checkpoint written after each commit. A head behind the end of the log is what a
        crash between the two leaves, and is fine when its hash matches the record at its position; a head
        past the end means records were cut off, and a hash mismatch means they were replaced.
        """
        prev, expected, count = GENESIS, 1, 0
        hashes: dict[int, str] = {}
        for seq, ts, body, prev_hash, digest in self.rows():
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
            prev, expected, count = digest, seq + 1, count + 1
            hashes[seq] = digest
        head = self.head_path.read_text().split() if self.head_path.exists() else []
        if len(head) == 2 and head[0].isdigit():
            head_seq, head_hash = int(head[0]), head[1]
            if head_seq > count:
                return (
                    False,
                    f"record {count + 1}: the log ends at {count} but the head says {head_seq} "
                    "(records were removed from the end)",
                )
            if head_seq and hashes.get(head_seq) != head_hash:
                return False, f"record {head_seq}: does not match the head checkpoint (records were replaced)"
            if head_seq < count:
                return (
                    True,
                    f"ok: {count} records, chain intact ({count - head_seq} after the last checkpoint, "
                    "as a crash between commit and checkpoint leaves)",
                )
        return True, f"ok: {count} records, chain intact"


def canonical(record: dict[str, Any]) -> str:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def chain_hash(prev: str, body: str) -> str:
    return hashlib.sha256((prev + "\n" + body).encode()).hexdigest()
