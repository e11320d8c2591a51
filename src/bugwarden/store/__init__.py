"""Where bugwarden keeps state: SQLite files under `BUGWARDEN_HOME` (default), or one PostgreSQL database.

store = Store.open(settings)        # tokens, audit log, keys, confirmations, rate buckets, quota, hooks+signals
store.close()
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .database import Database, SqliteDatabase, StoreError, Transaction
from .schema import Schema

if TYPE_CHECKING:
    from ..config import Settings

SQLITE_FILES = {
    "tokens": "tokens.sqlite3",
    "audit": "audit.sqlite3",
    "state": "state.sqlite3",
    "hooks": "hooks.sqlite3",
}


@dataclass
class Store:
    """The databases bugwarden uses; with PostgreSQL, views of one database (each with its own write lock) sharing
    one connection pool."""

    tokens: Database
    audit: Database
    state: Database
    kind: str
    hooks: Database
    """Webhook receivers and the signals they stored."""
    COMPONENTS = ("tokens", "audit", "state", "hooks")

    @classmethod
    def open(cls, settings: Settings) -> Store:
        """The store `settings` name. SQLite files are created and migrated on first use; a PostgreSQL schema
        must already be current (`bugwarden db migrate`). Raises StoreError."""
        if settings.database_url is not None:
            from .postgres import PostgresDatabase

            db = PostgresDatabase(settings.database_url.reveal())
            try:
                Schema(db, cls.COMPONENTS).require_current()
            except StoreError:
                db.close()
                raise
            # Durability as with the SQLite files: the audit log and the tokens (a revocation must survive a crash)
            # wait for the disk on every commit; short-lived state does not.
            return cls(
                tokens=db.view("tokens", durable=True),
                audit=db.view("audit", durable=True),
                state=db.view("state", durable=False),
                kind="postgres",
                hooks=db.view("hooks", durable=True),
            )
        return cls.sqlite(settings.home)

    @classmethod
    def sqlite(cls, home: Path) -> Store:
        opened: dict[str, Database] = {}
        try:
            for component, name in SQLITE_FILES.items():
                db: Database = SqliteDatabase(Path(home) / name, durable=component in ("audit", "tokens", "hooks"))
                opened[component] = db
                Schema(db, (component,), home=Path(home)).migrate()
        except BaseException:
            for db in opened.values():
                db.close()
            raise
        return cls(
            tokens=opened["tokens"], audit=opened["audit"], state=opened["state"], kind="sqlite", hooks=opened["hooks"]
        )

    def close(self) -> None:
        for db in {id(d): d for d in (self.tokens, self.audit, self.state, self.hooks)}.values():
            db.close()


__all__ = ["Database", "Store", "StoreError", "Transaction"]
