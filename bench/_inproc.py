"""In-process setup the benchmarks share: the sandbox behind httpx's ASGI transport and a server built on it."""

from __future__ import annotations

import tempfile
from typing import Any

import httpx
from starlette.applications import Starlette

from bugwarden.app import GuardedServer, build_server
from bugwarden.config import Settings
from bugwarden.guard.principal import local_principal
from bugwarden.sandbox.bugsnag_app import create_bugsnag_app
from bugwarden.sandbox.bugsnag_seed import ADMIN_TOKEN, oid

URL = "http://sandbox.bench"
PROJECT = oid("project", "api-server")
ERROR = oid("error", "api-server", "0")


def settings(**kw: Any) -> Settings:
    return Settings.from_env(
        {}, bugsnag_token=ADMIN_TOKEN, bugsnag_api_url=URL, home=tempfile.mkdtemp(prefix="bw-bench-"), **kw
    )


def server(sandbox: Starlette | None = None, **kw: Any) -> tuple[GuardedServer, Starlette]:
    sandbox = sandbox or create_bugsnag_app(rate_limit=10**9)
    upstream = kw.pop("upstream_options", None)
    quota = kw.pop("quota", None)
    principal = kw.pop("principal", None) or local_principal("triage")
    srv = build_server(
        settings(**kw),
        principal=principal,
        backend_transport=httpx.ASGITransport(app=sandbox),
        upstream_options=upstream,
        quota=quota,
    )
    return srv, sandbox
