"""The `tokens` table: agent tokens and the OAuth grants stored as tokens, each kept by the hash of its secret.

Issuing, verifying and narrowing tokens is the guard's (guard/tokens.py); this repository only stores and finds
them. One SQL implementation serves both databases (the statements are the same in SQLite and PostgreSQL).

    tokens = token_repository(store.tokens)
    tokens.add(info, secret_hash)
    tokens.by_secret_hash(secret_hash)   # StoredToken | None
    tokens.revoke(token_id, at)          # True: revoked now; False: it already was; None: no such token
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from .database import Database


@dataclass(frozen=True, slots=True)
class TokenInfo:
    id: str
    name: str
    scopes: frozenset[str]
    projects: frozenset[str]
    created_at: str
    expires_at: str | None
    last_used_at: str | None
    revoked_at: str | None
    person: str | None = None
    """For an OAuth grant (id `gr_…`): the person who gave it; `name` is then the client's name."""
    client_id: str | None = None
    """For an OAuth grant: the OAuth client it was given to."""
    project_scopes: Mapping[str, frozenset[str]] = field(default_factory=dict, compare=False)
    """Set from the console per project (store/project_access.py); empty: `scopes` on every project."""

    @property
    def is_grant(self) -> bool:
        return self.person is not None

    def state(self, now: datetime | None = None) -> str:
        """`active`, `expired` or `revoked`."""
        if self.revoked_at:
            return "revoked"
        if self.expires_at and datetime.fromisoformat(self.expires_at) <= (now or datetime.now(UTC)):
            return "expired"
        return "active"


@dataclass(frozen=True, slots=True)
class StoredToken:
    """A token as found by its secret's hash, with what only verification reads."""

    info: TokenInfo
    secret_hash: str
    access_expires_at: float | None
    """For an OAuth grant: when its current access token expires (a Unix time; None: a static token)."""


class TokenRepository(Protocol):
    """The token table of a store. Every method raises StoreError when the store cannot be used."""

    def add(self, info: TokenInfo, secret_hash: str) -> None:
        """Store a new token (its `last_used_at`, `revoked_at`, `person` and `client_id` are not stored)."""
        ...

    def get(self, token_id: str) -> TokenInfo | None: ...

    def list(self) -> list[TokenInfo]:
        """Every token, oldest first."""
        ...

    def revoke(self, token_id: str, at: str) -> bool | None:
        """Mark a token revoked at `at`: True when this call revoked it, False when it already was, None when
        there is no such token."""
        ...

    def by_secret_hash(self, secret_hash: str) -> StoredToken | None: ...

    def touch(self, token_id: str, at: str) -> None:
        """Record that the token was used at `at`."""
        ...

    def close(self) -> None: ...


_SELECT = "SELECT id, name, scopes, projects, created_at, expires_at, last_used_at, revoked_at, person, client_id"


def _info(row: Any) -> TokenInfo:
    return TokenInfo(
        row[0],
        row[1],
        frozenset(json.loads(row[2])),
        frozenset(json.loads(row[3])),
        row[4],
        row[5],
        row[6],
        row[7],
        row[8],
        row[9],
    )


class SqlTokenRepository:
    """The token table in SQL (SQLite and PostgreSQL)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, info: TokenInfo, secret_hash: str) -> None:
        with self.db.transaction(write=True) as tx:
            tx.execute(
                "INSERT INTO tokens (id, name, secret_hash, scopes, projects, created_at, expires_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    info.id,
                    info.name,
                    secret_hash,
                    json.dumps(sorted(info.scopes)),
                    json.dumps(sorted(info.projects)),
                    info.created_at,
                    info.expires_at,
                ),
            )

    def get(self, token_id: str) -> TokenInfo | None:
        with self.db.transaction() as tx:
            row = tx.execute(_SELECT + " FROM tokens WHERE id = ?", (token_id,)).fetchone()
        return _info(row) if row is not None else None

    def list(self) -> list[TokenInfo]:
        with self.db.transaction() as tx:
            rows = tx.execute(_SELECT + " FROM tokens ORDER BY created_at").fetchall()
        return [_info(r) for r in rows]

    def revoke(self, token_id: str, at: str) -> bool | None:
        with self.db.transaction(write=True) as tx:
            if tx.execute("SELECT id FROM tokens WHERE id = ?", (token_id,)).fetchone() is None:
                return None
            changed = tx.execute(
                "UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", (at, token_id)
            ).rowcount
        return changed == 1

    def by_secret_hash(self, secret_hash: str) -> StoredToken | None:
        with self.db.transaction() as tx:
            row = tx.execute(
                _SELECT + ", secret_hash, access_expires_at FROM tokens WHERE secret_hash = ?", (secret_hash,)
            ).fetchone()
        if row is None:
            return None
        return StoredToken(_info(row), str(row[10]), None if row[11] is None else float(row[11]))

    def touch(self, token_id: str, at: str) -> None:
        with self.db.transaction(write=True) as tx:
            tx.execute("UPDATE tokens SET last_used_at = ? WHERE id = ?", (at, token_id))

    def close(self) -> None:
        self.db.close()


def token_repository(db: Database) -> TokenRepository:
    """The token table in `db` (either dialect: the statements are the same)."""
    return SqlTokenRepository(db)
