"""The scope vocabulary, as the guard and its callers (cli, web) name it: it lives in call/scopes.py, below the
tools, which declare their scope in their registration."""

from __future__ import annotations

from ..call.scopes import BUNDLES, SCOPES, ScopeError, parse_scopes

__all__ = ["BUNDLES", "SCOPES", "ScopeError", "parse_scopes"]
