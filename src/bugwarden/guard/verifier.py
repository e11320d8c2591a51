"""Bearer tokens over HTTP: the SDK's TokenVerifier, backed by our token store."""

from __future__ import annotations

from datetime import datetime

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken

from ..store.waits import in_token_thread
from .principal import Principal
from .tokens import TokenError, TokenStore


class StoreTokenVerifier:
    """Checks every request's bearer token against the store, so revocation and expiry apply at once."""

    def __init__(self, store: TokenStore) -> None:
        self.store = store

    async def verify_token(self, token: str) -> AccessToken | None:
        try:
            info = await in_token_thread(self.store.check, token)
        except TokenError:
            return None
        expires = int(datetime.fromisoformat(info.expires_at).timestamp()) if info.expires_at else None
        return AccessToken(
            token=token,
            client_id=info.id,
            scopes=sorted(info.scopes),
            expires_at=expires,
            claims={
                "name": info.name,
                "projects": sorted(info.projects),
                "project_scopes": {p: sorted(s) for p, s in info.project_scopes.items()},
                **({"person": info.person, "oauth_client": info.client_id} if info.person else {}),
            },
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
        person=claims.get("person"),
        client_id=claims.get("oauth_client"),
        project_scopes={str(p): frozenset(s) for p, s in (claims.get("project_scopes") or {}).items()},
    )
