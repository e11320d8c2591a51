"""One composition root (services.py): the stdio server, the HTTP app and the pages share one set of services,
built once; the HTTP options are one typed settings object; the server overrides no private SDK method."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client
from mcp.server.mcpserver import MCPServer
from starlette.applications import Starlette

from bugwarden.app import GuardedServer, build_server
from bugwarden.config import ConfigError, HttpSettings, Settings
from bugwarden.guard.audit import AuditLog
from bugwarden.guard.principal import local_principal
from bugwarden.guard.tokens import TokenStore
from bugwarden.http_app import build_http
from bugwarden.services import Seams, Services
from bugwarden.store import Store
from bugwarden.store.keys import KeyRing

from .conftest import make_settings


def counting(monkeypatch: pytest.MonkeyPatch, *classes: type) -> dict[str, int]:
    """How many of each class get built from now on."""
    built = {cls.__name__: 0 for cls in classes}
    for cls in classes:
        original = vars(cls)["__init__"]  # each class defines its own

        def init(self: Any, *args: Any, __original: Any = original, __name: str = cls.__name__, **kw: Any) -> None:
            built[__name] += 1
            __original(self, *args, **kw)

        monkeypatch.setattr(cls, "__init__", init)
    return built


def test_the_http_app_and_its_pages_share_one_set_of_services(
    monkeypatch: pytest.MonkeyPatch, sandbox: Starlette, home: Path
) -> None:
    built = counting(monkeypatch, KeyRing, TokenStore, AuditLog)
    opened: list[Store] = []
    real_open = Store.open

    def open_once(settings: Settings) -> Store:
        opened.append(real_open(settings))
        return opened[-1]

    monkeypatch.setattr(Store, "open", staticmethod(open_once))
    public = "http://127.0.0.1:8000"
    server, _ = build_http(
        make_settings(home, public_url=public),
        HttpSettings(public_url=public),
        backend_transport=httpx.ASGITransport(app=sandbox),
    )
    try:
        assert built == {"KeyRing": 1, "TokenStore": 1, "AuditLog": 1}
        assert len(opened) == 1 and server.services.store is opened[0] is server.store
        assert server.receiver.audit is server.services.audit is server.audit
    finally:
        server.close()


@pytest.mark.anyio
async def test_a_server_runs_on_the_services_it_is_given(sandbox: Starlette, home: Path) -> None:
    services = Services.from_settings(
        make_settings(home),
        principal=local_principal("triage"),
        seams=Seams(backend_transport=httpx.ASGITransport(app=sandbox)),
    )
    server = build_server(services)
    try:
        assert server.services is services and server.checkpoint is services.checkpoint
        async with Client(server) as client:
            assert not (await client.call_tool("list_projects", {})).is_error
        assert [r["tool"] for r in services.audit.records()] == ["list_projects"]
    finally:
        server.close()


def test_the_loose_seams_are_taken_out_of_the_build_arguments() -> None:
    build: dict[str, Any] = {"backend_transport": "net", "upstream_options": {"clock": float}, "transport": "http"}
    seams = Seams.take(build)
    assert seams is not None and seams.backend_transport == "net" and seams.clock is float
    assert build == {"transport": "http"} and Seams.take(build) is None


def test_the_http_settings_add_what_the_environment_names(home: Path) -> None:
    settings = Settings.from_env(
        {"BUGWARDEN_ALLOWED_HOSTS": "env.example", "BUGWARDEN_PUBLIC_URL": "https://mcp.example.com"}, home=str(home)
    )
    http = HttpSettings.of(settings, host="0.0.0.0", allowed_hosts=("flag.example",), rate_limit=None)
    assert http.allowed_hosts == ("flag.example", "env.example")
    assert http.public_url == "https://mcp.example.com" and http.base_url == "https://mcp.example.com"
    assert http.rate_limit is None
    hosts, origins = http.accepted()
    assert {"flag.example", "env.example", "mcp.example.com", "mcp.example.com:*"} <= set(hosts)
    assert origins == ["https://mcp.example.com"]
    with pytest.raises(ConfigError, match="--trusted-proxy-from"):
        HttpSettings.of(settings, trusted_proxy_header="X-Forwarded-User")
    with pytest.raises(ConfigError, match="--allowed-host"):
        HttpSettings.of(Settings.from_env({}, home=str(home)), host="0.0.0.0")


def test_the_server_overrides_no_private_method_of_the_sdk() -> None:
    overridden = [
        name
        for name, value in vars(GuardedServer).items()
        if name.startswith("_") and not name.startswith("__") and callable(value) and hasattr(MCPServer, name)
    ]
    assert overridden == []
    public = [name for name in vars(GuardedServer) if hasattr(MCPServer, name) and not name.startswith("_")]
    assert set(public) <= {"call_tool", "read_resource"}  # public methods, overridden to pass the checkpoint
    assert all(inspect.iscoroutinefunction(getattr(GuardedServer, n)) for n in public)


SRC = Path(__file__).parents[1] / "src" / "bugwarden"
BUILT_ONCE = {"Checkpoint", "Guard", "AuditLog", "KeyRing", "StoredQuota", "BugsnagBackend", "BugportBackend", "open"}
"""What only the composition root builds for a server (`open`: `Store.open`)."""
ENTRANCES = [SRC / "app.py", SRC / "http_app.py", SRC / "stdio.py", *sorted((SRC / "web").rglob("*.py"))]


def built_in(path: Path) -> set[str]:
    """The names of BUILT_ONCE that a module calls (`Name(...)` or `Store.open(...)`)."""
    called: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name):
                called.add(func.id)
            elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "Store":
                called.add(func.attr)
    return called & BUILT_ONCE


@pytest.mark.parametrize("path", ENTRANCES, ids=[str(p.relative_to(SRC)) for p in ENTRANCES])
def test_the_entrances_take_their_services_and_build_none(path: Path) -> None:
    assert built_in(path) == set(), f"{path.relative_to(SRC)}: take it from services.Services"


def test_only_the_composition_root_builds_a_checkpoint() -> None:
    building = sorted(str(p.relative_to(SRC)) for p in SRC.rglob("*.py") if "Checkpoint" in built_in(p))
    assert building == ["services.py"]
    assert built_in(SRC / "services.py") == BUILT_ONCE


class Sees:
    """A checkpoint that lets the caller see `visible`."""

    def __init__(self, *visible: str) -> None:
        self.visible = set(visible)

    async def visible_tools(self, ctx: Any) -> set[str]:
        return self.visible


@pytest.mark.anyio
async def test_the_listing_middleware_lists_only_what_the_checkpoint_lets_the_caller_use() -> None:
    from types import SimpleNamespace

    from bugwarden.app import ListsWhatMayBeUsed

    schema = {"type": "object", "title": "x", "properties": {"a": {"title": "A", "type": "string", "default": None}}}
    tools = {"tools": [{"name": "seen", "inputSchema": schema}, {"name": "hidden", "inputSchema": schema}], "m": 1}
    answers: dict[str, Any] = {"tools/list": tools, "resources/templates/list": {"resourceTemplates": []}, "ping": {}}

    async def call_next(ctx: Any) -> Any:
        return answers[ctx.method]

    async def ask(*visible: str, method: str) -> Any:
        middleware: Any = ListsWhatMayBeUsed(Sees(*visible))  # type: ignore[arg-type]
        return await middleware(SimpleNamespace(method=method), call_next)

    compacted = {"type": "object", "properties": {"a": {"type": "string"}}}
    assert await ask("seen", method="tools/list") == {"tools": [{"name": "seen", "inputSchema": compacted}], "m": 1}
    assert await ask("seen", method="resources/templates/list") == {"resourceTemplates": []}
    organizations = await ask("list_organizations", method="resources/templates/list")
    assert [t["uriTemplate"] for t in organizations["resourceTemplates"]] == [
        "bugsnag://organizations/{organization_id}"
    ]
    assert await ask("seen", method="ping") == {}
    answers["tools/list"] = object()  # not the wire form: fail closed
    assert await ask("seen", method="tools/list") == {"tools": []}
