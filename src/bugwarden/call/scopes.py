"""Scope names, bundles, and parsing of `--scopes` lists. An empty list grants nothing."""

from __future__ import annotations

from ..errors import BugwardenError

SCOPES = (
    "errors:read",
    "errors:write",
    "errors:delete",
    "projects:read",
    "projects:admin",
    "collaborators:read",
)
BUNDLES: dict[str, frozenset[str]] = {
    "read": frozenset({"errors:read", "projects:read"}),
    "triage": frozenset({"errors:read", "projects:read", "errors:write"}),
    "admin": frozenset(SCOPES),
}


class ScopeError(BugwardenError, ValueError):
    """An unknown scope or bundle name."""


def parse_scopes(value: str | list[str] | tuple[str, ...]) -> frozenset[str]:
    """`errors:read,projects:read` or `read` (bundles expand) -> a set of scopes; unknown names are refused."""
    names = value.split(",") if isinstance(value, str) else list(value)
    granted: set[str] = set()
    for raw in names:
        name = raw.strip()
        if not name:
            continue
        if name in BUNDLES:
            granted |= BUNDLES[name]
        elif name in SCOPES:
            granted.add(name)
        else:
            raise ScopeError(
                f"unknown scope {name!r}: choose from {', '.join(SCOPES)} or the bundles {', '.join(BUNDLES)}"
            )
    return frozenset(granted)
