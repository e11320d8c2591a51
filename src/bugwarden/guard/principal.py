"""The principal a stdio launch runs as without a token (the `Principal` type itself is in call/principal.py,
where tools can read it)."""

from __future__ import annotations

from ..call.principal import Principal
from .scopes import BUNDLES

__all__ = ["Principal", "local_principal"]


def local_principal(bundle: str = "read", transport: str = "stdio") -> Principal:
    """The principal a stdio launch runs as without BUGWARDEN_TOKEN."""
    return Principal(id="local", name=f"local ({bundle} bundle)", scopes=BUNDLES[bundle], transport=transport)
