"""PostgreSQL as the state store: one database for every replica (`BUGWARDEN_DATABASE_URL`).

The same repositories run on it as on SQLite, with the same transaction contract:

- a write transaction takes its component's lock first (`pg_advisory_xact_lock`), as SQLite's
  `BEGIN IMMEDIATE` takes the file's: writers of one component (the audit chain, the token table,
  the server state) run one at a time across all replicas, and every statement inside sees what
  the previous writer committed, so read-modify-write is safe without per-table locking;
- a read transaction is `REPEATABLE READ READ ONLY`: one snapshot (what `audit verify` needs).

Connections come from a pool (psycopg_pool), each checked before use, so a database that went away
and came back is used again without a restart. While it is away, transactions fail with `StoreError`
(the checkpoint then refuses writes and withholds reads: nothing unaudited): the first after up to
`CHECKOUT_TIMEOUT`, then, for `RETRY_AFTER` seconds, every other at once, rather than each holding a
worker thread while it waits. Messages never carry the URL or its password.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
import time
import zlib
from collections.abc import Iterator, Sequence
from typing import Any

from .database import Cursor, StoreError, Transaction, wait_limit

try:
    import psycopg
    from psycopg_pool import ConnectionPool, PoolTimeout
except ImportError as exc:  # pragma: no cover - the dev install has the extra
    raise StoreError("BUGWARDEN_DATABASE_URL needs PostgreSQL support: pip install 'bugwarden[postgres]'") from exc

log = logging.getLogger("bugwarden.store")
_PLACEHOLDER = re.compile(r"\?")
CONNECT_TIMEOUT = 5
CHECKOUT_TIMEOUT = 3.0
RETRY_AFTER = 1.0
STATEMENT_TIMEOUT_MS = 15_000


@functools.lru_cache(maxsize=256)
def translate(sql: str) -> str:
    """Our SQL uses `?` placeholders (SQLite's); psycopg wants `%s`. None of our statements has a literal `?`
    or `%`."""
    return _PLACEHOLDER.sub("%s", sql)


def redacted(url: str) -> str:
    """The URL without its password (in the authority or as a `password=` parameter), for messages."""
    url = re.sub(r"(://[^:/@]*):[^@]*@", r"\1:***@", url)
    return re.sub(r"([?&]password=)[^&]*", r"\1***", url, flags=re.IGNORECASE)


class _Pool:
    """One pool per process and URL, shared by the component views."""

    def __init__(self, url: str, *, max_size: int) -> None:
        self.url = url
        self.closed = False
        self.down_until = 0.0
        """While the database is known to be unreachable: when to try it again."""

        def configure(conn: psycopg.Connection[Any]) -> None:
            conn.execute(f"SET statement_timeout = {STATEMENT_TIMEOUT_MS}")

        try:
            # One direct connection first: at start-up, an unreachable or misconfigured database is reported at
            # once and in the server's own words, not as a pool timeout.
            psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT).close()
            self.pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
                url,
                min_size=1,
                max_size=max_size,
                kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT, "application_name": "bugwarden"},
                configure=configure,
                check=ConnectionPool.check_connection,
                timeout=CHECKOUT_TIMEOUT,
                # A failed connection attempt is not retried in the background: the next transaction that needs a
                # connection makes one, so service resumes with the first call after the database is back.
                reconnect_timeout=0,
                name="bugwarden",
                open=False,
            )
            self.pool.open(wait=False)
        except psycopg.Error as exc:
            raise StoreError(f"PostgreSQL at {redacted(url)}: {_first_line(exc)}") from None

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            with contextlib.suppress(Exception):
                self.pool.close(timeout=5)


class PostgresDatabase:
    """One component's view of a PostgreSQL database (see the module docstring)."""

    dialect = "postgres"

    def __init__(
        self,
        url: str,
        *,
        component: str = "default",
        durable: bool = True,
        max_size: int = 10,
        pool: _Pool | None = None,
    ) -> None:
        self._pool = pool or _Pool(url, max_size=max_size)
        self.component = component
        self.durable = durable
        self._lock_key = zlib.crc32(f"bugwarden:{component}".encode())

    def view(self, component: str, *, durable: bool) -> PostgresDatabase:
        """The same database (and pool) with `component`'s own write lock. A write of a view that is not `durable`
        commits without waiting for the disk (`synchronous_commit = off`): a crash of the database server may
        lose its last moments, never its consistency, as with SQLite's `synchronous = NORMAL`."""
        return PostgresDatabase(self._pool.url, component=component, durable=durable, pool=self._pool)

    @property
    def where(self) -> str:
        return redacted(self._pool.url)

    @contextlib.contextmanager
    def transaction(self, *, write: bool = False) -> Iterator[Transaction]:
        if time.monotonic() < self._pool.down_until:
            raise StoreError(f"PostgreSQL at {self.where} is unreachable (tried again within the last second)")
        try:
            conn = self._pool.pool.getconn(timeout=min(CHECKOUT_TIMEOUT, wait_limit()))
        except PoolTimeout:
            if self._pool.pool.get_stats().get("pool_size", 0) == 0:  # no connection at all: the database is away
                self._pool.down_until = time.monotonic() + RETRY_AFTER
                raise StoreError(f"PostgreSQL at {self.where} is unreachable") from None
            raise StoreError(
                f"PostgreSQL at {self.where}: every connection stayed busy for {CHECKOUT_TIMEOUT:g}s"
            ) from None
        except psycopg.Error as exc:
            raise StoreError(f"PostgreSQL at {self.where}: {_first_line(exc)}") from None
        try:
            # The isolation of a read goes into its BEGIN; a write's lock (and, for state that need not wait for
            # the disk, asynchronous commit) is one statement: one round trip each.
            conn.read_only = not write
            conn.isolation_level = None if write else psycopg.IsolationLevel.REPEATABLE_READ
            with conn.transaction():
                if write:
                    # The wait for the component's lock, and the statements after it, end by the call's deadline
                    # (`lock_timeout` is set first).
                    bound = f"{min(STATEMENT_TIMEOUT_MS, int(wait_limit() * 1000))}ms"
                    conn.execute(
                        "SELECT set_config('lock_timeout', %s, true), pg_advisory_xact_lock(%s), "
                        "set_config('synchronous_commit', %s, true), set_config('statement_timeout', %s, true)",
                        (bound, self._lock_key, "on" if self.durable else "off", bound),
                    )
                yield _PostgresTransaction(conn)
        except psycopg.Error as exc:
            raise StoreError(f"PostgreSQL at {self.where}: {_first_line(exc)}") from None
        finally:
            self._pool.pool.putconn(conn)

    def close(self) -> None:
        self._pool.close()


class _PostgresTransaction:
    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        return self._conn.execute(translate(sql), tuple(params))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__
