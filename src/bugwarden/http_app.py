"""Streamable HTTP for editor agents: bearer tokens from the token store, and a front door that is fair and bounded.

Outermost first, every request meets:
- `WebhookRoutes`: `POST /hooks/bugsnag/<secret>` goes to the webhook receiver (hooks/receiver.py);
- `OneAuthorization`: a request with more than one Authorization header is refused (400), so nothing can
  be checked against one header and acted on with another;
- `BoundedBody`: a body must arrive whole within `body_timeout` and be at most 1 MiB (408, 413);
- with a public URL, the pages (web/): sign-in, consent, the console and the OAuth authorization server;
- `BearerAuth`: the MCP endpoint needs `Authorization: Bearer …`, checked against the token store on
  every request (revocation applies at once); a 401 says how to get a token, and names the authorization
  server's metadata when there is one (with a public URL; without one, bugwarden advertises none);
- `SessionsPerToken`: each token may hold `max_sessions_per_token` open sessions; another token can always
  open its own.
Slow clients are cut off at the connection too: `BoundedH11` closes a connection whose request headers
have not arrived within `header_timeout`. The per-token budget of tool calls lives in the checkpoint,
after authentication, so it counts calls (not protocol chatter) and only for verified tokens.
"""
from __future__ import annotations

import ipaddress
import json
import logging
import os
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from mcp.server.auth.middleware.auth_context import AuthContextMiddleware
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.transport_security import TransportSecuritySettings
from starlette.authentication import AuthCredentials
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from .app import GuardedServer, build_server
from .config import HttpSettings, Settings, is_loopback
from .guard.auth_failures import AuthFailures
from .guard.errors import Refusal
from .guard.principal import Principal
from .guard.verifier import StoreTokenVerifier, http_principal
from .home import home_route
from .hooks.receiver import UNKNOWN_ROUTE, Receiver
from .model import Project
from .services import Seams, Services
from .store import StoreError
from .store.buckets import CallBudgets

log = logging.getLogger("bugwarden.http")

MAX_BODY = 1024 * 1024
REGISTRATIONS_PER_MINUTE = 10
AUTHORIZATIONS_PER_MINUTE = 60
"""Authorization requests from one address a minute: each keeps a pending request in the store for 10 minutes
and may fetch a client metadata document, so an unlimited stream would fill the store and send requests out."""
"""Anonymous client registrations (RFC 7591) a minute from one address."""
GETTING_ACCESS = (
    "send a bugwarden agent token as 'Authorization: Bearer bw_…'; an operator creates one with "
    "`bugwarden token create --name NAME --scopes read` (bugwarden is not an OAuth authorization server)"
)

SIGNING_IN = (
    "connect with OAuth (your MCP client opens a browser where a person signs in and consents), or send a "
    "bugwarden agent token as 'Authorization: Bearer bw_…' (`bugwarden token create`)"
)


def transport_security(http: HttpSettings) -> TransportSecuritySettings:
    """The SDK's DNS-rebinding protection for `http`'s hosts and origins (never off)."""
    hosts, origins = http.accepted()
    return TransportSecuritySettings(enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins)


def _json_error(status: int, error: str, description: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"error": error, "error_description": description}, status, headers=headers)


STORE_DOWN = "bugwarden cannot check tokens right now (its state store is unavailable); try again shortly"


async def store_unavailable(scope: Scope, receive: Receive, send: Send) -> None:
    """503 with a JSON-RPC error (answering the request's id when the body has one) that carries the reason, so an
    MCP client shows the server's sentence instead of a bare HTTP status."""
    request_id: str | int | None = None
    if scope.get("method") == "POST":
        message = await receive()
        try:
            parsed = json.loads(message.get("body", b"") or b"null")
        except ValueError:
            parsed = None
        candidate = parsed.get("id") if isinstance(parsed, dict) else None
        if isinstance(candidate, str | int) and not isinstance(candidate, bool):
            request_id = candidate
    body = {
        "jsonrpc": "2.0",
        "id": request_id,
        "error": {"code": -32000, "message": STORE_DOWN, "data": {"error": "temporarily_unavailable"}},
    }
    await JSONResponse(body, 503, headers={"Retry-After": "5"})(scope, receive, send)


class OneAuthorization:
    """Refuse requests that carry more than one Authorization header (400)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and sum(1 for k, _ in scope.get("headers", ()) if k == b"authorization") > 1:
            response = _json_error(400, "invalid_request", "send exactly one Authorization header")
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


class BoundedBody:
    """Read a request body whole, within `timeout` seconds and `limit` bytes, before the app sees it."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY, timeout: float = 30.0) -> None:
        self.app, self.limit, self.timeout = app, limit, timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", ())).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            await _json_error(413, "request_too_large", f"request bodies are limited to {self.limit} bytes")(
                scope, receive, send
            )
            return
        chunks: list[bytes] = []
        size = 0
        with anyio.move_on_after(self.timeout) as scope_timer:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > self.limit:
                    await _json_error(413, "request_too_large", f"request bodies are limited to {self.limit} bytes")(
                        scope, receive, send
                    )
                    return
                chunks.append(chunk)
                if not message.get("more_body", False):
                    break
        if scope_timer.cancelled_caught:
            await _json_error(408, "request_timeout", f"the request body did not arrive within {self.timeout:g}s")(
                scope, receive, send
            )
            return
        body, replayed = b"".join(chunks), False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class BearerAuth:
    """The MCP endpoint needs a bugwarden token; everything else (/healthz) does not. No OAuth metadata.

    `loopback` (the demo's `--trust-loopback`, for clients that send no header) is the principal a request
    without an Authorization header runs as when it comes from a loopback address; `serve` never sets it.
    """

    def __init__(
        self,
        app: ASGIApp,
        verifier: StoreTokenVerifier,
        path: str,
        loopback: Principal | None = None,
        resource_metadata: str | None = None,
        failures: AuthFailures | None = None,
    ) -> None:
        self.app = AuthContextMiddleware(app)
        self.verifier = verifier
        self.path = path.rstrip("/") or "/"
        self.loopback = loopback
        self.failures = failures
        self.resource_metadata = resource_metadata
        """With the authorization server on: where clients discover it (RFC 9728), named in every 401."""

    def _protected(self, path: str) -> bool:
        return path == self.path or path.startswith(self.path + "/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._protected(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        header = dict(scope.get("headers", ())).get(b"authorization", b"").decode("latin-1")
        scheme, _, credential = header.partition(" ")
        try:
            token = await self.verifier.verify_token(credential.strip()) if scheme.lower() == "bearer" else None
        except StoreError as exc:
            log.error("cannot check a bearer token: %s", exc)
            await store_unavailable(scope, receive, send)
            return
        client = scope.get("client") or ("", 0)
        if token is None and not header and self.loopback is not None and is_loopback(client[0]):
            token = AccessToken(
                token="loopback",  # noqa: S106 - a marker, not a secret: no credential was presented
                client_id=self.loopback.id,
                scopes=sorted(self.loopback.scopes),
                claims={"name": self.loopback.name, "projects": sorted(self.loopback.projects)},
            )
        if token is None:
            problem = (
                "missing or malformed Authorization header" if not credential else "unknown, expired or revoked token"
            )
            if credential and self.failures is not None:  # a credential was presented, and it was refused
                await self.failures.failed(str(client[0]), problem)
            challenge = f'Bearer realm="bugwarden", error="invalid_token", error_description="{problem}"'
            how = GETTING_ACCESS
            if self.resource_metadata:
                challenge += f', resource_metadata="{self.resource_metadata}"'
                how = SIGNING_IN
            response = _json_error(401, "invalid_token", f"{problem}: {how}", {"WWW-Authenticate": challenge})
            await response(scope, receive, send)
            return
        scope["user"] = AuthenticatedUser(token)
        scope["auth"] = AuthCredentials(token.scopes)
        await self.app(scope, receive, send)


class SessionsPerToken:
    """Cap the open MCP sessions of each token, so one token cannot exhaust the server for the others.

    A session is counted from the response that opens it (its `Mcp-Session-Id`) until the client deletes it
    or it has been idle as long as the server keeps idle sessions.
    """

    def __init__(self, app: ASGIApp, cap: int, idle: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.app, self.cap, self.idle, self.clock = app, cap, idle, clock
        self.sessions: dict[str, dict[str, float]] = {}
        """token id -> session id -> last seen."""

    def open_sessions(self, owner: str) -> dict[str, float]:
        now = self.clock()
        live = {sid: seen for sid, seen in self.sessions.get(owner, {}).items() if now - seen < self.idle}
        if live:
            self.sessions[owner] = live
        else:
            self.sessions.pop(owner, None)
        return live

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        user = scope.get("user")
        if scope["type"] != "http" or not isinstance(user, AuthenticatedUser):
            await self.app(scope, receive, send)
            return
        owner = user.access_token.client_id
        session = dict(scope.get("headers", ())).get(b"mcp-session-id", b"").decode("latin-1")[:200]
        live = self.open_sessions(owner)
        if session:
            if scope.get("method") == "DELETE":
                live.pop(session, None)
            elif session in live:
                live[session] = self.clock()
            await self.app(scope, receive, send)
            return
        if scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        if len(live) >= self.cap:
            oldest = min(live.values())
            retry = max(1, int(self.idle - (self.clock() - oldest) + 0.999))
            body = {
                "jsonrpc": "2.0",
                "id": None,
                "error": {
                    "code": -32000,
                    "message": f"this token already has {len(live)} open sessions, the most allowed: end one "
                    f"(HTTP DELETE with its Mcp-Session-Id) or retry in {retry}s, when idle ones expire",
                },
            }
            await JSONResponse(body, 429, headers={"Retry-After": str(retry)})(scope, receive, send)
            return

        # Hold the slot while the opening request runs, so concurrent openings cannot all slip under the cap.
        placeholder = f"opening:{id(scope)}"
        self.sessions.setdefault(owner, {})[placeholder] = self.clock()

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start":
                slots = self.sessions.setdefault(owner, {})
                slots.pop(placeholder, None)
                if message["status"] < 400:
                    for key, value in message.get("headers", ()):
                        if key.lower() == b"mcp-session-id":
                            slots[value.decode("latin-1")] = self.clock()
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            self.sessions.get(owner, {}).pop(placeholder, None)


class BoundedH11(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, closing a connection whose request headers take longer than `header_timeout`
    (uvicorn bounds their size, not their time: one byte every few seconds would otherwise hold it forever)."""

    header_timeout = 10.0

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._header_timer: Any = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def data_received(self, data: bytes) -> None:
        before = self.cycle
        super().data_received(data)
        if self.cycle is not before and self._header_timer is not None:  # a request's headers are in
            self._header_timer.cancel()
            self._header_timer = None

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self._header_timer is None:  # waiting for the next request
            self._header_timer = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
        super().connection_lost(exc)

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.close()


def bounded_h11(header_timeout: float) -> type[BoundedH11]:
    return type("BoundedH11", (BoundedH11,), {"header_timeout": header_timeout})


def forwarded_options() -> dict[str, Any]:
    """uvicorn's X-Forwarded-For handling: believed only from the reverse proxies `FORWARDED_ALLOW_IPS` names,
    never by default. (uvicorn's own default believes it from any loopback caller, so any local process could
    pick the address that sign-in and registration limits count and that `--trusted-proxy-from` checks.)"""
    trusted = os.environ.get("FORWARDED_ALLOW_IPS", "").strip()
    return {"proxy_headers": bool(trusted), "forwarded_allow_ips": trusted or None}


async def healthz(request: Request) -> Response:
    """Liveness for load balancers: no auth, and nothing about configuration or data."""
    return Response(json.dumps({"status": "ok"}), media_type="application/json")


def build_http(
    settings: Settings,
    options: HttpSettings,
    loopback_principal: Principal | None = None,
    web_clock: Callable[[], float] | None = None,
    metadata_fetch: Callable[[str], Awaitable[bytes]] | None = None,
    **build_kw: Any,
) -> tuple[GuardedServer, ASGIApp]:
    """The MCP server and the ASGI app that serves it over Streamable HTTP; with a public URL, also the pages
    (sign-in, consent, console) and the OAuth authorization server. One `Services` serves them all; `build_kw`
    goes to `Services.from_settings` (`store`, and the loose test seams). `web_clock` replaces the pages' wall
    clock (tests), `metadata_fetch` the network for client metadata documents (tests)."""
    options.check()
    services = Services.from_settings(
        settings,
        transport="http",
        authenticate=_required_http_principal,
        call_budget=options.rate_limit,
        seams=Seams.take(build_kw),
        **build_kw,
    )
    server = build_server(services)
    server.custom_route("/healthz", methods=["GET"])(healthz)
    if options.path != "/":  # `GET /` says what this is and where to connect (unless MCP itself is served there)
        server.custom_route("/", methods=["GET"])(home_route(options))
    app = server.streamable_http_app(
        streamable_http_path=options.path,
        stateless_http=options.stateless,
        json_response=options.stateless,
        max_request_body_size=MAX_BODY,
        session_idle_timeout=options.session_idle_timeout,
        max_sessions=None,  # capped per token below, so that one token cannot lock the others out
        transport_security=transport_security(options),
        host=options.host,
    )
    guarded: ASGIApp = SessionsPerToken(app, options.max_sessions_per_token, options.session_idle_timeout)
    verifier = StoreTokenVerifier(services.tokens)
    failures = AuthFailures(services.audit)
    if not options.public_url:
        guarded = BearerAuth(guarded, verifier, options.path, loopback_principal, failures=failures)
    else:
        from .store.oauth import OAuthRepository
        from .web import Web, build_web
        from .web.oauth.documents import network_fetch
        from .web.oauth.provider import METADATA_FETCHES_PER_MINUTE, Provider
        from .web.oauth.routes import oauth_routes, resource_metadata_url

        public = options.public_url.rstrip("/")
        metadata_url = resource_metadata_url(public, options.path)
        guarded = BearerAuth(
            guarded, verifier, options.path, loopback_principal, resource_metadata=metadata_url, failures=failures
        )

        async def list_projects() -> list[Project]:
            return (await services.runtime.all_projects())[0]

        clock = web_clock or time.time
        provider = Provider(
            repo=OAuthRepository(services.store.tokens),
            audit=services.audit,
            issuer=public,
            resource=public + options.path,
            fetch=metadata_fetch or network_fetch(options.metadata_hosts),
            clock=clock,
            metadata_hosts=options.metadata_hosts,
        )
        web = Web(
            store=services.store,
            public_url=public,
            audit=services.audit,
            keys=services.keys,
            clock=clock,
            list_projects=list_projects,
            oauth=provider,
            trusted_header=options.trusted_proxy_header,
            trusted_from=tuple(ipaddress.ip_network(c, strict=False) for c in options.trusted_proxy_from),
        )
        registrations = CallBudgets(services.store.state, REGISTRATIONS_PER_MINUTE)

        async def registration_wait(address: str) -> float:
            return await anyio.to_thread.run_sync(registrations.take, f"register:{address}", clock(), 0.0)

        authorizations = CallBudgets(services.store.state, AUTHORIZATIONS_PER_MINUTE)

        async def authorize_wait(address: str) -> float:
            return await anyio.to_thread.run_sync(authorizations.take, f"authorize:{address}", clock(), 0.0)

        provider.fetch_budget = CallBudgets(web.store.state, METADATA_FETCHES_PER_MINUTE)  # per address, shared
        routes = oauth_routes(
            provider,
            options.path,
            registration=options.oauth_registration == "open",
            registration_wait=registration_wait,
            authorize_wait=authorize_wait,
        )
        guarded = build_web(web, guarded, routes)
    guarded = BoundedBody(guarded, MAX_BODY, options.body_timeout)
    receiver = Receiver(services.hooks, services.signals, services.audit, options.hooks, on_signal=_wake(server))
    if server.watch is not None:
        server.watch.chores.append(receiver.flush)
    server.receiver = receiver
    return server, WebhookRoutes(OneAuthorization(guarded), receiver)


def _wake(server: GuardedServer) -> Callable[[], None]:
    def wake() -> None:
        if server.watch is not None:
            server.watch.wake()

    return wake


class WebhookRoutes:
    """`POST /hooks/bugsnag/<secret>` goes to the webhook receiver (which bounds, checks and audits its own
    requests, no bearer token: the secret path is the credential); everything else to the app. A delivery the
    receiver does not recognise (wrong or removed secret, a source off the allow-list) is handed to the app as
    well, so it is answered exactly as any unknown route is."""

    ROUTE = re.compile(r"^/hooks/bugsnag/([^/]*)$")

    def __init__(self, app: ASGIApp, receiver: Receiver) -> None:
        self.app = app
        self.receiver = receiver

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        matched = self.ROUTE.match(str(scope.get("path", ""))) if scope["type"] == "http" else None
        if matched is None or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        scope = {**scope, "path_params": {"secret": matched.group(1)}}
        response = await self.receiver.handle(Request(scope, receive))
        if response is UNKNOWN_ROUTE:
            await self.app(scope, receive, send)
            return
        await response(scope, receive, send)


async def _required_http_principal(ctx: Any) -> Principal:
    principal = http_principal()
    if principal is None:  # BearerAuth makes this unreachable for the MCP endpoint
        raise Refusal("denied", "denied: no verified bearer token on this request")
    return principal
