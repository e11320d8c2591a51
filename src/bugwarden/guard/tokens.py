"""Scoped agent tokens: `bw_` + 256 random bits, stored only as a SHA-256 hash in `<home>/tokens.sqlite3`."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from .principal import Principal
from .scopes import parse_scopes

LAST_USED_RESOLUTION = timedelta(minutes=1)
_DURATION = re.compile(r"^(\d+)([mhdw])$")


class TokenError(ValueError):
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


def parse_duration(value: str) -> timedelta:
    """`30d`, `12h`, `45m`, `2w` -> timedelta."""
    m = _DURATION.match(value.strip())
    if not m:
        raise ValueError(f"--expires-in {value!r}: use a number and a unit, like 30d, 12h, 45m or 2w")
    amount, unit = int(m.group(1)), m.group(2)
    return timedelta(**{{"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[unit]: amount})


def _now() -> datetime:
    return datetime.now(UTC)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class TokenStore:
    """The token table. Revocation and expiry take effect on the next verification."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not path.exists():
            path.touch(mode=0o600)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS tokens (id TEXT PRIMARY KEY, name TEXT NOT NULL, secret_hash TEXT UNIQUE "
            "NOT NULL, scopes TEXT NOT NULL, projects TEXT NOT NULL, created_at TEXT NOT NULL, expires_at TEXT, "
            "last_used_at TEXT, revoked_at TEXT)"
        )

    @classmethod
    def open(cls, home: Path) -> TokenStore:
        return cls(Path(home) / "tokens.sqlite3")

    def close(self) -> None:
        self._db.close()

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
        secret = "bw_" + secrets.token_urlsafe(32)
        token_id = "tok_" + secrets.token_hex(6)
        created = _now()
        expires = (created + parse_duration(expires_in)).isoformat() if expires_in else None
        self._db.execute(
            "INSERT INTO tokens VALUES (?, ?, ?, ?, ?, ?, ?, NULL, NULL)",
            (
                token_id,
                name.strip(),
                _hash(secret),
                json.dumps(sorted(granted)),
                json.dumps(sorted(set(projects))),
                created.isoformat(),
                expires,
            ),
        )
        return self.get(token_id), secret

    def get(self, token_id: str) -> TokenInfo:
        row = self._db.execute(
            "SELECT id, name, scopes, projects, created_at, expires_at, last_used_at, revoked_at "
            "FROM tokens WHERE id = ?",
            (token_id,),
        ).fetchone()
        if row is None:
            raise TokenError(f"no token with id {token_id!r}")
        return self._info(row)

    @staticmethod
    def _info(row: tuple[str, ...]) -> TokenInfo:
        return TokenInfo(
            row[0], row[1], frozenset(json.loads(row[2])), frozenset(json.loads(row[3])), row[4], row[5], row[6], row[7]
        )

    def list(self) -> list[TokenInfo]:
        rows = self._db.execute(
            "SELECT id, name, scopes, projects, created_at, expires_at, last_used_at, revoked_at "
            "FROM tokens ORDER BY created_at"
        ).fetchall()
        return [self._info(r) for r in rows]

    def revoke(self, token_id: str) -> TokenInfo:
        self.get(token_id)
        self._db.execute(
            "UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", (_now().isoformat(), token_id)
        )
        return self.get(token_id)

    def verify(self, secret: str, transport: str = "stdio") -> Principal:
        """The principal for a presented secret, or TokenError (unknown, expired or revoked)."""
        info = self.check(secret)
        return Principal(id=info.id, name=info.name, scopes=info.scopes, projects=info.projects, transport=transport)

    def check(self, secret: str) -> TokenInfo:
        """The token a presented secret belongs to, if it is usable now; else TokenError. Runs on every HTTP
        request, so `last_used_at` is written at most once a minute per token."""
        digest = _hash(secret)
        row = self._db.execute(
            "SELECT id, name, scopes, projects, created_at, expires_at, last_used_at, revoked_at, "
            "secret_hash FROM tokens WHERE secret_hash = ?",
            (digest,),
        ).fetchone()
        if row is None or not hmac.compare_digest(row[8], digest):
            raise TokenError("unknown bugwarden token: create one with `bugwarden token create`")
        info = self._info(row[:8])
        if info.revoked_at:
            raise TokenError(f"bugwarden token {info.id} ({info.name}) was revoked")
        if info.expires_at and datetime.fromisoformat(info.expires_at) <= _now():
            raise TokenError(f"bugwarden token {info.id} ({info.name}) expired at {info.expires_at}")
        now = _now()
        if info.last_used_at is None or datetime.fromisoformat(info.last_used_at) <= now - LAST_USED_RESOLUTION:
            self._db.execute("UPDATE tokens SET last_used_at = ? WHERE id = ?", (now.isoformat(), info.id))
        return info
