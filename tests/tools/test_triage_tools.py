"""What BugSnag offers beyond one error's status, reachable as tools: comments, team assignment and issue
trackers, bulk discard and delete, event filters, release sorting and builds, saved-search upkeep, feature
flags, data-deletion requests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.types import ElicitResult
from starlette.applications import Starlette

from bugwarden.app import GuardedServer
from bugwarden.sandbox.bugsnag_seed import oid
from tests.conftest import API_PROJECT, Servers, admin_principal, make_settings
from tests.snapshot import text_of

pytestmark = pytest.mark.anyio
INTEGRITY = oid("error", "api-server", "0")
KEYERROR = oid("error", "api-server", "1")
SEARCH = "abd86caf7a49de26373b7126"


@pytest.fixture
def admin(servers: Servers, home: Path) -> GuardedServer:
    return servers(admin_principal(), settings=make_settings(home, toolsets="all"))


async def approve(ctx: Any, params: Any) -> ElicitResult:
    return ElicitResult(action="accept", content={"approve": True})


async def ok(client: Client, tool: str, **args: Any) -> Any:
    result = await client.call_tool(tool, {"project_id": API_PROJECT, **args})
    assert not result.is_error, text_of(result)
    return result


def sent(sandbox: Starlette, method: str, suffix: str) -> list[Any]:
    return [r for r in sandbox.state.control.log if r.method == method and r.path.endswith(suffix)]


async def test_bugsnag_comments_add_list_edit_delete(admin: GuardedServer, sandbox: Starlette) -> None:
    async with Client(admin, elicitation_callback=approve) as c:  # type: ignore[arg-type]
        added = await ok(c, "add_comment", error_id=INTEGRITY, body="Root cause: duplicate order refs from retries.")
        comment_id = added.structured_content["comment_id"]
        assert comment_id and f"Commented on error {INTEGRITY}" in text_of(added)
        listed = await ok(c, "list_comments", error_id=INTEGRITY)
        assert comment_id in text_of(listed) and "duplicate order refs" in text_of(listed)
        assert [x["id"] for x in listed.structured_content["comments"]][-1] == comment_id  # oldest first
        await ok(c, "update_comment", error_id=INTEGRITY, comment_id=comment_id, body="Fixed in 3.7.1.")
        assert "Fixed in 3.7.1." in text_of(await ok(c, "list_comments", error_id=INTEGRITY))
        gone = await ok(c, "delete_comment", error_id=INTEGRITY, comment_id=comment_id)
        assert "Deleted comment" in text_of(gone)
        assert comment_id not in text_of(await ok(c, "list_comments", error_id=INTEGRITY))
    assert sent(sandbox, "POST", "/comments") and sent(sandbox, "PATCH", comment_id)


async def test_assign_to_a_team_and_pick_the_issue_tracker(sandbox: Starlette, home: Path) -> None:
    import httpx

    from bugwarden.app import build_server
    from tests.spec.checker import Recorder

    team = oid("team", "backend")
    recorder = Recorder(httpx.ASGITransport(app=sandbox))
    server = build_server(make_settings(home), principal=admin_principal(), backend_transport=recorder)
    async with Client(server) as c:
        await ok(c, "update_error", error_id=INTEGRITY, operation="assign", assigned_team_id=team)
        assert sandbox.state.sim.world.errors[INTEGRITY].data["assigned_team_id"] == team
        both = await c.call_tool(
            "update_error",
            {"project_id": API_PROJECT, "error_id": INTEGRITY, "operation": "assign"}
            | {"assigned_team_id": team, "assigned_collaborator_id": oid("user", "acme", "dev")},
        )
        assert both.is_error and "not both" in text_of(both)
        notification = oid("integration", "jira")
        await ok(
            c,
            "update_error",
            error_id=INTEGRITY,
            operation="link_issue",
            issue_url="https://jira.test/BUG-1",
            notification_id=notification,
        )
        patch = next(r for r in reversed(recorder.sent) if r.method == "PATCH")
        assert f'"notification_id":"{notification}"' in patch.body.decode().replace(" ", "")
        stray = await c.call_tool(
            "update_error",
            {"project_id": API_PROJECT, "error_id": INTEGRITY, "operation": "open"} | {"notification_id": notification},
        )
        assert stray.is_error and "notification_id does not belong to operation open" in text_of(stray)
    server.close()


async def test_bulk_assign_discard_and_delete(admin: GuardedServer, sandbox: Starlette) -> None:
    ids = [INTEGRITY, KEYERROR]
    async with Client(admin) as c:
        team = oid("team", "backend")
        await ok(c, "bulk_update_errors", error_ids=ids, operation="assign", assigned_team_id=team)
        before = len(sent(sandbox, "PATCH", "/errors"))
        preview = await ok(c, "bulk_update_errors", error_ids=ids, operation="delete")
        assert "Not done yet" in text_of(preview) and len(sent(sandbox, "PATCH", "/errors")) == before
        code = preview.structured_content["confirm_code"]
        done = await ok(c, "bulk_update_errors", error_ids=ids, operation="delete", confirm=code)
        assert text_of(done).count("deleted") == 2, text_of(done)
    assert INTEGRITY not in sandbox.state.sim.world.errors and KEYERROR not in sandbox.state.sim.world.errors


async def test_bulk_delete_needs_the_delete_scope(servers: Servers, home: Path, sandbox: Starlette) -> None:
    from bugwarden.guard.principal import local_principal

    server = servers(local_principal("triage"), settings=make_settings(home, toolsets="all"))
    async with Client(server) as c:
        refused = await c.call_tool(
            "bulk_update_errors", {"project_id": API_PROJECT, "error_ids": [INTEGRITY], "operation": "delete"}
        )
    assert refused.is_error and "errors:delete" in text_of(refused)
    assert INTEGRITY in sandbox.state.sim.world.errors


async def test_per_error_event_filters(admin: GuardedServer, sandbox: Starlette) -> None:
    async with Client(admin) as c:
        every = await ok(c, "list_events", error_id=INTEGRITY, limit=100)
        user = await ok(c, "list_events", error_id=INTEGRITY, filters=["user.id=u-1001"], limit=100)
        assert 0 < len(user.structured_content["events"]) < len(every.structured_content["events"])
        oldest = await ok(c, "list_events", error_id=INTEGRITY, direction="asc", limit=1)
        first = min(sandbox.state.sim.world.errors[INTEGRITY].events, key=lambda e: (e["received_at"], e["id"]))
        assert oldest.structured_content["events"][0]["id"] == first["id"]
        assert not (await ok(c, "list_events", error_id=INTEGRITY, before="2000-01-01T00:00:00Z")).structured_content[
            "events"
        ]
        unknown = await c.call_tool(
            "list_events", {"project_id": API_PROJECT, "error_id": INTEGRITY, "filters": ["no.such=1"]}
        )
        assert unknown.is_error and "unknown filter field no.such" in text_of(unknown)


async def test_releases_by_share_of_sessions_and_a_versions_builds(admin: GuardedServer, sandbox: Starlette) -> None:
    async with Client(admin) as c:
        await ok(c, "list_releases", sort="percent_of_sessions")
        assert "sort=percent_of_sessions" in sent(sandbox, "GET", "/releases")[-1].query
        groups = await ok(c, "list_release_groups", release_stage_name="production")
        group = groups.structured_content["release_groups"][0]["id"]
        builds = await ok(c, "list_releases", release_group_id=group)
        assert builds.structured_content["releases"]
        assert all(r["release_group_id"] == group for r in builds.structured_content["releases"])
        foreign = oid("release_group", "nowhere")
        missing = await c.call_tool("list_releases", {"project_id": API_PROJECT, "release_group_id": foreign})
        assert missing.is_error and "not found" in text_of(missing)


async def test_saved_searches_can_be_edited_and_deleted(admin: GuardedServer, sandbox: Starlette) -> None:
    async with Client(admin, elicitation_callback=approve) as c:  # type: ignore[arg-type]
        changed = await ok(
            c, "update_saved_search", saved_search_id=SEARCH, name="Open errors", filters=["error.status=open"]
        )
        assert "Updated saved search" in text_of(changed)
        stored = sandbox.state.sim.world.saved_searches[SEARCH]
        assert stored["name"] == "Open errors" and stored["filters"] == {
            "error.status": [{"type": "eq", "value": "open"}]
        }
        await ok(c, "delete_saved_search", saved_search_id=SEARCH)
    assert SEARCH not in sandbox.state.sim.world.saved_searches


async def test_feature_flags_of_a_stage(admin: GuardedServer) -> None:
    async with Client(admin) as c:
        flags = await ok(c, "list_feature_flags", release_stage_name="production")
        assert "new-checkout" in text_of(flags) and len(flags.structured_content["feature_flags"]) == 3
        none = await ok(c, "list_feature_flags", release_stage_name="qa")
        assert "No feature flags" in text_of(none)


async def test_data_deletion_shows_what_it_would_delete_then_requests_it(
    admin: GuardedServer, sandbox: Starlette
) -> None:
    async with Client(admin) as c:
        preview = await ok(c, "delete_event_data", filters=["user.id=u-1001"])
        text = text_of(preview)
        assert "Not requested yet" in text and "user.id is u-1001" in text
        assert preview.structured_content["events"] and not sent(sandbox, "POST", "/event_data_deletions")
        done = await ok(
            c, "delete_event_data", filters=["user.id=u-1001"], confirm=preview.structured_content["confirm_code"]
        )
        deletion = done.structured_content["id"]
        assert done.structured_content["requested"] and deletion
        status = await ok(c, "get_event_data_deletion", deletion_id=deletion)
        assert "in_progress" in text_of(status)


async def test_bugport_comments_are_listed_by_the_same_tool(
    servers: Servers, bugport_sandbox: Starlette, home: Path
) -> None:
    from tests.conftest import bugport_settings
    from tests.tools.test_bugport_tools import CHECKOUT

    server = servers(settings=bugport_settings(home, toolsets="all"), bugport=bugport_sandbox)
    async with Client(server) as c:
        await c.call_tool("add_comment", {"error_id": CHECKOUT, "body": "Fixed in 2.4"})
        listed = await c.call_tool("list_comments", {"error_id": CHECKOUT})
    assert not listed.is_error and "Fixed in 2.4" in text_of(listed)


async def test_a_comment_is_changed_only_through_the_error_it_is_on(admin: GuardedServer, sandbox: Starlette) -> None:
    """Comments are addressed by id alone upstream: a project-limited token must not reach another project's."""
    other = oid("comment", KEYERROR, "0")  # a comment on KEYERROR, named through INTEGRITY
    async with Client(admin) as c:
        moved = await c.call_tool(
            "update_comment",
            {"project_id": API_PROJECT, "error_id": INTEGRITY, "comment_id": other, "body": "hijacked"},
        )
    assert moved.is_error and f"is not on error '{INTEGRITY}'" in text_of(moved)
    assert not [r for r in sandbox.state.control.log if r.method == "PATCH" and other in r.path]


async def test_assign_by_email_in_the_default_toolset(servers: Servers, sandbox: Starlette) -> None:
    """An agent with only the core tools cannot look up collaborator ids: it can name the person by email."""
    from bugwarden.guard.principal import local_principal

    server = servers(local_principal("triage"))
    async with Client(server) as c:
        done = await ok(
            c, "update_error", error_id=INTEGRITY, operation="assign", assigned_collaborator_id="ADA@acme.test"
        )
        assert "assigned collaborator id" in text_of(done)
        nobody = await c.call_tool(
            "update_error",
            {"project_id": API_PROJECT, "error_id": INTEGRITY, "operation": "assign"}
            | {"assigned_collaborator_id": "nobody@acme.test"},
        )
    assert nobody.is_error and "no collaborator of project" in text_of(nobody)
    assert sandbox.state.sim.world.errors[INTEGRITY].data["assigned_collaborator_id"] == oid("user", "ada")


async def test_bulk_delete_and_data_deletion_wait_for_a_persons_approval(
    servers: Servers, sandbox: Starlette, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bugwarden.cli import main as cli

    monkeypatch.setenv("BUGWARDEN_HOME", str(home))
    server = servers(admin_principal(), settings=make_settings(home, toolsets="all", confirm="approval"))
    bulk = {"project_id": API_PROJECT, "error_ids": [INTEGRITY, KEYERROR], "operation": "delete"}
    purge = {"project_id": API_PROJECT, "filters": ["user.id=u-1001"]}
    async with Client(server) as c:
        waiting = await c.call_tool("bulk_update_errors", bulk)
        approval = waiting.structured_content["approval_id"]
        assert approval and "waits for a person's approval" in text_of(waiting)
        held = await c.call_tool("delete_event_data", purge)
        assert held.structured_content["approval_id"] and "waits for a person's approval" in text_of(held)
        assert not sent(sandbox, "PATCH", "/errors") and not sent(sandbox, "POST", "/event_data_deletions")
        assert cli(["approvals", "approve", approval, "--as", "alice"]) == 0
        done = await c.call_tool("bulk_update_errors", bulk)
    assert text_of(done).count("deleted") == 2 and INTEGRITY not in sandbox.state.sim.world.errors
