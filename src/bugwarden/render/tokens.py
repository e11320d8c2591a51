"""`bugwarden token list`: the columns of the token table (and of its `--json`).

To show more about a token (who it belongs to, which client it was granted to), add a `Column` to `COLUMNS`
(or build a list from it): the table and the JSON follow.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from .table import Column


class TokenRow(Protocol):
    """What the table reads of a token (store.tokens.TokenInfo has it)."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def scopes(self) -> frozenset[str]: ...
    @property
    def projects(self) -> frozenset[str]: ...
    @property
    def created_at(self) -> str: ...
    @property
    def expires_at(self) -> str | None: ...
    @property
    def last_used_at(self) -> str | None: ...
    def state(self) -> str: ...


class GrantRow(TokenRow, Protocol):
    """An OAuth grant in the token table: who gave it, to which client."""

    @property
    def person(self) -> str | None: ...
    @property
    def client_id(self) -> str | None: ...


def minute(iso: str | None) -> str:
    """`2026-12-03T15:04:05.123+00:00` as `2026-12-03 15:04Z` (the JSON keeps the full time)."""
    if not iso:
        return ""
    return iso[:10] + " " + iso[11:16] + ("Z" if iso.endswith(("+00:00", "Z")) else iso[-6:])


COLUMNS: list[Column[TokenRow]] = [
    Column("ID", lambda t: t.id, "id"),
    Column("NAME", lambda t: t.name, "name", width=40),
    Column("STATE", lambda t: t.state(), "state"),
    Column("SCOPES", lambda t: ",".join(sorted(t.scopes)) or "none", "scopes", lambda t: sorted(t.scopes)),
    Column("PROJECTS", lambda t: ",".join(sorted(t.projects)) or "all", "projects", lambda t: sorted(t.projects)),
    Column("CREATED", lambda t: minute(t.created_at), "created_at", lambda t: t.created_at),
    Column("EXPIRES", lambda t: minute(t.expires_at) or "never", "expires_at", lambda t: t.expires_at),
    Column("LAST USED", lambda t: minute(t.last_used_at) or "never", "last_used_at", lambda t: t.last_used_at),
]
EMPTY = "no tokens yet: create one with `bugwarden token create --name NAME --scopes read`"
GRANT_COLUMNS: list[Column[GrantRow]] = [
    Column("PERSON", lambda t: t.person or "", "person", lambda t: t.person),
    Column("OAUTH CLIENT", lambda t: t.client_id or "", "oauth_client", lambda t: t.client_id),
]
"""Shown when some tokens are OAuth grants (ids `gr_…`): who gave each, and to which client (NAME is its name)."""


class ScopedRow(TokenRow, Protocol):
    """A token whose access an admin set project by project (the console's grid)."""

    @property
    def project_scopes(self) -> Mapping[str, frozenset[str]]: ...


def per_project(token: ScopedRow) -> str:
    """`p1: errors:read,errors:write; p2: errors:read` (empty when the token has the same access everywhere)."""
    return "; ".join(
        f"{project}: {','.join(sorted(token.project_scopes[project])) or 'none'}"
        for project in sorted(token.project_scopes)
    )


PROJECT_COLUMNS: list[Column[ScopedRow]] = [
    Column(
        "ACCESS PER PROJECT",
        per_project,
        "project_scopes",
        lambda t: {p: sorted(s) for p, s in sorted(t.project_scopes.items())},
        width=200,
    ),
]
"""Shown when some tokens have access set per project: what each may do in each of its projects (SCOPES is then
what it may do somewhere)."""
