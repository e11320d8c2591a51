"""The insights, admin and destructive toolsets end to end, the endpoint walk, confirmations, resources, prompts."""

from __future__ import annotations

import re
from typing import Any

import pytest
from mcp import Client
from mcp.types import ElicitResult
from starlette.applications import Starlette

from bugwarden.sandbox.bugsnag_seed import oid
from bugwarden.tools import REGISTRY
from tests.conftest import API_PROJECT, BILLING_PROJECT, Servers, admin_principal, bugsnag_serves, make_settings
from tests.snapshot import assert_snapshot, text_of

pytestmark = pytest.mark.anyio
ACME = oid("org", "acme")
GLOBEX = oid("org", "globex")
INTEGRITY = oid("error", "api-server", "0")
KEYERROR = oid("error", "api-server", "1")
EVENT = oid("event", INTEGRITY, "0")


@pytest.fixture
def all_tools(servers: Servers, home):
    def build(principal=None):
        return servers(principal or admin_principal(), settings=make_settings(home, toolsets="all"))

    return build


async def call(client: Client, name: str, args: Any) -> Any:
    result = await client.call_tool(name, args)
    assert not result.is_error, (name, text_of(result))
    return result


async def confirmed(client: Client, name: str, args: Any) -> Any:
    """A change that asks first, from a client that cannot ask: preview, then confirm with the preview's code."""
    preview = await call(client, name, args)
    code = preview.structured_content["confirm_code"]
    assert code, text_of(preview)
    return await call(client, name, {**args, "confirm": code})


async def test_toolsets_choose_what_is_listed(servers: Servers, home) -> None:
    for toolsets, expected in [
        ("core", {"core"}),
        ("core,insights", {"core", "insights"}),
        ("all", {"core", "insights", "admin", "destructive"}),
    ]:
        server = servers(admin_principal(), settings=make_settings(home, toolsets=toolsets))
        async with Client(server) as client:
            listed = {t.name for t in (await client.list_tools()).tools}
        assert listed == {n for n, s in REGISTRY.items() if s.toolset in expected and bugsnag_serves(n)}


async def test_insights_tools(all_tools, sandbox: Starlette) -> None:
    server = all_tools()
    async with Client(server) as c:
        assert_snapshot(
            "list_pivots_error", await call(c, "list_pivots", {"project_id": API_PROJECT, "error_id": INTEGRITY})
        )
        values = await call(
            c, "list_pivot_values", {"project_id": API_PROJECT, "event_field_display_id": "user.id", "limit": 2}
        )
        assert values.structured_content["next_cursor"] and "%" in text_of(values)
        assert_snapshot(
            "get_trend_project", await call(c, "get_trend", {"project_id": API_PROJECT, "buckets_count": 7})
        )
        assert "Crash-free sessions" in text_of(await call(c, "get_stability_trend", {"project_id": API_PROJECT}))
        assert "No session data" in text_of(await call(c, "get_stability_trend", {"project_id": BILLING_PROJECT}))
        releases = await call(c, "list_releases", {"project_id": API_PROJECT})
        one = releases.structured_content["releases"][0]["id"]
        assert one in text_of(await call(c, "list_releases", {"project_id": API_PROJECT, "release_id": one}))
        groups = await call(c, "list_release_groups", {"project_id": API_PROJECT, "release_stage_name": "production"})
        assert len(groups.structured_content["release_groups"]) == 7
        events = await call(c, "list_project_events", {"project_id": API_PROJECT, "filters": ["user.id=u-1001"]})
        assert events.structured_content["events"]
        assert "error.status" in text_of(await call(c, "list_event_fields", {"project_id": API_PROJECT}))
        created = await call(
            c,
            "create_saved_search",
            {"project_id": API_PROJECT, "name": "Android only", "filters": ["os.name=Android"], "shared": True},
        )
        assert "Created saved search" in text_of(created)
        searches = await call(c, "list_saved_searches", {"project_id": API_PROJECT})
        assert "Android only" in text_of(searches)


async def test_unknown_filter_keys_are_refused_with_the_valid_ones(all_tools, sandbox: Starlette) -> None:
    server = all_tools()
    async with Client(server) as c:
        result = await c.call_tool(
            "list_project_events", {"project_id": API_PROJECT, "filters": ["error.class=KeyError"]}
        )
        assert result.is_error and "unknown filter field error.class" in text_of(result)
        assert "event.class" in text_of(result)
        bad = await c.call_tool("list_pivots", {"project_id": API_PROJECT, "filters": ["nonsense"]})
        assert bad.is_error and "field=value" in text_of(bad)
        await call(c, "list_pivots", {"project_id": API_PROJECT, "filters": ["event.since=7d"]})
    assert {r.path.rsplit("/", 1)[-1] for r in sandbox.state.control.log} == {"event_fields", "pivots"}


async def test_admin_tools(all_tools, sandbox: Starlette) -> None:
    server = all_tools()
    async with Client(server) as c:
        orgs = await call(c, "list_organizations", {})
        assert [o["untrusted"]["slug"] for o in orgs.structured_content["organizations"]] == ["acme", "globex"]
        assert "Acme Corp" in text_of(await call(c, "list_organizations", {"organization_id": ACME}))
        assert "release stages: production" in text_of(await call(c, "get_project", {"project_id": API_PROJECT}))
        created = await call(c, "create_project", {"organization_id": ACME, "name": "Mobile Web", "type": "js"})
        new_id = created.structured_content["id"]
        done = await confirmed(c, "update_project", {"project_id": new_id, "resolve_on_deploy": True})
        assert "Updated project" in text_of(done)
        await confirmed(c, "update_organization", {"organization_id": ACME, "name": "Acme Inc"})
        people = await call(c, "list_collaborators", {"organization_id": ACME})
        assert "ada@acme.test" in text_of(people)
        person = people.structured_content["collaborators"][0]["id"]
        await call(c, "list_collaborators", {"organization_id": ACME, "collaborator_id": person})
        await call(c, "list_collaborators", {"project_id": API_PROJECT})
        groups = await call(c, "list_release_groups", {"project_id": API_PROJECT, "release_stage_name": "staging"})
        group = groups.structured_content["release_groups"][0]["id"]
        assert "hidden" in text_of(await call(c, "update_release_group", {"release_group_id": group, "visible": False}))
        bulk = await call(
            c,
            "bulk_update_errors",
            {"project_id": API_PROJECT, "error_ids": [INTEGRITY, KEYERROR], "operation": "ignore"},
        )
        assert len(bulk.structured_content["statuses"]) == 2


async def test_collaborator_emails_need_their_own_scope(all_tools, sandbox: Starlette) -> None:
    from bugwarden.guard.principal import Principal
    from bugwarden.guard.scopes import BUNDLES

    triage = Principal(id="t", name="triage", scopes=BUNDLES["triage"] | {"projects:admin"})
    server = all_tools(triage)
    async with Client(server) as c:
        assert "list_collaborators" not in {t.name for t in (await c.list_tools()).tools}
        denied = await c.call_tool("list_collaborators", {"project_id": API_PROJECT})
        assert denied.is_error and "collaborators:read" in text_of(denied)


async def test_every_endpoint_template_is_reached_from_some_tool(all_tools, sandbox: Starlette) -> None:
    server = all_tools()
    async with Client(server) as c:
        for name, args in [
            ("list_projects", {}),
            ("list_errors", {"project_id": API_PROJECT}),
            ("get_bug_context", {"project_id": API_PROJECT, "error_id": INTEGRITY}),
            ("list_events", {"project_id": API_PROJECT, "error_id": INTEGRITY}),
            ("get_event", {"project_id": API_PROJECT, "event_id": EVENT}),
            (
                "list_pivot_values",
                {"project_id": API_PROJECT, "error_id": INTEGRITY, "event_field_display_id": "app.version"},
            ),
            ("list_pivot_values", {"project_id": API_PROJECT, "event_field_display_id": "os.name"}),
            ("list_pivots", {"project_id": API_PROJECT}),
            ("get_trend", {"project_id": API_PROJECT}),
            ("get_stability_trend", {"project_id": API_PROJECT}),
            ("list_releases", {"project_id": API_PROJECT}),
            ("list_project_events", {"project_id": API_PROJECT}),
            ("list_event_fields", {"project_id": API_PROJECT}),
            ("list_saved_searches", {"project_id": API_PROJECT}),
            ("create_saved_search", {"project_id": API_PROJECT, "name": "x", "filters": ["error.status=open"]}),
            ("list_organizations", {}),
            ("list_organizations", {"organization_id": ACME}),
            ("get_project", {"project_id": API_PROJECT}),
            ("create_project", {"organization_id": ACME, "name": "Walk", "type": "js"}),
            ("update_project", {"project_id": API_PROJECT, "name": "Api"}),
            ("update_organization", {"organization_id": ACME, "name": "A"}),
            ("list_collaborators", {"organization_id": ACME}),
            ("list_collaborators", {"project_id": API_PROJECT}),
            ("resolve_error", {"project_id": API_PROJECT, "error_id": INTEGRITY}),
            ("bulk_update_errors", {"project_id": API_PROJECT, "error_ids": [INTEGRITY], "operation": "open"}),
            ("delete_event", {"project_id": API_PROJECT, "event_id": EVENT}),
            ("delete_error", {"project_id": API_PROJECT, "error_id": KEYERROR}),
            ("delete_organization", {"organization_id": GLOBEX}),
        ]:
            if REGISTRY[name].question(args) is not None:  # type: ignore[arg-type]
                await confirmed(c, name, args)
            else:
                await call(c, name, args)
        releases = await call(c, "list_releases", {"project_id": API_PROJECT})
        await call(
            c,
            "list_releases",
            {"project_id": API_PROJECT, "release_id": releases.structured_content["releases"][0]["id"]},
        )
        groups = await call(c, "list_release_groups", {"project_id": API_PROJECT, "release_stage_name": "production"})
        await call(
            c,
            "update_release_group",
            {"release_group_id": groups.structured_content["release_groups"][0]["id"], "visible": True},
        )
        people = await call(c, "list_collaborators", {"organization_id": ACME})
        await call(
            c,
            "list_collaborators",
            {"organization_id": ACME, "collaborator_id": people.structured_content["collaborators"][0]["id"]},
        )
    literal = (
        r"(?:projects|organizations|errors|events|pivots|values|trend|releases|release_groups|"
        r"stability_trend|collaborators|event_fields|saved_searches|user|latest_event)"
    )
    reached = {
        f"{r.method} " + re.sub(rf"/(?!{literal}(?:/|$))[^/]+", "/{id}", r.path) for r in sandbox.state.control.log
    }
    from tests.backends.test_bugsnag_contract import ENDPOINT_TEMPLATES

    assert ENDPOINT_TEMPLATES - reached == set()


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_delete_with_an_elicitation_capable_client(all_tools, sandbox: Starlette, mode: str) -> None:
    asked: list[str] = []

    async def approve(ctx, params):
        asked.append(params.message)
        return ElicitResult(action="accept", content={"approve": True})

    server = all_tools()
    async with Client(server, mode=mode, elicitation_callback=approve) as c:
        result = await call(c, "delete_error", {"project_id": API_PROJECT, "error_id": KEYERROR})
    assert "Deleted error" in text_of(result) and "user approved" in text_of(result)
    assert asked == [f"Delete error {KEYERROR} and all its events permanently?"]
    assert any(r.method == "DELETE" for r in sandbox.state.control.log)


async def test_a_declined_elicitation_deletes_nothing(all_tools, sandbox: Starlette) -> None:
    async def decline(ctx, params):
        return ElicitResult(action="decline")

    server = all_tools()
    async with Client(server, mode="legacy", elicitation_callback=decline) as c:
        result = await call(c, "delete_error", {"project_id": API_PROJECT, "error_id": KEYERROR})
    assert "user declined" in text_of(result)
    assert not any(r.method == "DELETE" for r in sandbox.state.control.log)


async def test_without_elicitation_a_preview_then_confirm(all_tools, sandbox: Starlette) -> None:
    server = all_tools()
    async with Client(server) as c:
        preview = await call(c, "delete_error", {"project_id": API_PROJECT, "error_id": KEYERROR})
        assert_snapshot("delete_error_preview", preview)
        assert not any(r.method == "DELETE" for r in sandbox.state.control.log)
        wrong = await c.call_tool(
            "delete_error", {"project_id": API_PROJECT, "error_id": KEYERROR, "confirm": INTEGRITY}
        )
        assert wrong.is_error and "confirmation code" in text_of(wrong)
        assert not any(r.method == "DELETE" for r in sandbox.state.control.log)
        code = preview.structured_content["confirm_code"]
        done = await call(c, "delete_error", {"project_id": API_PROJECT, "error_id": KEYERROR, "confirm": code})
        assert "Deleted error" in text_of(done)
    assert [r.method for r in sandbox.state.control.log].count("DELETE") == 1


async def test_discard_through_update_error_asks_first(all_tools, sandbox: Starlette) -> None:
    server = all_tools()
    async with Client(server) as c:
        args = {"project_id": API_PROJECT, "error_id": KEYERROR, "operation": "discard"}
        preview = await call(c, "update_error", args)
        assert "Not discarded yet" in text_of(preview)
        assert not any(r.method == "PATCH" for r in sandbox.state.control.log)
        await call(c, "update_error", {**args, "confirm": preview.structured_content["confirm_code"]})
    assert sandbox.state.sim.world.errors[KEYERROR].data["discarded"] is True


async def test_resources_render_like_the_tools_and_pass_the_guard(all_tools, sandbox: Starlette) -> None:
    from bugwarden.guard.principal import Principal

    server = all_tools()
    async with Client(server) as c:
        templates = {t.uri_template for t in (await c.list_resource_templates()).resource_templates}
        assert templates == {
            "bugsnag://projects/{project_id}/errors/{error_id}",
            "bugsnag://projects/{project_id}/events/{event_id}",
            "bugsnag://projects/{project_id}/signals",
            "bugsnag://organizations/{organization_id}",
        }
        error = await c.read_resource(f"bugsnag://projects/{API_PROJECT}/errors/{INTEGRITY}")
        tool = await c.call_tool("get_error", {"project_id": API_PROJECT, "error_id": INTEGRITY})
        assert getattr(error.contents[0], "text", None) == text_of(tool)
        event = await c.read_resource(f"bugsnag://projects/{API_PROJECT}/events/{EVENT}")
        assert "Exception and stack trace" in getattr(event.contents[0], "text", "")
        org = await c.read_resource(f"bugsnag://organizations/{ACME}")
        listed = await c.call_tool("list_organizations", {"organization_id": ACME})
        assert getattr(org.contents[0], "text", None) == text_of(listed)
    assert any(r["tool"] == "resource:get_error" for r in server.audit.records())
    assert any(r["tool"] == "resource:list_organizations" for r in server.audit.records())
    nobody = Principal(id="n", name="nobody", scopes=frozenset({"projects:read"}))
    server = all_tools(nobody)
    async with Client(server) as c:
        templates = {t.uri_template for t in (await c.list_resource_templates()).resource_templates}
        assert templates == {"bugsnag://organizations/{organization_id}"}
        with pytest.raises(Exception, match="errors:read"):
            await c.read_resource(f"bugsnag://projects/{API_PROJECT}/errors/{INTEGRITY}")


async def test_prompts(client: Client) -> None:
    names = {p.name for p in (await client.list_prompts()).prompts}
    assert names == {"triage_project", "fix_error"}
    prompt = await client.get_prompt("fix_error", {"error_id": INTEGRITY, "project_id": API_PROJECT})
    assert "get_bug_context" in getattr(prompt.messages[0].content, "text", "")
