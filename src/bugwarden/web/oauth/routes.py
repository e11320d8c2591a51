"""The authorization server's routes, from the SDK's route builders, for the MCP endpoint at `resource`:

- RFC 9728 protected-resource metadata at `/.well-known/oauth-protected-resource/mcp` (and without the suffix);
- RFC 8414 server metadata at `/.well-known/oauth-authorization-server` (S256 only, public clients, and
  `client_id_metadata_document_supported`);
- `/authorize`, `/token`, `/revoke` (web/oauth/endpoints.py: each on the SDK's handler, for the request's
  address), and `/register` unless registration is closed;
- the consent page at `/consent`.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable

from mcp.server.auth.handlers.metadata import MetadataHandler, ProtectedResourceMetadataHandler
from mcp.server.auth.routes import build_metadata, cors_middleware, create_auth_routes
from mcp.server.auth.settings import ClientRegistrationOptions, RevocationOptions
from mcp.shared.auth import ProtectedResourceMetadata
from pydantic import AnyHttpUrl
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from ...guard.scopes import SCOPES
from ..site import rate_key
from . import consent
from .endpoints import authorize_app, revoke_app, token_app
from .provider import Provider

WELL_KNOWN_AS = "/.well-known/oauth-authorization-server"
WELL_KNOWN_PR = "/.well-known/oauth-protected-resource"


def resource_metadata_url(issuer: str, path: str) -> str:
    return f"{issuer.rstrip('/')}{WELL_KNOWN_PR}{path}"


class Limited:
    """An endpoint that anyone may call, limited per client address (`wait(rate_key(address))` > 0: refuse for that
    long)."""

    def __init__(
        self,
        app: ASGIApp,
        wait: Callable[[str], Awaitable[float]],
        methods: tuple[str, ...] = ("POST",),
        what: str = "registrations",
    ) -> None:
        self.app, self.wait, self.methods, self.what = app, wait, methods, what

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("method") in self.methods:
            address = (scope.get("client") or ("unknown", 0))[0]
            seconds = await self.wait(rate_key(str(address)))
            if seconds > 0:
                retry = str(max(1, math.ceil(seconds)))
                body = {"error": "invalid_request", "error_description": f"too many {self.what}: retry in {retry}s"}
                await JSONResponse(body, 429, headers={"Retry-After": retry})(scope, receive, send)
                return
        await self.app(scope, receive, send)


def oauth_routes(
    provider: Provider,
    path: str,
    registration: bool,
    registration_wait: Callable[[str], Awaitable[float]] | None = None,
    authorize_wait: Callable[[str], Awaitable[float]] | None = None,
) -> list[BaseRoute]:
    """The routes above; `registration_wait(address)` limits anonymous registrations per address, and
    `authorize_wait(address)` authorization requests (each keeps a pending request, and may fetch a document)."""
    issuer = AnyHttpUrl(provider.issuer)
    registration_options = ClientRegistrationOptions(enabled=registration)
    revocation_options = RevocationOptions(enabled=True)
    sdk = create_auth_routes(provider, issuer, None, registration_options, revocation_options)
    metadata = build_metadata(issuer, None, registration_options, revocation_options)
    metadata.client_id_metadata_document_supported = True
    metadata.authorization_response_iss_parameter_supported = True  # RFC 9207: clients can tell servers apart
    metadata.scopes_supported = list(SCOPES)
    metadata.token_endpoint_auth_methods_supported = ["client_secret_post", "client_secret_basic", "none"]
    metadata.revocation_endpoint_auth_methods_supported = ["client_secret_post", "client_secret_basic", "none"]
    server_metadata = Route(
        WELL_KNOWN_AS,
        endpoint=cors_middleware(MetadataHandler(metadata).handle, ["GET", "OPTIONS"]),
        methods=["GET", "OPTIONS"],
    )
    resource = ProtectedResourceMetadata(
        resource=AnyHttpUrl(provider.resource),
        authorization_servers=[issuer],
        scopes_supported=list(SCOPES),
        resource_name="bugwarden",
    )
    resource_handler = cors_middleware(ProtectedResourceMetadataHandler(resource).handle, ["GET", "OPTIONS"])
    authorize: ASGIApp = authorize_app(provider)
    if authorize_wait is not None:
        authorize = Limited(authorize, authorize_wait, ("GET", "POST"), "authorization requests")
    routes: list[BaseRoute] = [
        server_metadata,
        Route("/authorize", endpoint=authorize, methods=["GET", "POST"]),
        Route("/token", endpoint=token_app(provider), methods=["POST", "OPTIONS"]),
        Route("/revoke", endpoint=revoke_app(provider), methods=["POST", "OPTIONS"]),
    ]
    for route in sdk:
        if isinstance(route, Route) and route.path == "/register":
            if registration_wait is not None:
                route = Route("/register", endpoint=Limited(route.app, registration_wait), methods=["POST", "OPTIONS"])
            routes.append(route)
    routes += [
        Route(WELL_KNOWN_PR + path, endpoint=resource_handler, methods=["GET", "OPTIONS"]),
        Route(WELL_KNOWN_PR, endpoint=resource_handler, methods=["GET", "OPTIONS"]),
    ]
    routes += consent.routes()
    return routes
