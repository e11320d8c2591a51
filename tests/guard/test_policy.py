"""The guard: the scopes-by-tools matrix, project limits, toolsets, and a store that cannot record."""

from __future__ import annotations

from itertools import combinations
from typing import Any

import pytest
from mcp import Client
from starlette.applications import Starlette

from bugwarden.guard.principal import Principal
from bugwarden.guard.scopes import BUNDLES, SCOPES, ScopeError, parse_scopes
from bugwarden.sandbox.bugsnag_seed import oid
from bugwarden.tools import REGISTRY
from tests.conftest import API_PROJECT, WEB_PROJECT, Servers, bugsnag_serves, make_settings
from tests.snapshot import text_of

pytestmark = pytest.mark.anyio
INTEGRITY = oid("error", "api-server", "0")
WEB_ERROR = oid("error", "web-frontend", "0")

ARGS: dict[str, dict[str, Any]] = {
    "list_projects": {},
    "list_errors": {"project_id": API_PROJECT, "limit": 1},
    "get_error": {"project_id": API_PROJECT, "error_id": INTEGRITY},
    "list_events": {"project_id": API_PROJECT, "error_id": INTEGRITY, "limit": 1},
    "get_event": {"project_id": API_PROJECT, "event_id": oid("event", INTEGRITY, "0")},
    "get_latest_event": {"project_id": API_PROJECT, "error_id": INTEGRITY},
    "get_bug_context": {"project_id": API_PROJECT, "error_id": INTEGRITY},
    "generate_fix_prompt": {"project_id": API_PROJECT, "error_id": INTEGRITY},
    "resolve_error": {"project_id": API_PROJECT, "error_id": INTEGRITY},
    "update_error": {"project_id": API_PROJECT, "error_id": INTEGRITY, "operation": "ignore"},
    "add_comment": {"project_id": API_PROJECT, "error_id": INTEGRITY, "body": "looked at it"},
    "list_signals": {"project_id": API_PROJECT, "since": "24h"},
}
GRANTS = {
    "empty": frozenset(),
    **{name: scopes for name, scopes in BUNDLES.items()},
    **{s: frozenset({s}) for s in SCOPES},
}


def test_bundles_expand_and_unknown_names_are_refused() -> None:
    assert parse_scopes("read") == {"errors:read", "projects:read"}
    assert parse_scopes("triage") == {"errors:read", "projects:read", "errors:write"}
    assert parse_scopes("admin") == set(SCOPES)
    assert parse_scopes("") == frozenset()
    with pytest.raises(ScopeError, match="unknown scope 'errors:readd'"):
        parse_scopes("errors:readd")


def test_every_core_tool_has_matrix_arguments() -> None:
    core = {name for name, spec in REGISTRY.items() if spec.toolset == "core" and bugsnag_serves(name)}
    assert core == set(ARGS)


@pytest.mark.parametrize("grant", sorted(GRANTS))
async def test_scopes_by_tools_matrix(servers: Servers, sandbox: Starlette, grant: str) -> None:
    """For every grant, tools/list shows exactly the permitted tools and every call is decided the same way;
    a refused call causes no upstream request at all."""
    principal = Principal(id=f"t-{grant}", name=grant, scopes=GRANTS[grant])
    server = servers(principal)
    async with Client(server) as client:
        listed = {t.name for t in (await client.list_tools()).tools}
        for name, args in ARGS.items():
            allowed = REGISTRY[name].scope in principal.scopes
            assert (name in listed) == allowed, name
            before = len(sandbox.state.control.log)
            result = await client.call_tool(name, args)
            if allowed:
                assert not result.is_error, (name, text_of(result))
            else:
                assert result.is_error and f"needs the {REGISTRY[name].scope} scope" in text_of(result)
                assert len(sandbox.state.control.log) == before, f"{name} reached the upstream before the check"
    records = list(server.audit.records())
    outcomes = [r for r in records if r["phase"] == "result"]
    assert len(outcomes) == len(ARGS)
    assert {r["tool"] for r in outcomes if r["decision"] == "denied"} == {
        n for n in ARGS if REGISTRY[n].scope not in principal.scopes
    }


async def test_project_limits_refuse_other_projects_and_their_ids(servers: Servers, sandbox: Starlette) -> None:
    principal = Principal(id="limited", name="limited", scopes=BUNDLES["triage"], projects=frozenset({API_PROJECT}))
    server = servers(principal)
    async with Client(server) as client:
        projects = await client.call_tool("list_projects", {})
        assert [p["id"] for p in projects.structured_content["projects"]] == [API_PROJECT]
        assert not (await client.call_tool("get_error", {"project_id": API_PROJECT, "error_id": INTEGRITY})).is_error
        denied = await client.call_tool("get_error", {"project_id": WEB_PROJECT, "error_id": WEB_ERROR})
        assert denied.is_error and "outside this agent's project limits" in text_of(denied)
        # An error id from another project, asked for under the allowed project, resolves nowhere.
        other = await client.call_tool("get_latest_event", {"project_id": API_PROJECT, "error_id": WEB_ERROR})
        assert other.is_error and "not found in project" in text_of(other)
        via_url = await client.call_tool(
            "resolve_error", {"error_id": f"https://app.bugsnag.com/acme/web-frontend/errors/{WEB_ERROR}"}
        )
        assert via_url.is_error and "outside this agent's project limits" in text_of(via_url)
        assert WEB_PROJECT not in text_of(via_url)  # a denial names nothing the caller may not see
        # With one allowed project, it is the default.
        assert not (await client.call_tool("list_errors", {})).is_error
    assert not any(r.method == "PATCH" for r in sandbox.state.control.log)


async def test_no_combination_of_scopes_widens_into_another(servers: Servers) -> None:
    for a, b in combinations(SCOPES, 2):
        server = servers(Principal(id="x", name="x", scopes=frozenset({a, b})))
        async with Client(server) as client:
            listed = {t.name for t in (await client.list_tools()).tools}
        assert listed == {
            n for n, s in REGISTRY.items() if s.toolset == "core" and s.scope in {a, b} and bugsnag_serves(n)
        }


async def test_toolsets_and_scopes_intersect(servers: Servers, home) -> None:
    server = servers(Principal(id="a", name="admin", scopes=BUNDLES["admin"]), settings=make_settings(home))
    async with Client(server) as client:
        listed = {t.name for t in (await client.list_tools()).tools}
        outside = await client.call_tool("list_organizations", {})
    assert all(REGISTRY[n].toolset == "core" for n in listed)
    assert outside.is_error and "not enabled on this server (toolset admin)" in text_of(outside)


async def test_a_write_whose_intent_cannot_be_audited_does_not_happen(servers: Servers, sandbox: Starlette) -> None:
    server = servers()
    server.store.audit.close()
    async with Client(server) as client:
        result = await client.call_tool("resolve_error", {"project_id": API_PROJECT, "error_id": INTEGRITY})
    assert result.is_error and "audit log could not record" in text_of(result)
    assert not any(r.method == "PATCH" for r in sandbox.state.control.log)


async def test_a_read_whose_record_cannot_be_stored_is_withheld(servers: Servers) -> None:
    server = servers()
    server.store.audit.close()
    async with Client(server) as client:
        result = await client.call_tool("list_errors", {"project_id": API_PROJECT})
    assert result.is_error and "result is withheld" in text_of(result)
