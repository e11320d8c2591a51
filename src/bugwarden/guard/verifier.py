"""Bearer tokens over HTTP: the SDK's TokenVerifier, backed by our token store."""

from __future__ import annotations

import anyio.to_thread
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken

from .principal import Principal
from .tokens import TokenError, TokenStore


class StoreTokenVerifier:
    """Checks every request's bearer token against the store, so revocation and expiry apply at once."""

    def __init__(self, store: TokenStore) -> None:
        self.store = store

    async def verify_token(self, token: str) -> AccessToken | None:
        try:
            principal = await anyio.to_thread.run_sync(self.store.verify, token, "http")
        except TokenError:
            return None
        info = self.store.get(principal.id)
        expires = None
        if info.expires_at:
            from datetime import datetime

            expires = int(datetime.fromisoformat(info.expires_at).timestamp())
        return AccessToken(
            token=token,
            client_id=principal.id,
            scopes=sorted(principal.scopes),
            expires_at=expires,
            claims={"name": principal.name, "projects": sorted(principal.projects)},
        )


def http_principal() -> Principal | None:
    """The principal of the HTTP request being served, from the verified bearer token; None outside HTTP."""
    token = get_access_token()
    if token is None:
        return None
    claims = token.claims or {}
    return Principal(
        id=token.client_id,
        name=str(claims.get("name", token.client_id)),
        scopes=frozenset(token.scopes),
        projects=frozenset(claims.get("projects", ())),
        transport="http",
    )
