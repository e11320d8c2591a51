"""One seam for every piece of persistent state: a `Database` that runs transactions.

Repositories (tokens, audit, keys, confirmations, rate buckets, the upstream quota) are written once
against this interface, in SQL that both dialects accept (`?` placeholders, translated for
PostgreSQL); where they differ (row locks) a repository picks by `db.dialect`. The embedded default
is SQLite files under `BUGWARDEN_HOME`; PostgreSQL serves teams running replicas.

Failures surface as `StoreError`, whose message is for operators (stderr, the CLI): agents are
told only that the audit log or token store could not be used.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from ..errors import BugwardenError

log = logging.getLogger("bugwarden.store")


class StoreError(BugwardenError, RuntimeError):
    """The state store could not be used: unreachable, locked, unwritable, corrupt, or a schema mismatch."""

    outcome = "store_unavailable"


DEFAULT_WAIT = 30.0
"""The bound on a store wait outside any call (the CLI, start-up)."""
MIN_WAIT = 1.0
"""The least a store step may wait, even past its call's deadline."""
_until: contextvars.ContextVar[float | None] = contextvars.ContextVar("bugwarden_store_until", default=None)


@contextlib.contextmanager
def bounded(until: float) -> Iterator[None]:
    """Bound store waits in this context (worker threads started from it included) by `until` (time.monotonic):
    a tool call's deadline."""
    token = _until.set(until)
    try:
        yield
    finally:
        _until.reset(token)


def wait_limit(default: float = DEFAULT_WAIT) -> float:
    """Seconds a store wait may last now: to the bound in force (at least `MIN_WAIT`), or `default` outside one."""
    until = _until.get()
    if until is None:
        return default
    return max(MIN_WAIT, until - time.monotonic())


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Transaction(Protocol):
    """Statements inside one transaction."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor: ...


class Database(Protocol):
    dialect: str
    """'sqlite' or 'postgres'."""

    def transaction(self, *, write: bool = False) -> contextlib.AbstractContextManager[Transaction]:
        """A transaction; `write=True` takes the write lock at once (SQLite: BEGIN IMMEDIATE), so that reads
        inside it see the state the write will commit on top of. Raises StoreError."""
        ...

    def close(self) -> None: ...


class _SqliteTransaction:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        return self._conn.execute(sql, tuple(params))


class SqliteDatabase:
    """One SQLite file (owner-only permissions, WAL). Writers serialise on the file lock, across processes too;
    a read transaction sees one snapshot."""

    dialect = "sqlite"

    def __init__(self, path: Path, *, durable: bool = False) -> None:
        self.path = path
        self._lock = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            if not path.exists():
                fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
                os.close(fd)
            self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
            self._conn.execute("PRAGMA busy_timeout = 30000")
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute(f"PRAGMA synchronous = {'FULL' if durable else 'NORMAL'}")
        except FileExistsError:
            raise StoreError(f"{path.parent} is not a directory: point BUGWARDEN_HOME at a directory") from None
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open {path}: {exc}") from exc

    @contextlib.contextmanager
    def transaction(self, *, write: bool = False) -> Iterator[Transaction]:
        """Waits for this process's connection and for the file's lock end by the bound in force (`wait_limit`)."""
        limit = wait_limit()
        started = time.monotonic()
        if not self._lock.acquire(timeout=limit):
            raise StoreError(f"{self.path}: still busy after {limit:.1f}s (this call's time for the store ran out)")
        try:
            left = max(0.001, limit - (time.monotonic() - started))
            try:
                self._conn.execute(f"PRAGMA busy_timeout = {int(left * 1000)}")
                self._conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            except (sqlite3.Error, OSError) as exc:
                raise StoreError(f"{self.path}: {exc}") from exc
            try:
                yield _SqliteTransaction(self._conn)
                self._conn.execute("COMMIT")
            except BaseException as exc:
                with contextlib.suppress(sqlite3.Error, OSError):
                    self._conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error | OSError):
                    raise StoreError(f"{self.path}: {exc}") from exc
                raise
        finally:
            self._lock.release()

    def close(self) -> None:
        with self._lock, contextlib.suppress(sqlite3.Error):
            self._conn.close()
