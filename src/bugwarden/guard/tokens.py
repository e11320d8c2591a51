"""Scoped agent tokens: `bw_` + 256 random bits, stored only as a SHA-256 hash.

Revocation and expiry take effect at the next verification: HTTP verifies every request, stdio
every call.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from ..errors import BugwardenError
from ..store import Database
from ..store.people import PeopleRepository
from ..store.project_access import ProjectAccess
from ..store.tokens import TokenInfo, TokenRepository, token_repository
from .principal import Principal
from .scopes import BUNDLES, parse_scopes

LAST_USED_RESOLUTION = timedelta(minutes=1)
MAX_LIFETIME = timedelta(days=3650)
_DURATION = re.compile(r"^(\d{1,20})([mhdw])$")

__all__ = ["LAST_USED_RESOLUTION", "MAX_LIFETIME", "TokenError", "TokenInfo", "TokenStore", "parse_duration"]


class TokenError(BugwardenError, ValueError):
    """A presented token is unknown, expired or revoked; the message says which."""


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


def _unknown(token_id: str) -> TokenError:
    return TokenError(f"no token with id {token_id!r}: see `bugwarden token list`")


class TokenStore:
    """Issues and checks the tokens of a store, kept in its token repository (store/tokens.py)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.tokens: TokenRepository = token_repository(db)
        self.people = PeopleRepository(db)
        """Who gave each grant, and what they may grant today (the people table is in the tokens database)."""

    def close(self) -> None:
        self.tokens.close()

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
        info = TokenInfo(
            id=token_id,
            name=name.strip(),
            scopes=frozenset(granted),
            projects=frozenset(p.strip() for p in projects if p.strip()),
            created_at=created.isoformat(),
            expires_at=expires,
            last_used_at=None,
            revoked_at=None,
        )
        self.tokens.add(info, _hash(secret))
        return self.get(token_id), secret

    def get(self, token_id: str) -> TokenInfo:
        info = self.tokens.get(token_id)
        if info is None:
            raise _unknown(token_id)
        return replace(info, project_scopes=ProjectAccess(self.db).of(info.id)) if info.projects else info

    def list(self) -> list[TokenInfo]:
        per_project = ProjectAccess(self.db).every()
        return [replace(info, project_scopes=per_project.get(info.id, {})) for info in self.tokens.list()]

    def revoke(self, token_id: str) -> tuple[TokenInfo, bool]:
        """Revoke a token; returns its info and whether this call revoked it (False: it already was)."""
        changed = self.tokens.revoke(token_id, _now().isoformat())
        if changed is None:
            raise _unknown(token_id)
        return self.get(token_id), changed

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
            project_scopes=info.project_scopes,
        )

    def _within_person(self, info: TokenInfo) -> TokenInfo:
        """A grant never gives more than the person who gave it may give now: their bundle and projects today
        (`user add` again with less narrows every grant they gave; a removed person's grants stop)."""
        person = self.people.get(info.person) if info.person is not None else None
        if person is None or person.bundle not in BUNDLES:
            raise TokenError(f"grant {info.id} ({info.name}): {info.person} may no longer grant access")
        allowed = person.projects
        projects = info.projects if not allowed else (info.projects & allowed if info.projects else allowed)
        if allowed and not projects:
            raise TokenError(f"grant {info.id} ({info.name}): {info.person} may no longer grant its projects")
        return replace(info, scopes=info.scopes & BUNDLES[person.bundle], projects=projects)

    def check(self, secret: str) -> TokenInfo:
        """The token a presented secret belongs to, if it is usable now; else TokenError. Runs on every HTTP
        request and every stdio call, so `last_used_at` is written at most once a minute per token."""
        digest = _hash(secret)
        stored = self.tokens.by_secret_hash(digest)
        if stored is None or not hmac.compare_digest(stored.secret_hash, digest):
            raise TokenError("unknown bugwarden token: create one with `bugwarden token create`")
        info = stored.info
        if info.revoked_at:
            raise TokenError(f"bugwarden token {info.id} ({info.name}) was revoked")
        now = _now()
        if info.state(now) == "expired":
            raise TokenError(f"bugwarden token {info.id} ({info.name}) expired at {info.expires_at}")
        if stored.access_expires_at is not None and stored.access_expires_at <= now.timestamp():
            raise TokenError(f"the access token of grant {info.id} ({info.name}) expired: refresh it")
        if info.projects:
            info = replace(info, project_scopes=ProjectAccess(self.db).of(info.id))
        if info.person is not None:
            info = self._within_person(info)
        if info.last_used_at is None or datetime.fromisoformat(info.last_used_at) <= now - LAST_USED_RESOLUTION:
            self.tokens.touch(info.id, now.isoformat())
        return info
