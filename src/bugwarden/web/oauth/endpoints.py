"""/authorize, /token and /revoke on the SDK's handlers, each working for the request's client address (what
metadata-document fetches count against: `Provider.at`), with client secrets checked against stored digests,
and /revoke open to public clients.

- The SDK's `ClientAuthenticator` compares a presented secret with the stored one as plain text. We store only
  a digest, so `DigestAuthenticator` runs the SDK's check on a copy of the client whose secret is the presented
  one when its digest is the stored one (and an unguessable value otherwise): the SDK still decides everything
  else (which method the client registered, Basic or form, expiry).
- The SDK's revocation request requires a `client_secret` field even from a public client, which RFC 7009
  (§2.1, with RFC 6749 §2.3) does not ask: `revocation` is the SDK's handler with that field optional; a failed
  client authentication answers 401 `invalid_client` (RFC 6749 §5.2).
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import unquote

from mcp.server.auth.handlers.authorize import AuthorizationHandler
from mcp.server.auth.handlers.token import TokenHandler
from mcp.server.auth.middleware.client_auth import AuthenticationError, ClientAuthenticator
from mcp.server.auth.provider import AccessToken, RefreshToken
from mcp.server.auth.routes import cors_middleware
from mcp.server.transport_security import DEFAULT_MAX_REQUEST_BODY_SIZE, RequestBodyLimitMiddleware
from mcp.shared.auth import OAuthClientInformationFull
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import request_response
from starlette.types import ASGIApp

from ..site import client_address
from .provider import Provider, secret_matches

Handler = Callable[[Request], Awaitable[Response]]
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _presented_secrets(request: Request, form: Any) -> tuple[str, ...]:
    """The secrets a request presents: the form's `client_secret` and the password of a Basic header."""
    found: list[str] = []
    posted = form.get("client_secret")
    if isinstance(posted, str) and posted:
        found.append(posted)
    header = request.headers.get("Authorization", "")
    if header.startswith("Basic "):
        try:
            decoded = base64.b64decode(header[6:], validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            decoded = ""
        if ":" in decoded:
            found.append(unquote(decoded.split(":", 1)[1]))
    return tuple(found)


@dataclass
class _Presenting:
    """The part of the provider the SDK's authenticator uses (`get_client`), answering with the client's secret
    in plain text when the request presents the one whose digest is stored."""

    provider: Provider
    presented: tuple[str, ...]

    async def get_client(self, client_id: str) -> OAuthClientInformationFull | None:
        client = await self.provider.get_client(client_id)
        if client is None or not client.client_secret:
            return client
        stored = client.client_secret
        match = next((p for p in self.presented if secret_matches(p, stored)), None)
        return client.model_copy(update={"client_secret": match or secrets.token_urlsafe(32)})


class DigestAuthenticator(ClientAuthenticator):
    """The SDK's client authentication, for client secrets stored as digests."""

    def __init__(self, provider: Provider) -> None:
        super().__init__(provider)
        self.digests = provider

    async def authenticate_request(self, request: Request) -> OAuthClientInformationFull:
        presenting = _Presenting(self.digests, _presented_secrets(request, await request.form()))
        sdk: Any = presenting  # the SDK's authenticator calls only get_client
        return await ClientAuthenticator(sdk).authenticate_request(request)


class RevocationRequest(BaseModel):
    """RFC 7009 §2.1; `client_id`/`client_secret` as the client authenticates (RFC 6749 §2.3)."""

    token: str
    token_type_hint: str | None = None
    """A hint only: `refresh_token` looks there first; any other value is ignored (RFC 7009 §2.1)."""
    client_id: str | None = None
    client_secret: str | None = None


def revocation(provider: Provider) -> Handler:
    """The revocation endpoint: the client authenticates as it registered (a public client by its client_id);
    a token it does not own, or that is unknown, is answered 200 and left alone (RFC 7009 §2.2)."""
    authenticator = DigestAuthenticator(provider)

    async def handle(request: Request) -> Response:
        try:
            client = await authenticator.authenticate_request(request)
        except AuthenticationError as exc:
            return JSONResponse({"error": "invalid_client", "error_description": exc.message}, 401, NO_STORE)
        try:
            asked = RevocationRequest.model_validate(dict(await request.form()))
        except ValidationError:
            body = {"error": "invalid_request", "error_description": "name the token to revoke"}
            return JSONResponse(body, 400, NO_STORE)
        loaders: list[Callable[[str], Awaitable[AccessToken | RefreshToken | None]]] = [
            provider.load_access_token,
            partial(provider.load_refresh_token, client),
        ]
        if asked.token_type_hint == "refresh_token":  # noqa: S105 - a token type's name
            loaders.reverse()
        for load in loaders:
            token = await load(asked.token)
            if token is not None:
                if token.client_id == client.client_id:
                    await provider.revoke_token(token)  # type: ignore[arg-type]
                break
        return Response(status_code=200, headers=NO_STORE)

    return handle


def for_address(provider: Provider, handler_of: Callable[[Provider], Handler]) -> Handler:
    """An endpoint whose handler works on `provider.at(the request's client address)`."""

    async def endpoint(request: Request) -> Response:
        return await handler_of(provider.at(client_address(request)))(request)

    return endpoint


def authorize_app(provider: Provider) -> ASGIApp:
    return _limited_body(request_response(for_address(provider, lambda p: AuthorizationHandler(p).handle)))


def token_app(provider: Provider) -> ASGIApp:
    def handler(p: Provider) -> Handler:
        return TokenHandler(p, DigestAuthenticator(p)).handle

    return _limited_body(cors_middleware(for_address(provider, handler), ["POST", "OPTIONS"]))


def revoke_app(provider: Provider) -> ASGIApp:
    return _limited_body(cors_middleware(for_address(provider, revocation), ["POST", "OPTIONS"]))


def _limited_body(app: ASGIApp) -> ASGIApp:
    return RequestBodyLimitMiddleware(app, DEFAULT_MAX_REQUEST_BODY_SIZE)
