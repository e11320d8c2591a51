"""Serving bugwarden over a real loopback socket with its pages on (a public URL), for the web tests."""

from __future__ import annotations

import re
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import uvicorn
from starlette.applications import Starlette

from bugwarden.app import GuardedServer
from bugwarden.config import HttpSettings
from bugwarden.guard.audit import AuditLog
from bugwarden.http_app import bounded_h11, build_http, forwarded_options
from bugwarden.store import Store
from bugwarden.web.people import People
from tests.conftest import make_settings

PASSWORD = "correct horse battery staple"


class Clock:
    """A wall clock that moves only when a test moves it."""

    def __init__(self, now: float = 2_000_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Site:
    url: str
    server: GuardedServer
    store: Store
    clock: Clock

    def add_person(self, name: str, password: str = PASSWORD, **kw: Any) -> None:
        People(self.store.tokens).add(name, password, **kw)

    def audit(self) -> list[dict[str, Any]]:
        return list(AuditLog(self.store.audit).records())


@asynccontextmanager
async def site(
    sandbox: Starlette,
    home: Path,
    settings: dict[str, Any] | None = None,
    metadata_fetch: Callable[[str], Awaitable[bytes]] | None = None,
    public_url: str | None = None,
    **options: Any,
) -> AsyncIterator[Site]:
    """bugwarden over HTTP on a loopback port, with `--public-url http://127.0.0.1:PORT` (or `public_url`: the
    address a load balancer in front of several replicas would have)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    clock = Clock()
    opts = HttpSettings(host="127.0.0.1", port=port, public_url=public_url or url, **options)
    server, app = build_http(
        make_settings(home, public_url=public_url or url, **(settings or {})),
        opts,
        backend_transport=httpx.ASGITransport(app=sandbox),
        web_clock=clock,
        metadata_fetch=metadata_fetch,
    )
    uv = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", lifespan="on", http=bounded_h11(10.0), **forwarded_options())
    )
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(uv.serve, [sock])
            while not uv.started:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
                await anyio.sleep(0.01)
            try:
                yield Site(url, server, server.store, clock)
            finally:
                uv.should_exit = True
    finally:
        sock.close()
        server.close()


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert found, "the page has a form with a CSRF field"
    return found.group(1)


async def sign_in(http: httpx.AsyncClient, name: str, password: str = PASSWORD, next_path: str = "") -> httpx.Response:
    page = await http.get("/signin")
    return await http.post(
        "/signin", data={"csrf": csrf_of(page.text), "name": name, "password": password, "next": next_path}
    )
