"""What confirmations leave behind: the nonces of confirmation codes already used (`consumed`) and the calls a
user declined (`declines`, by `decline_key`, shared with approvals.py, whose rejections record declines too).

The codes themselves are signed, not stored (guard/consent.py). One SQL implementation serves both databases.

    consent = consent_repository(store.state)
    consent.use(nonce, expires_at, now)   # False: that code was already used
    consent.decline(digest, now)          # no code is issued or accepted for the call for DECLINE_TTL
    consent.declined(digest, now)
"""

from __future__ import annotations

from typing import Protocol

from .approvals import DECLINE_TTL, decline_key
from .database import Database


class ConsentRepository(Protocol):
    """Used codes and declined calls, shared by every process and replica of a store. Every method raises
    StoreError when the store cannot be used."""

    def use(self, nonce: str, expires_at: float, now: float) -> bool:
        """Record the code `nonce` as used until `expires_at`; False when it already was (nothing changes)."""
        ...

    def decline(self, digest: str, now: float) -> None:
        """Record that a user said no to the call `digest`, for DECLINE_TTL seconds from `now`."""
        ...

    def declined(self, digest: str, now: float) -> bool:
        """Whether a user's no to the call `digest` still holds at `now`."""
        ...


class SqlConsentRepository:
    """The `consumed` and `declines` tables in SQL (SQLite and PostgreSQL); expired rows go as new ones come."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def use(self, nonce: str, expires_at: float, now: float) -> bool:
        with self.db.transaction(write=True) as tx:
            tx.execute("DELETE FROM consumed WHERE expires_at < ?", (now,))
            if tx.execute("SELECT nonce FROM consumed WHERE nonce = ?", (nonce,)).fetchone() is not None:
                return False
            tx.execute("INSERT INTO consumed (nonce, expires_at) VALUES (?, ?)", (nonce, float(expires_at)))
        return True

    def decline(self, digest: str, now: float) -> None:
        key = decline_key(digest)
        with self.db.transaction(write=True) as tx:
            tx.execute("DELETE FROM declines WHERE expires_at < ?", (now,))
            tx.execute("DELETE FROM declines WHERE digest = ?", (key,))
            tx.execute("INSERT INTO declines (digest, expires_at) VALUES (?, ?)", (key, now + DECLINE_TTL))

    def declined(self, digest: str, now: float) -> bool:
        with self.db.transaction() as tx:
            row = tx.execute("SELECT expires_at FROM declines WHERE digest = ?", (decline_key(digest),)).fetchone()
        return row is not None and float(row[0]) > now


def consent_repository(db: Database) -> ConsentRepository:
    """Used codes and declines in `db` (either dialect: the statements are the same)."""
    return SqlConsentRepository(db)
