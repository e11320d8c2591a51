"""Streamable HTTP for editor agents: bearer auth from the token store, DNS-rebinding protection, /healthz,
a body limit, and a per-token request rate limit in front of the shared upstream quota."""

from __future__ import annotations

import hashlib
import ipaddress
import json
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from mcp.server.auth.settings import AuthSettings
from mcp.server.transport_security import TransportSecuritySettings
from pydantic import AnyHttpUrl
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from .app import GuardedServer, build_server
from .config import ConfigError, Settings
from .guard.errors import Refusal
from .guard.principal import Principal
from .guard.tokens import TokenStore
from .guard.verifier import StoreTokenVerifier, http_principal
from .store import Store

MAX_BODY = 1024 * 1024
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True, slots=True)
class HttpOptions:
    """How the HTTP transport is exposed. Hosts and origins are Host/Origin header patterns (`host:*` allowed)."""

    host: str = "127.0.0.1"
    port: int = 8000
    path: str = "/mcp"
    allowed_hosts: tuple[str, ...] = ()
    allowed_origins: tuple[str, ...] = ()
    stateless: bool = False
    rate_limit: int = 120
    public_url: str | None = None

    def security(self) -> TransportSecuritySettings:
        hosts, origins = list(self.allowed_hosts), list(self.allowed_origins)
        if is_loopback(self.host):
            hosts += ["127.0.0.1:*", "localhost:*", "[::1]:*"]
            origins += ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"]
        elif not hosts:
            raise ConfigError(
                f"serving on {self.host} needs --allowed-host (the Host name clients use, e.g. mcp.example.com:443); "
                "DNS-rebinding protection cannot be turned off"
            )
        return TransportSecuritySettings(
            enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins
        )

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class TokenRateLimit:
    """A pure-ASGI sliding one-minute window per bearer token (keyed by its hash), answering 429 with Retry-After."""

    app: ASGIApp
    limit: int
    clock: Any = time.monotonic
    _hits: dict[str, deque[float]] = field(default_factory=dict)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.limit <= 0:
            await self.app(scope, receive, send)
            return
        auth = dict(scope.get("headers") or []).get(b"authorization", b"")
        if not auth:
            await self.app(scope, receive, send)
            return
        key = hashlib.sha256(auth).hexdigest()
        now = self.clock()
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - 60:
            hits.popleft()
        if len(hits) >= self.limit:
            wait = max(1, int(hits[0] + 60 - now + 0.999))
            body = {"error": "rate_limited", "error_description": f"too many requests for this token; retry in {wait}s"}
            response = JSONResponse(body, 429, headers={"Retry-After": str(wait)})
            await response(scope, receive, send)
            return
        hits.append(now)
        await self.app(scope, receive, send)


async def healthz(request: Request) -> Response:
    """Liveness for load balancers: no auth, and nothing about configuration or data."""
    return Response(json.dumps({"status": "ok"}), media_type="application/json")


def build_http(settings: Settings, options: HttpOptions, **build_kw: Any) -> tuple[GuardedServer, ASGIApp]:
    """The MCP server and the ASGI app that serves it over Streamable HTTP."""
    store = build_kw.pop("store", None) or Store.open(settings)
    auth = AuthSettings(
        issuer_url=AnyHttpUrl(options.base_url),
        resource_server_url=AnyHttpUrl(options.base_url + options.path),
        required_scopes=None,
        validate_token_resource=False,
    )
    server = build_server(
        settings,
        transport="http",
        token_verifier=StoreTokenVerifier(TokenStore(store.tokens)),
        auth=auth,
        authenticate=_required_http_principal,
        store=store,
        **build_kw,
    )
    server.custom_route("/healthz", methods=["GET"])(healthz)
    app = server.streamable_http_app(
        streamable_http_path=options.path,
        stateless_http=options.stateless,
        json_response=options.stateless,
        max_request_body_size=MAX_BODY,
        transport_security=options.security(),
        host=options.host,
    )
    return server, TokenRateLimit(app, options.rate_limit)


async def _required_http_principal(ctx: Any) -> Principal:
    principal = http_principal()
    if principal is None:  # the SDK's auth middleware makes this unreachable for /mcp
        raise Refusal("denied", "denied: no verified bearer token on this request")
    return principal
