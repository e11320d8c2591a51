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

pytest_plugins = ["tests.browser"]  # the `chromium` fixture: one headless browser for page tests

SANDBOX_URL = "http://sandbox.test"
API_PROJECT = oid("project", "api-server")
WEB_PROJECT = oid("project", "web-frontend")
ANDROID_PROJECT = oid("project", "android-app")
BILLING_PROJECT = oid("project", "billing")
BUGPORT_URL = "http://bugport.test/v1"


class FakeClock:
    """Time that moves only when something sleeps on it (or a test moves it)."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


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

    return all(issubclass(BugsnagBackend, n) for n in REGISTRY[name].needs)


def admin_principal() -> Principal:
    return Principal(id="test-admin", name="test admin", scopes=BUNDLES["admin"])


DEFAULT = object()


class Servers:
    """Builds servers against the in-process sandbox and closes their stores when the test ends.
    The principal defaults to the local triage bundle; pass None to run as BUGWARDEN_TOKEN (settings)."""

    def __init__(self, sandbox: Starlette, home: Path) -> None:
        self.sandbox = sandbox
        self.home = home
        self.built: list[GuardedServer] = []

    def __call__(
        self,
        principal: Principal | object | None = DEFAULT,
        *,
        settings: Settings | None = None,
        bugport: Starlette | None = None,
        **kw: Any,
    ) -> GuardedServer:
        if principal is DEFAULT:
            principal = None if "authenticate" in kw else local_principal("triage")
        assert principal is None or isinstance(principal, Principal)
        server = build_server(
            settings or make_settings(self.home),
            principal=principal,
            backend_transport=httpx.ASGITransport(app=self.sandbox),
            bugport_transport=httpx.ASGITransport(app=bugport) if bugport is not None else None,
            **kw,
        )
        self.built.append(server)
        return server

    def close(self) -> None:
        for server in self.built:
            server.close()


@pytest.fixture
def servers(sandbox: Starlette, home: Path) -> Iterator[Servers]:
    built = Servers(sandbox, home)
    yield built
    built.close()


@pytest.fixture
def server(servers: Servers) -> GuardedServer:
    return servers()


@pytest.fixture
async def client(server: GuardedServer) -> AsyncIterator[Client]:
    async with Client(server, raise_exceptions=True) as c:
        yield c


@pytest.fixture
def bugport_sandbox() -> Starlette:
    from bugwarden.sandbox.bugport_app import create_bugport_app

    return create_bugport_app(rate_limit=10_000)


def bugport_settings(home: Path, token: str = "bp_mcp_sandbox_rw", with_bugsnag: bool = False, **kw: Any) -> Settings:
    values: dict[str, Any] = {"retries": Retries(attempts=2, backoff_base=0.0, backoff_max=0.0), **kw}
    if with_bugsnag:
        values.update(bugsnag_token=ADMIN_TOKEN, bugsnag_api_url=SANDBOX_URL)
    return Settings.from_env({}, bugport_token=token, bugport_api_url=BUGPORT_URL, home=str(home), **values)


class SandboxProcess:
    """`bugwarden sandbox` in a child process, for tests that run bugwarden itself as a child process."""

    def __init__(self, rate_limit: int = 100_000) -> None:
        import subprocess
        import sys

        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bugwarden", "sandbox", "--port", "0", "--rate-limit", str(rate_limit)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": os.pathsep.join(__import__("sys").path)},
        )
        assert self.proc.stdout is not None
        self.bugsnag_url = self.proc.stdout.readline().split(": ", 1)[1].strip()
        self.bugport_url = self.proc.stdout.readline().split(": ", 1)[1].strip()

    def env(self, home: Path, **extra: str) -> dict[str, str]:
        """The environment of a `bugwarden serve` that talks to this sandbox."""
        from bugwarden.sandbox.bugsnag_seed import ADMIN_TOKEN

        return {
            "PATH": os.environ.get("PATH", ""),
            "BUGWARDEN_HOME": str(home),
            "BUGSNAG_API_URL": self.bugsnag_url,
            "BUGSNAG_AUTH_TOKEN": ADMIN_TOKEN,
            **extra,
        }

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
        if self.proc.stdout:
            self.proc.stdout.close()


@pytest.fixture
def sandbox_process() -> Iterator[SandboxProcess]:
    process = SandboxProcess()
    yield process
    process.stop()


# -- PostgreSQL: one throw-away cluster per test session, a fresh database per test ------------------------


def _throwaway_cluster() -> Iterator[Any]:
    from tests.postgres import binaries, cluster

    if binaries() is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    with cluster() as started:
        yield started


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Any]:
    yield from _throwaway_cluster()


@pytest.fixture
def pg_url(pg_cluster: Any, request: pytest.FixtureRequest) -> str:
    """A fresh, migrated database on the session's cluster."""
    import re

    from bugwarden.store import Store
    from bugwarden.store.postgres import PostgresDatabase
    from bugwarden.store.schema import Schema

    name = "t_" + re.sub(r"[^a-z0-9]+", "_", request.node.name.lower())[:40] + "_" + os.urandom(3).hex()
    url = pg_cluster.create_database(name)
    db = PostgresDatabase(url)
    try:
        Schema(db, Store.COMPONENTS).migrate()
    finally:
        db.close()
    return str(url)


@pytest.fixture
def own_cluster() -> Iterator[Any]:
    """A cluster of the test's own, to stop and start without disturbing the others."""
    yield from _throwaway_cluster()
