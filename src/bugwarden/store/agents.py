"""Changing what an agent may do in place: the scopes of a token (or a grant stored as one), read again by every
replica at the agent's next request, so a change holds from its next call without a new secret."""

from __future__ import annotations

import json

from .database import Database


class AgentAccess:
    """Writes to the `tokens` table's scopes."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def set_scopes(self, token_id: str, scopes: frozenset[str]) -> bool:
        """Replace a live token's scopes; False when there is no such token or it is revoked."""
        with self.db.transaction(write=True) as tx:
            changed = tx.execute(
                "UPDATE tokens SET scopes = ? WHERE id = ? AND revoked_at IS NULL",
                (json.dumps(sorted(scopes)), token_id),
            ).rowcount
        return changed == 1
