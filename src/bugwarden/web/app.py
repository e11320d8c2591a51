"""The web app beside the MCP endpoint: pages, static files, and (with the authorization server) OAuth routes.

`build_web(...)` returns the `Web` context and an ASGI app that serves the web routes and hands every other
request (the MCP endpoint, /healthz, routes other modules add to the MCP server) to the MCP app unchanged.
Pages are served only when the server has a public URL (`--public-url`, `BUGWARDEN_PUBLIC_URL`).

To add pages, write `routes() -> list[BaseRoute]` in a module of this package and add it to `PAGES`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from . import console_agents, console_approvals, console_audit, console_signals, signin
from .site import STATIC, Web, security_headers

PAGES: list[Callable[[], Sequence[BaseRoute]]] = [
    signin.routes,
    console_audit.routes,
    console_agents.routes,
    console_approvals.routes,
    console_signals.routes,
]
"""Modules whose routes make up the pages (each a function returning Starlette routes)."""

_STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml"}


async def static_file(request: Request) -> Response:
    """A file of `web/static/` by its plain name (no paths), with the security headers."""
    name = request.path_params["name"]
    path = STATIC / name
    suffix = path.suffix
    if "/" in name or name.startswith(".") or suffix not in _STATIC_TYPES or not path.is_file():
        return security_headers(PlainTextResponse("not found", 404))
    response = Response(path.read_bytes(), media_type=_STATIC_TYPES[suffix])
    security_headers(response)
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    response = PlainTextResponse(exc.detail, exc.status_code, headers=exc.headers)
    return security_headers(response)


class WebDispatch:
    """Requests a web route matches go to the web app (with the `Web` in their scope); all others to `fallback`."""

    def __init__(self, web: Web, app: Starlette, fallback: ASGIApp) -> None:
        self.web, self.app, self.fallback = web, app, fallback

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and any(r.matches(scope)[0] != Match.NONE for r in self.app.routes):
            scope["bugwarden.web"] = self.web
            await self.app(scope, receive, send)
            return
        await self.fallback(scope, receive, send)


def build_web(web: Web, fallback: ASGIApp, extra: list[BaseRoute] | None = None) -> WebDispatch:
    """The pages of `PAGES`, `/static/NAME` and `extra` routes (the OAuth endpoints) in front of `fallback`."""
    routes: list[BaseRoute] = [Route("/static/{name}", static_file, methods=["GET"])]
    for page in PAGES:
        routes += page()
    routes += extra or []
    app = Starlette(routes=routes, exception_handlers={HTTPException: _http_error})
    return WebDispatch(web, app, fallback)
