"""Shared fixtures: a clean environment, the sandbox as an in-process upstream, servers built against it."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client
from starlette.applications import Starlette

from bugwarden.app import GuardedServer, build_server
from bugwarden.backends.bugsnag import BugsnagBackend
from bugwarden.config import Retries, Settings
from bugwarden.guard.principal import Principal, local_principal
from bugwarden.guard.scopes import BUNDLES
from bugwarden.sandbox.bugsnag_app import create_bugsnag_app
from bugwarden.sandbox.bugsnag_seed import ADMIN_TOKEN, oid

SANDBOX_URL = "http://sandbox.test"
API_PROJECT = oid("project", "api-server")
WEB_PROJECT = oid("project", "web-frontend")
ANDROID_PROJECT = oid("project", "android-app")
BILLING_PROJECT = oid("project", "billing")


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith(("BUGSNAG_", "BUGPORT_", "BUGWARDEN_")):
            monkeypatch.delenv(key)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def sandbox() -> Starlette:
    return create_bugsnag_app(rate_limit=10_000)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def make_settings(home: Path, token: str = ADMIN_TOKEN, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"retries": Retries(attempts=2, backoff_base=0.0, backoff_max=0.0), **overrides}
    return Settings.from_env({}, bugsnag_token=token, bugsnag_api_url=SANDBOX_URL, home=str(home), **values)


@pytest.fixture
def settings(home: Path) -> Settings:
    return make_settings(home)


async def _no_sleep(seconds: float) -> None:
    return None


@pytest.fixture
async def backend(sandbox: Starlette, settings: Settings) -> AsyncIterator[BugsnagBackend]:
    b = BugsnagBackend(settings, transport=httpx.ASGITransport(app=sandbox), sleep=_no_sleep)
    yield b
    await b.aclose()


def bugsnag_serves(name: str) -> bool:
    """Whether a BugSnag-only server offers this registered tool (BugPort-only tools need BugPort)."""
    from bugwarden.tools import REGISTRY

    return all(BugsnagBackend.capabilities.has(n) for n in REGISTRY[name].needs)


def admin_principal() -> Principal:
    return Principal(id="test-admin", name="test admin", scopes=BUNDLES["admin"])


def server_for(sandbox: Starlette, settings: Settings, principal: Principal | None = None) -> GuardedServer:
    return build_server(
        settings, principal=principal or local_principal("triage"), backend_transport=httpx.ASGITransport(app=sandbox)
    )


@pytest.fixture
def server(sandbox: Starlette, settings: Settings) -> Iterator[GuardedServer]:
    srv = server_for(sandbox, settings)
    yield srv
    srv.audit.close()


@pytest.fixture
async def client(server: GuardedServer) -> AsyncIterator[Client]:
    async with Client(server, raise_exceptions=True) as c:
        yield c


BUGPORT_URL = "http://bugport.test/v1"


@pytest.fixture
def bugport_sandbox() -> Starlette:
    from bugwarden.sandbox.bugport_app import create_bugport_app

    return create_bugport_app(rate_limit=10_000)


def bugport_settings(home: Path, token: str = "bp_mcp_sandbox_rw", with_bugsnag: bool = False, **kw: Any) -> Settings:
    values: dict[str, Any] = {"retries": Retries(attempts=2, backoff_base=0.0, backoff_max=0.0), **kw}
    if with_bugsnag:
        values.update(bugsnag_token=ADMIN_TOKEN, bugsnag_api_url=SANDBOX_URL)
    return Settings.from_env({}, bugport_token=token, bugport_api_url=BUGPORT_URL, home=str(home), **values)


def bugport_server(
    bugport_sandbox: Starlette,
    settings: Settings,
    principal: Principal | None = None,
    bugsnag_sandbox: Starlette | None = None,
) -> GuardedServer:
    return build_server(
        settings,
        principal=principal or local_principal("triage"),
        backend_transport=httpx.ASGITransport(app=bugsnag_sandbox) if bugsnag_sandbox else None,
        bugport_transport=httpx.ASGITransport(app=bugport_sandbox),
    )
