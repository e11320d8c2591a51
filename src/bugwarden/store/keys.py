"""Server secrets: the keys that sign cursors and confirmation codes and seal elicitation state.

Each key is 32 random bytes created once per store and shared by every process that uses the store
(processes sharing `BUGWARDEN_HOME`, replicas sharing one PostgreSQL database). Replicas with
separate stores can share `BUGWARDEN_STATE_KEY` instead; every key then derives from it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from datetime import UTC, datetime

from .database import Database


class KeyRing:
    def __init__(self, db: Database, state_key: str | None = None) -> None:
        self.db = db
        self._state_key = state_key.encode() if state_key else None
        self._cache: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def key(self, purpose: str) -> bytes:
        """The key for `purpose` (raises StoreError when the store cannot be read)."""
        with self._lock:
            if purpose not in self._cache:
                self._cache[purpose] = self._load(purpose)
            return self._cache[purpose]

    def _load(self, purpose: str) -> bytes:
        if self._state_key is not None:
            return hmac.new(self._state_key, f"bugwarden/{purpose}".encode(), hashlib.sha256).digest()
        with self.db.transaction(write=True) as tx:
            row = tx.execute("SELECT value FROM keys WHERE name = ?", (purpose,)).fetchone()
            if row is None:
                value = secrets.token_hex(32)
                tx.execute(
                    "INSERT INTO keys (name, value, created_at) VALUES (?, ?, ?)",
                    (purpose, value, datetime.now(UTC).isoformat()),
                )
                return bytes.fromhex(value)
        return bytes.fromhex(str(row[0]))
