"""Access per project: an agent limited to projects may do in each only what that project's access gives it (the
console's grid per project), checked by the guard on the resolved target; calls across projects see only the
projects where the tool's scope is held. The store keeps the access beside the token, and the token check reads it
at every request."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette

from bugwarden.guard.principal import Principal
from bugwarden.guard.scopes import BUNDLES
from bugwarden.guard.tokens import TokenStore
from bugwarden.sandbox.bugsnag_seed import oid
from bugwarden.store import Store, StoreError
from bugwarden.store.project_access import ProjectAccess, ProjectNames
from tests.conftest import API_PROJECT, WEB_PROJECT, Servers
from tests.snapshot import text_of

pytestmark = pytest.mark.anyio
API_ERROR = oid("error", "api-server", "0")
WEB_ERROR = oid("error", "web-frontend", "0")


def limited(per_project: dict[str, frozenset[str]], scopes: frozenset[str] = BUNDLES["admin"]) -> Principal:
    return Principal(
        id="tok_limited",
        name="limited",
        scopes=scopes,
        projects=frozenset({API_PROJECT, WEB_PROJECT}),
        project_scopes=per_project,
    )


async def test_a_write_is_allowed_on_one_project_and_refused_on_the_other(servers: Servers, sandbox: Starlette) -> None:
    from mcp import Client

    principal = limited({API_PROJECT: BUNDLES["triage"], WEB_PROJECT: BUNDLES["read"]}, BUNDLES["triage"])
    async with Client(servers(principal)) as client:
        allowed = await client.call_tool("resolve_error", {"project_id": API_PROJECT, "error_id": API_ERROR})
        assert not allowed.is_error, text_of(allowed)
        refused = await client.call_tool("resolve_error", {"project_id": WEB_PROJECT, "error_id": WEB_ERROR})
        assert refused.is_error
        assert "needs the errors:write scope" in text_of(refused) and WEB_PROJECT in text_of(refused)
        read = await client.call_tool("get_error", {"project_id": WEB_PROJECT, "error_id": WEB_ERROR})
        assert not read.is_error, text_of(read)


async def test_a_delete_operation_needs_errors_delete_on_that_project(servers: Servers, sandbox: Starlette) -> None:
    from mcp import Client

    principal = limited({API_PROJECT: BUNDLES["admin"], WEB_PROJECT: BUNDLES["triage"]})
    async with Client(servers(principal, settings=None)) as client:
        refused = await client.call_tool(
            "update_error", {"project_id": WEB_PROJECT, "error_id": WEB_ERROR, "operation": "discard"}
        )
    assert refused.is_error and "needs the errors:delete scope" in text_of(refused)


async def test_a_listing_shows_only_projects_where_the_scope_is_held(servers: Servers, sandbox: Starlette) -> None:
    from mcp import Client

    principal = limited({API_PROJECT: BUNDLES["read"], WEB_PROJECT: frozenset({"errors:read"})}, BUNDLES["read"])
    async with Client(servers(principal)) as client:
        listed = text_of(await client.call_tool("list_projects", {}))
    assert API_PROJECT in listed and WEB_PROJECT not in listed
    nowhere = limited({API_PROJECT: frozenset({"errors:read"}), WEB_PROJECT: frozenset({"errors:read"})})
    async with Client(servers(nowhere)) as client:
        refused = await client.call_tool("list_projects", {})
    assert refused.is_error and "needs the projects:read scope" in text_of(refused)


def test_a_project_never_gives_more_than_the_token_holds() -> None:
    principal = limited({API_PROJECT: BUNDLES["admin"]}, BUNDLES["read"])
    assert principal.scopes_in(API_PROJECT) == BUNDLES["read"]
    assert principal.scopes_in(WEB_PROJECT) == BUNDLES["read"]  # no row: the token's scopes


def test_setting_one_project_keeps_the_others_and_the_token_holds_the_union(home) -> None:
    store = Store.sqlite(home)
    try:
        tokens = TokenStore(store.tokens)
        info, secret = tokens.create("ci", "triage", [API_PROJECT, WEB_PROJECT])
        assert tokens.check(secret).project_scopes == {}
        access = ProjectAccess(store.tokens)
        union = access.set_project(info.id, WEB_PROJECT, BUNDLES["read"], info.projects)
        assert union == BUNDLES["triage"] and tokens.get(info.id).scopes == BUNDLES["triage"]
        assert access.of(info.id) == {API_PROJECT: BUNDLES["triage"], WEB_PROJECT: BUNDLES["read"]}
        union = access.set_project(info.id, API_PROJECT, BUNDLES["admin"], info.projects)
        assert union == BUNDLES["admin"]
        assert access.of(info.id)[WEB_PROJECT] == BUNDLES["read"]
        principal = tokens.verify(secret)
        assert principal.scopes_in(WEB_PROJECT) == BUNDLES["read"]
        assert principal.scopes_in(API_PROJECT) == BUNDLES["admin"]
        with pytest.raises(StoreError):
            access.set_project(info.id, "elsewhere", BUNDLES["read"], info.projects)
        tokens.revoke(info.id)
        with pytest.raises(StoreError):
            access.set_project(info.id, API_PROJECT, BUNDLES["read"], info.projects)
        names = ProjectNames(store.tokens)
        names.remember([(API_PROJECT, "Api Server"), (WEB_PROJECT, "Web")])
        names.remember([(WEB_PROJECT, "Web Frontend")])
        assert names.names([API_PROJECT, WEB_PROJECT, "unknown"]) == {
            API_PROJECT: "Api Server",
            WEB_PROJECT: "Web Frontend",
        }
    finally:
        store.close()
