"""Webhook receivers: one row per hook, its secret stored only as a SHA-256 hash.

A hook's secret is the last segment of its URL (`/hooks/bugsnag/<secret>`): BugSnag signs nothing, so the
path is the credential. It is shown once, by `bugwarden hooks add`, and never stored in the clear.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .database import Database

SECRET_BYTES = 32


class HookError(ValueError):
    """No such hook (or it was already removed); the message says which."""


@dataclass(frozen=True, slots=True)
class Hook:
    id: str
    source: str
    """Who sends to it: 'bugsnag' (the receiver is open to other sources)."""
    project_id: str
    created_at: str
    removed_at: str | None
    last_delivery_at: str | None
    accepted: int
    refused: int


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


_COLUMNS = "id, source, project_id, created_at, removed_at, last_delivery_at, accepted, refused"
# Statements assembled from the column list above (ours, never input).
_INSERT = f"INSERT INTO hooks ({_COLUMNS}, secret_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"  # noqa: S608
_FIND = f"SELECT {_COLUMNS}, secret_hash FROM hooks WHERE secret_hash = ? AND removed_at IS NULL"  # noqa: S608
_ALL = f"SELECT {_COLUMNS} FROM hooks"  # noqa: S608
_COUNT = {
    True: "UPDATE hooks SET accepted = accepted + ?, last_delivery_at = ? WHERE id = ?",
    False: "UPDATE hooks SET refused = refused + ?, last_delivery_at = ? WHERE id = ?",
}


def _hook(row: Any) -> Hook:
    return Hook(str(row[0]), str(row[1]), str(row[2]), str(row[3]), row[4], row[5], int(row[6]), int(row[7]))


class HookStore:
    """The hooks table of a store."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def create(self, project_id: str, source: str = "bugsnag") -> tuple[Hook, str]:
        """A new hook for `project_id`, and its secret (returned once, stored hashed)."""
        secret = secrets.token_urlsafe(SECRET_BYTES)
        hook = Hook("hook_" + secrets.token_hex(6), source, project_id, _now(), None, None, 0, 0)
        with self.db.transaction(write=True) as tx:
            tx.execute(
                _INSERT,
                (hook.id, source, project_id, hook.created_at, None, None, 0, 0, secret_hash(secret)),
            )
        return hook, secret

    def find(self, secret: str, source: str = "bugsnag") -> Hook | None:
        """The live hook of `source` whose secret this is, else None. The lookup is by hash, and the stored hash is
        compared again in constant time."""
        digest = secret_hash(secret)
        with self.db.transaction() as tx:
            row = tx.execute(_FIND, (digest,)).fetchone()
        if row is None or not hmac.compare_digest(str(row[8]), digest) or row[1] != source:
            return None
        return _hook(row)

    def list(self, *, removed: bool = False) -> list[Hook]:
        query = _ALL + ("" if removed else " WHERE removed_at IS NULL")
        with self.db.transaction() as tx:
            return [_hook(r) for r in tx.execute(query + " ORDER BY created_at, id").fetchall()]

    def remove(self, hook_id: str) -> Hook:
        """Remove a hook: its URL answers 404 from the next delivery on. Raises HookError."""
        with self.db.transaction(write=True) as tx:
            row = tx.execute(_ALL + " WHERE id = ?", (hook_id,)).fetchone()
            if row is None:
                raise HookError(f"no hook {hook_id!r}: see `bugwarden hooks list`")
            if row[4] is not None:
                raise HookError(f"hook {hook_id} was already removed")
            removed = _now()
            tx.execute("UPDATE hooks SET removed_at = ? WHERE id = ?", (removed, hook_id))
        return _hook((*row[:4], removed, *row[5:]))

    def count(self, hook_id: str, *, accepted: bool, n: int = 1) -> None:
        """Count `n` deliveries to `hook_id` (accepted or refused) and note when the last came."""
        with self.db.transaction(write=True) as tx:
            tx.execute(_COUNT[accepted], (n, _now(), hook_id))
