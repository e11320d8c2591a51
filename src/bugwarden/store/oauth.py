"""What the OAuth authorization server keeps: clients, pending authorization requests, codes, and grants.

A grant is a row of the `tokens` table (id `gr_…`), so the checkpoint, `token list` and `token revoke` treat it
as a token: its `secret_hash` is the hash of the current access token (replaced at each refresh), `expires_at`
is when the grant ends (what the person chose), `access_expires_at` when the current access token does, and
`person` / `client_id` say who gave it to which client. Refresh tokens live in `oauth_refresh`, one live per
grant; a spent one is kept so that presenting it again can revoke the whole grant. Every secret (codes,
tokens, pending-request ids) is stored only as its SHA-256.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .database import Database


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class GrantRow:
    id: str
    client_name: str
    scopes: frozenset[str]
    projects: frozenset[str]
    expires_at: float
    revoked: bool
    person: str
    client_id: str


@dataclass(frozen=True, slots=True)
class Issued:
    grant: GrantRow
    access_token: str
    refresh_token: str


class Reused(Exception):
    """A spent code or refresh token was presented again; its grant (if any) has been revoked."""

    def __init__(self, grant_id: str | None) -> None:
        super().__init__(grant_id)
        self.grant_id = grant_id


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


def _grant(row: Any) -> GrantRow:
    return GrantRow(
        id=str(row[0]),
        client_name=str(row[1]),
        scopes=frozenset(json.loads(row[2])),
        projects=frozenset(json.loads(row[3])),
        expires_at=datetime.fromisoformat(row[4]).timestamp() if row[4] else 0.0,
        revoked=row[5] is not None,
        person=str(row[6]),
        client_id=str(row[7]),
    )


_GRANT = "SELECT id, name, scopes, projects, expires_at, revoked_at, person, client_id FROM tokens"


class OAuthRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- clients ---------------------------------------------------------------------------------------------

    def save_client(self, client_id: str, info: dict[str, Any], kind: str, now: float) -> None:
        """Store (or, for a metadata document, refresh) a client. `kind`: `registered` or `metadata`."""
        with self.db.transaction(write=True) as tx:
            tx.execute("DELETE FROM oauth_clients WHERE client_id = ?", (client_id,))
            tx.execute(
                "INSERT INTO oauth_clients (client_id, info, kind, created_at) VALUES (?, ?, ?, ?)",
                (client_id, json.dumps(info), kind, now),
            )

    def client(self, client_id: str) -> tuple[dict[str, Any], str, float] | None:
        """(info, kind, stored at) of a client."""
        with self.db.transaction() as tx:
            row = tx.execute(
                "SELECT info, kind, created_at FROM oauth_clients WHERE client_id = ?", (client_id,)
            ).fetchone()
        return (json.loads(row[0]), str(row[1]), float(row[2])) if row else None

    # -- pending authorization requests -----------------------------------------------------------------------

    def open_request(self, client_id: str, params: dict[str, Any], now: float, lifetime: float) -> str:
        """Keep an authorization request until the person answers it; returns its (secret) id."""
        request_id = secrets.token_urlsafe(24)
        with self.db.transaction(write=True) as tx:
            tx.execute("DELETE FROM oauth_requests WHERE expires_at < ?", (now,))
            tx.execute(
                "INSERT INTO oauth_requests (id_hash, client_id, params, expires_at) VALUES (?, ?, ?, ?)",
                (digest(request_id), client_id, json.dumps(params), now + lifetime),
            )
        return request_id

    def peek_request(self, request_id: str, now: float) -> tuple[str, dict[str, Any]] | None:
        with self.db.transaction() as tx:
            row = tx.execute(
                "SELECT client_id, params FROM oauth_requests WHERE id_hash = ? AND expires_at > ?",
                (digest(request_id), now),
            ).fetchone()
        return (str(row[0]), json.loads(row[1])) if row else None

    def take_request(self, request_id: str, now: float) -> tuple[str, dict[str, Any]] | None:
        """The request, removed: it can be answered once."""
        with self.db.transaction(write=True) as tx:
            row = tx.execute(
                "SELECT client_id, params, expires_at FROM oauth_requests WHERE id_hash = ?", (digest(request_id),)
            ).fetchone()
            if row is None:
                return None
            tx.execute("DELETE FROM oauth_requests WHERE id_hash = ?", (digest(request_id),))
        return (str(row[0]), json.loads(row[1])) if float(row[2]) > now else None

    # -- authorization codes ----------------------------------------------------------------------------------

    def save_code(self, client_id: str, data: dict[str, Any], now: float, lifetime: float) -> str:
        code = secrets.token_urlsafe(32)
        with self.db.transaction(write=True) as tx:
            tx.execute("DELETE FROM oauth_codes WHERE expires_at < ?", (now - 3600,))
            tx.execute(
                "INSERT INTO oauth_codes (code_hash, client_id, data, expires_at) VALUES (?, ?, ?, ?)",
                (digest(code), client_id, json.dumps(data), now + lifetime),
            )
        return code

    def code(self, code: str) -> tuple[str, dict[str, Any], float, bool] | None:
        """(client id, data, expires at, already used) of a code."""
        with self.db.transaction() as tx:
            row = tx.execute(
                "SELECT client_id, data, expires_at, used_at FROM oauth_codes WHERE code_hash = ?", (digest(code),)
            ).fetchone()
        return (str(row[0]), json.loads(row[1]), float(row[2]), row[3] is not None) if row else None

    def revoke_for_code(self, code: str, now: float) -> str | None:
        """A used code came back: revoke the grant it was exchanged for (RFC 6749 §4.1.2); returns its id."""
        with self.db.transaction(write=True) as tx:
            row = tx.execute("SELECT grant_id FROM oauth_codes WHERE code_hash = ?", (digest(code),)).fetchone()
            grant_id = str(row[0]) if row and row[0] else None
            if grant_id:
                self._revoke(tx, grant_id, now)
        return grant_id

    # -- grants --------------------------------------------------------------------------------------------------

    def issue(
        self,
        code: str,
        *,
        person: str,
        client_id: str,
        client_name: str,
        scopes: frozenset[str],
        projects: frozenset[str],
        expires_at: float,
        access_lifetime: float,
        now: float,
    ) -> Issued:
        """Spend `code` and create its grant with a first access and refresh token; Reused if it was spent."""
        access, refresh = "bw_" + secrets.token_urlsafe(32), "bw_refresh_" + secrets.token_urlsafe(32)
        grant_id = "gr_" + secrets.token_hex(8)
        with self.db.transaction(write=True) as tx:
            spent = tx.execute(
                "UPDATE oauth_codes SET used_at = ?, grant_id = ? WHERE code_hash = ? AND used_at IS NULL",
                (now, grant_id, digest(code)),
            ).rowcount
            if spent != 1:
                raise Reused(None)
            tx.execute(
                "INSERT INTO tokens (id, name, secret_hash, scopes, projects, created_at, expires_at, person, "
                "client_id, access_expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    grant_id,
                    client_name,
                    digest(access),
                    json.dumps(sorted(scopes)),
                    json.dumps(sorted(projects)),
                    _iso(now),
                    _iso(expires_at),
                    person,
                    client_id,
                    min(now + access_lifetime, expires_at),
                ),
            )
            tx.execute(
                "INSERT INTO oauth_refresh (token_hash, grant_id, created_at) VALUES (?, ?, ?)",
                (digest(refresh), grant_id, now),
            )
            row = tx.execute(_GRANT + " WHERE id = ?", (grant_id,)).fetchone()
        return Issued(_grant(row), access, refresh)

    def grant_of_refresh(self, refresh: str, now: float) -> GrantRow | None:
        """The grant a refresh token belongs to. A spent refresh token revokes its grant and raises Reused (None
        when the grant was already revoked)."""
        with self.db.transaction() as tx:
            row = tx.execute(
                "SELECT grant_id, spent_at FROM oauth_refresh WHERE token_hash = ?", (digest(refresh),)
            ).fetchone()
        if row is None:
            return None
        if row[1] is not None:
            if self.revoke(str(row[0]), now):
                raise Reused(str(row[0]))
            return None  # its grant was already revoked
        return self.grant(str(row[0]))

    def rotate(self, refresh: str, access_lifetime: float, now: float) -> Issued:
        """Spend `refresh` and give its grant a new access and refresh token; Reused (grant revoked) if spent."""
        access, new_refresh = "bw_" + secrets.token_urlsafe(32), "bw_refresh_" + secrets.token_urlsafe(32)
        with self.db.transaction(write=True) as tx:
            row = tx.execute("SELECT grant_id FROM oauth_refresh WHERE token_hash = ?", (digest(refresh),)).fetchone()
            if row is None:
                raise Reused(None)
            grant_id = str(row[0])
            spent = tx.execute(
                "UPDATE oauth_refresh SET spent_at = ? WHERE token_hash = ? AND spent_at IS NULL",
                (now, digest(refresh)),
            ).rowcount
            if spent != 1:
                self._revoke(tx, grant_id, now)
                reused = True
            else:
                reused = False
                grant = _grant(tx.execute(_GRANT + " WHERE id = ?", (grant_id,)).fetchone())
                tx.execute(
                    "UPDATE tokens SET secret_hash = ?, access_expires_at = ? WHERE id = ?",
                    (digest(access), min(now + access_lifetime, grant.expires_at), grant_id),
                )
                tx.execute(
                    "INSERT INTO oauth_refresh (token_hash, grant_id, created_at) VALUES (?, ?, ?)",
                    (digest(new_refresh), grant_id, now),
                )
        if reused:
            raise Reused(grant_id)
        return Issued(grant, access, new_refresh)

    def grant(self, grant_id: str) -> GrantRow | None:
        with self.db.transaction() as tx:
            row = tx.execute(_GRANT + " WHERE id = ? AND person IS NOT NULL", (grant_id,)).fetchone()
        return _grant(row) if row else None

    def grant_of_access(self, access: str) -> GrantRow | None:
        with self.db.transaction() as tx:
            row = tx.execute(_GRANT + " WHERE secret_hash = ? AND person IS NOT NULL", (digest(access),)).fetchone()
        return _grant(row) if row else None

    def grants_of(self, person: str) -> list[GrantRow]:
        with self.db.transaction() as tx:
            rows = tx.execute(_GRANT + " WHERE person = ? ORDER BY created_at", (person,)).fetchall()
        return [_grant(r) for r in rows]

    def revoke(self, grant_id: str, now: float) -> bool:
        """Revoke a grant (its access token and every refresh token); False if it already was."""
        with self.db.transaction(write=True) as tx:
            return self._revoke(tx, grant_id, now)

    def _revoke(self, tx: Any, grant_id: str, now: float) -> bool:
        changed = tx.execute(
            "UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", (_iso(now), grant_id)
        ).rowcount
        tx.execute("UPDATE oauth_refresh SET spent_at = ? WHERE grant_id = ? AND spent_at IS NULL", (now, grant_id))
        return bool(changed == 1)
