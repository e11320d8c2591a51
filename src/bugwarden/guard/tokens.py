"""Scoped agent tokens: `bw_` + 256 random bits, stored only as a SHA-256 hash.

Revocation and expiry take effect at the next verification: HTTP verifies every request, stdio
every call.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from ..errors import BugwardenError
from ..store import Database
from .principal import Principal
from .scopes import BUNDLES, parse_scopes

LAST_USED_RESOLUTION = timedelta(minutes=1)
MAX_LIFETIME = timedelta(days=3650)
_DURATION = re.compile(r"^(\d{1,20})([mhdw])$")


class TokenError(BugwardenError, ValueError):
    """A presented token is unknown, expired or revoked; the message says which."""


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

    @property
    def is_grant(self) -> bool:
        return self.person is not None

    def state(self, now: datetime | None = None) -> str:
        """`active`, `expired` or `revoked`."""
        if self.revoked_at:
            return "revoked"
        if self.expires_at and datetime.fromisoformat(self.expires_at) <= (now or _now()):
            return "expired"
        return "active"


def parse_duration(value: str) -> timedelta:
    """`30d`, `12h`, `45m`, `2w` -> timedelta: positive and at most ten years."""
    m = _DURATION.match(value.strip())
    if not m:
        raise ValueError(f"--expires-in {value!r}: use a number and a unit, like 30d, 12h, 45m or 2w")
    amount, unit = int(m.group(1)), m.group(2)
    if amount <= 0:
        raise ValueError(f"--expires-in {value!r}: a token must live for a while; use at least 1m")
    minutes = amount * {"m": 1, "h": 60, "d": 1440, "w": 10080}[unit]
    if minutes > MAX_LIFETIME.total_seconds() / 60:
        raise ValueError(f"--expires-in {value!r}: at most 3650d (ten years); omit it for a token that never expires")
    return timedelta(minutes=minutes)


def _now() -> datetime:
    return datetime.now(UTC)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


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


class TokenStore:
    """The token table of a store."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def close(self) -> None:
        self.db.close()

    def create(
        self,
        name: str,
        scopes: str | list[str],
        projects: list[str] | tuple[str, ...] = (),
        expires_in: str | None = None,
    ) -> tuple[TokenInfo, str]:
        """Issue a token; returns its info and the secret (shown once, never stored)."""
        if not name.strip():
            raise ValueError("--name must not be empty")
        granted = parse_scopes(scopes)
        if any(not str(p).strip() for p in projects):
            raise ValueError(
                "--project must not be empty: name a project id, or leave --project out for a token that may see "
                "every project"
            )
        secret = "bw_" + secrets.token_urlsafe(32)
        token_id = "tok_" + secrets.token_hex(6)
        created = _now()
        expires = (created + parse_duration(expires_in)).isoformat() if expires_in else None
        with self.db.transaction(write=True) as tx:
            tx.execute(
                "INSERT INTO tokens (id, name, secret_hash, scopes, projects, created_at, expires_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    token_id,
                    name.strip(),
                    _hash(secret),
                    json.dumps(sorted(granted)),
                    json.dumps(sorted({p.strip() for p in projects if p.strip()})),
                    created.isoformat(),
                    expires,
                ),
            )
        return self.get(token_id), secret

    def get(self, token_id: str) -> TokenInfo:
        with self.db.transaction() as tx:
            row = tx.execute(_SELECT + " FROM tokens WHERE id = ?", (token_id,)).fetchone()
        if row is None:
            raise TokenError(f"no token with id {token_id!r}: see `bugwarden token list`")
        return _info(row)

    def list(self) -> list[TokenInfo]:
        with self.db.transaction() as tx:
            rows = tx.execute(_SELECT + " FROM tokens ORDER BY created_at").fetchall()
        return [_info(r) for r in rows]

    def revoke(self, token_id: str) -> tuple[TokenInfo, bool]:
        """Revoke a token; returns its info and whether this call revoked it (False: it already was)."""
        with self.db.transaction(write=True) as tx:
            if tx.execute("SELECT id FROM tokens WHERE id = ?", (token_id,)).fetchone() is None:
                raise TokenError(f"no token with id {token_id!r}: see `bugwarden token list`")
            changed = tx.execute(
                "UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", (_now().isoformat(), token_id)
            ).rowcount
        return self.get(token_id), changed == 1

    def verify(self, secret: str, transport: str = "stdio") -> Principal:
        """The principal for a presented secret, or TokenError (unknown, expired or revoked)."""
        info = self.check(secret)
        return Principal(
            id=info.id,
            name=info.name,
            scopes=info.scopes,
            projects=info.projects,
            transport=transport,
            person=info.person,
            client_id=info.client_id,
        )

    def _within_person(self, info: TokenInfo) -> TokenInfo:
        """A grant never gives more than the person who gave it may give now: their bundle and projects today
        (`user add` again with less narrows every grant they gave; a removed person's grants stop)."""
        with self.db.transaction() as tx:
            row = tx.execute("SELECT bundle, projects FROM people WHERE name = ?", (info.person,)).fetchone()
        if row is None or str(row[0]) not in BUNDLES:
            raise TokenError(f"grant {info.id} ({info.name}): {info.person} may no longer grant access")
        allowed = frozenset(json.loads(row[1]))
        projects = info.projects if not allowed else (info.projects & allowed if info.projects else allowed)
        if allowed and not projects:
            raise TokenError(f"grant {info.id} ({info.name}): {info.person} may no longer grant its projects")
        return replace(info, scopes=info.scopes & BUNDLES[str(row[0])], projects=projects)

    def check(self, secret: str) -> TokenInfo:
        """The token a presented secret belongs to, if it is usable now; else TokenError. Runs on every HTTP
        request and every stdio call, so `last_used_at` is written at most once a minute per token."""
        digest = _hash(secret)
        with self.db.transaction() as tx:
            row = tx.execute(
                _SELECT + ", secret_hash, access_expires_at FROM tokens WHERE secret_hash = ?", (digest,)
            ).fetchone()
        if row is None or not hmac.compare_digest(row[10], digest):
            raise TokenError("unknown bugwarden token: create one with `bugwarden token create`")
        info = _info(row)
        if info.revoked_at:
            raise TokenError(f"bugwarden token {info.id} ({info.name}) was revoked")
        now = _now()
        if info.state(now) == "expired":
            raise TokenError(f"bugwarden token {info.id} ({info.name}) expired at {info.expires_at}")
        if row[11] is not None and float(row[11]) <= now.timestamp():
            raise TokenError(f"the access token of grant {info.id} ({info.name}) expired: refresh it")
        if info.person is not None:
            info = self._within_person(info)
        if info.last_used_at is None or datetime.fromisoformat(info.last_used_at) <= now - LAST_USED_RESOLUTION:
            with self.db.transaction(write=True) as tx:
                tx.execute("UPDATE tokens SET last_used_at = ? WHERE id = ?", (now.isoformat(), info.id))
        return info
