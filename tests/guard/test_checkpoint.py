"""The checkpoint under attack: each finding of the governance review, as a test.

Crafted arguments, a replayed cursor, a re-sent confirm, work before authorisation, crashes before
the audit, a revoked stdio token, and labels that say what happened.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from mcp import Client
from mcp.types import ElicitResult
from starlette.applications import Starlette

from bugwarden.guard.principal import Principal
from bugwarden.guard.scopes import BUNDLES
from bugwarden.guard.tokens import TokenStore
from bugwarden.sandbox.bugsnag_seed import oid
from tests.conftest import API_PROJECT, WEB_PROJECT, Servers, make_settings
from tests.snapshot import text_of

pytestmark = pytest.mark.anyio
ACME = oid("org", "acme")
GLOBEX = oid("org", "globex")
INTEGRITY = oid("error", "api-server", "0")
KEYERROR = oid("error", "api-server", "1")
EVENT = oid("event", INTEGRITY, "0")
WEB_ERROR = oid("error", "web-frontend", "0")


def limited(scopes: str = "admin", *projects: str) -> Principal:
    return Principal(id=f"lim-{scopes}", name="limited", scopes=BUNDLES[scopes], projects=frozenset(projects))


def writes(sandbox: Starlette) -> list[str]:
    return [f"{r.method} {r.path}" for r in sandbox.state.control.log if r.method != "GET"]


def outcomes(server: Any) -> list[dict[str, Any]]:
    return [r for r in server.audit.records() if r["phase"] == "result"]


@pytest.mark.parametrize(
    ("principal", "tool", "args"),
    [
        (
            limited("admin", API_PROJECT),
            "update_organization",
            {"organization_id": GLOBEX, "name": "renamed", "project_id": API_PROJECT, "confirm": GLOBEX},
        ),
        (
            limited("admin", API_PROJECT),
            "create_project",
            {"organization_id": GLOBEX, "name": "x", "type": "js", "project_id": API_PROJECT},
        ),
        (
            limited("admin", API_PROJECT),
            "update_release_group",
            {"release_group_id": "abc", "visible": False, "project_id": API_PROJECT},
        ),
        (limited("admin", API_PROJECT), "delete_organization", {"organization_id": GLOBEX, "project_id": API_PROJECT}),
        (limited("read", API_PROJECT), "list_organizations", {"project_id": API_PROJECT}),
    ],
    ids=["update_organization", "create_project", "update_release_group", "delete_organization", "list_orgs"],
)
async def test_an_argument_the_tool_does_not_take_is_refused_not_dropped(
    servers: Servers, sandbox: Starlette, home: Any, principal: Principal, tool: str, args: dict[str, Any]
) -> None:
    server = servers(principal, settings=make_settings(home, toolsets="all"))
    async with Client(server) as client:
        result = await client.call_tool(tool, args)
        assert result.is_error and "unknown argument 'project_id'" in text_of(result)
        # Without the smuggled argument, the call acts beyond the token's projects, so it is denied.
        clean = {k: v for k, v in args.items() if k != "project_id"}
        denied = await client.call_tool(tool, clean)
        assert denied.is_error and "limited to projects" in text_of(denied)
    assert sandbox.state.control.log == []
    first, second = outcomes(server)
    assert (first["decision"], first["outcome"]) == ("invalid", "invalid_argument")
    assert (second["decision"], second["outcome"]) == ("denied", "denied")


async def test_a_declined_question_is_not_overridden_by_a_confirmation(
    servers: Servers, sandbox: Starlette, home: Any
) -> None:
    server = servers(limited("admin"), settings=make_settings(home, toolsets="all"))
    asked: list[str] = []

    async def decline(ctx, params):
        asked.append(params.message)
        return ElicitResult(action="decline")

    args = {"project_id": API_PROJECT, "event_id": EVENT}
    async with Client(server, mode="legacy", elicitation_callback=decline) as human:
        declined = await human.call_tool("delete_event", args)
        assert "user declined" in text_of(declined) and asked
        # The model re-sends with a confirmation from nowhere: the human is asked again, and says no again.
        again = await human.call_tool("delete_event", {**args, "confirm": "cf_1_000000000000_" + "0" * 32})
        assert not again.is_error and "user declined" in text_of(again) and len(asked) == 2
    async with Client(server) as no_human:  # the same agent, from a client that cannot ask
        preview = await no_human.call_tool("delete_event", args)
        assert preview.is_error and "the user declined this change" in text_of(preview)
    assert writes(sandbox) == []


async def test_a_confirmation_counts_only_for_the_preview_it_came_from(
    servers: Servers, sandbox: Starlette, home: Any
) -> None:
    admin = limited("admin")
    server = servers(admin, settings=make_settings(home, toolsets="all"))
    args = {"project_id": API_PROJECT, "event_id": EVENT}
    async with Client(server) as client:
        first = await client.call_tool("delete_event", {**args, "confirm": EVENT})  # the old habit: repeat the id
        assert first.is_error and "confirmation code from this call's preview" in text_of(first)
        preview = await client.call_tool("delete_event", args)
        code = preview.structured_content["confirm_code"]
        assert code and code in text_of(preview) and writes(sandbox) == []
        other = await client.call_tool(
            "delete_event", {"project_id": API_PROJECT, "event_id": oid("event", INTEGRITY, "1"), "confirm": code}
        )
        assert other.is_error and "different preview" in text_of(other)
        other_tool = await client.call_tool(
            "delete_error", {"project_id": API_PROJECT, "error_id": KEYERROR, "confirm": code}
        )
        assert other_tool.is_error and "different preview" in text_of(other_tool)
    intruder = servers(
        Principal(id="intruder", name="intruder", scopes=BUNDLES["admin"]), settings=make_settings(home, toolsets="all")
    )
    async with Client(intruder) as client:
        stolen = await client.call_tool("delete_event", {**args, "confirm": code})
        assert stolen.is_error and "different preview" in text_of(stolen)
    async with Client(server) as client:
        done = await client.call_tool("delete_event", {**args, "confirm": code})
        assert not done.is_error and "Deleted event" in text_of(done)
        replay = await client.call_tool("delete_event", {**args, "confirm": code})
        assert replay.is_error and "already used" in text_of(replay)
    assert writes(sandbox) == [f"DELETE /projects/{API_PROJECT}/events/{EVENT}"]
    consent = [r["consent"] for r in outcomes(server) if r["outcome"] == "ok"]
    assert consent == ["preview", "confirmation code"]


async def test_a_cursor_is_bound_to_its_token_tool_and_project(servers: Servers, sandbox: Starlette) -> None:
    x = servers(Principal(id="tok_x", name="x", scopes=BUNDLES["read"]))
    async with Client(x) as client:
        page = await client.call_tool("list_errors", {"project_id": WEB_PROJECT, "limit": 1})
        cursor = page.structured_content["next_cursor"]
        assert cursor and WEB_PROJECT not in cursor
        assert not (await client.call_tool("list_errors", {"project_id": WEB_PROJECT, "cursor": cursor})).is_error
        moved = await client.call_tool("list_errors", {"project_id": API_PROJECT, "cursor": cursor})
        assert moved.is_error and "came from another call" in text_of(moved)
        tool = await client.call_tool(
            "list_events", {"project_id": WEB_PROJECT, "error_id": WEB_ERROR, "cursor": cursor}
        )
        assert tool.is_error and "came from another call" in text_of(tool)
    y = servers(Principal(id="tok_y", name="y", scopes=BUNDLES["read"], projects=frozenset({API_PROJECT})))
    before = len(sandbox.state.control.log)
    async with Client(y) as client:
        stolen = await client.call_tool("list_errors", {"project_id": API_PROJECT, "cursor": cursor})
        assert stolen.is_error and "came from another call" in text_of(stolen)
        edited = await client.call_tool("list_errors", {"project_id": API_PROJECT, "cursor": cursor[:-4] + "AAAA"})
        assert edited.is_error and "cursor" in text_of(edited)
    assert len(sandbox.state.control.log) == before


async def test_nothing_is_fetched_before_the_scope_check(servers: Servers, sandbox: Starlette) -> None:
    nobody = servers(Principal(id="nobody", name="nobody", scopes=frozenset()))
    async with Client(nobody) as client:
        result = await client.call_tool("list_errors", {})
    assert result.is_error and "needs the errors:read scope" in text_of(result)
    assert sandbox.state.control.log == []
    assert "Api Server" not in text_of(result) and API_PROJECT not in text_of(result)


async def test_a_denial_does_not_reveal_what_a_url_pointed_to(servers: Servers) -> None:
    server = servers(limited("read", API_PROJECT))
    url = f"https://app.bugsnag.com/acme/web-frontend/errors/{WEB_ERROR}"
    async with Client(server) as client:
        result = await client.call_tool("get_error", {"error_id": url})
    assert result.is_error and "outside this agent's project limits" in text_of(result)
    assert WEB_PROJECT not in text_of(result)
    record = outcomes(server)[-1]
    assert record["decision"] == "denied" and record["targets"]["project_id"] == WEB_PROJECT  # the operator sees it


async def test_a_project_id_required_message_lists_only_what_the_caller_may_see(servers: Servers) -> None:
    server = servers(
        Principal(id="two", name="two", scopes=BUNDLES["read"], projects=frozenset({API_PROJECT, WEB_PROJECT}))
    )
    async with Client(server) as client:
        result = await client.call_tool("list_errors", {})
    text = text_of(result)
    assert result.is_error and "project_id is required: 2 projects" in text
    assert API_PROJECT in text and WEB_PROJECT in text and oid("project", "billing") not in text
    assert outcomes(server)[-1]["decision"] == "invalid"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"project_id": 123, "error_id": INTEGRITY}, "project_id must be a string"),
        ({"project_id": API_PROJECT}, "error_id is required"),
        ({"project_id": API_PROJECT, "error_id": INTEGRITY, "full": "very"}, "full must be true or false"),
        ({"project_id": "../../admin", "error_id": INTEGRITY}, "is not a valid identifier"),
        ({"project_id": API_PROJECT, "error_id": ["x"]}, "error_id must be a string"),
    ],
)
async def test_bad_arguments_get_one_clear_line_and_an_audit_record(
    servers: Servers, sandbox: Starlette, args: dict[str, Any], message: str
) -> None:
    server = servers()
    async with Client(server) as client:
        result = await client.call_tool("get_error", args)
    text = text_of(result)
    assert result.is_error and message in text
    assert "pydantic" not in text and "Traceback" not in text and "attribute" not in text
    (record,) = outcomes(server)
    assert (record["decision"], record["outcome"]) == ("invalid", "invalid_argument")
    assert sandbox.state.control.log == []


async def test_schema_violations_read_like_the_hand_written_checks(servers: Servers, home: Any) -> None:
    server = servers(limited("admin"), settings=make_settings(home, toolsets="all"))
    async with Client(server) as client:
        cases: list[tuple[str, dict[str, Any], str]] = [
            ("list_errors", {"project_id": API_PROJECT, "limit": -1}, "limit must be at least 1"),
            ("list_errors", {"project_id": API_PROJECT, "status": "bogus"}, "status must be one of"),
            ("update_error", {"project_id": API_PROJECT}, "error_id is required"),
            (
                "bulk_update_errors",
                {"project_id": API_PROJECT, "error_ids": [], "operation": "fix"},
                "error_ids needs at least 1 item",
            ),
        ]
        for tool, args, message in cases:
            result = await client.call_tool(tool, args)
            assert result.is_error and message in text_of(result), (tool, text_of(result))
            assert "errors.pydantic.dev" not in text_of(result)


async def test_an_unknown_resource_is_refused_and_audited(servers: Servers) -> None:
    server = servers()
    async with Client(server) as client:
        with pytest.raises(Exception, match="no such resource"):
            await client.read_resource("bugsnag://projects/x/secrets/y")
        with pytest.raises(Exception, match="not a valid identifier"):
            await client.read_resource("bugsnag://projects/..%2F/errors/x")
    unknown, invalid_id = outcomes(server)
    assert unknown["tool"] == "resource:unknown" and unknown["decision"] == "invalid"
    assert invalid_id["tool"] == "resource:get_error" and invalid_id["decision"] == "invalid"


async def test_stdio_rechecks_its_token_on_every_call(servers: Servers, home: Any) -> None:
    from bugwarden.store import Store

    store = Store.sqlite(home)
    tokens = TokenStore(store.tokens)
    info, secret = tokens.create("desktop", "read")
    expiring, expiring_secret = tokens.create("short", "read", expires_in="1h")
    revoked = servers(principal=None, settings=make_settings(home, agent_token=secret))
    expired = servers(principal=None, settings=make_settings(home, agent_token=expiring_secret))
    async with Client(revoked) as a, Client(expired) as b:
        assert not (await a.call_tool("list_projects", {})).is_error
        assert not (await b.call_tool("list_projects", {})).is_error
        tokens.revoke(info.id)
        db = sqlite3.connect(home / "tokens.sqlite3")
        past = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
        db.execute("UPDATE tokens SET expires_at = ? WHERE id = ?", (past, expiring.id))
        db.commit()
        db.close()
        gone = await a.call_tool("list_projects", {})
        assert gone.is_error and "was revoked" in text_of(gone)
        late = await b.call_tool("list_projects", {})
        assert late.is_error and "expired" in text_of(late)
        assert (await a.list_tools()).tools == []
    record = outcomes(revoked)[-1]
    assert record["decision"] == "denied" and record["principal_id"] == "unauthenticated"
    store.close()


async def test_an_update_with_bad_companions_records_no_intent(servers: Servers, sandbox: Starlette) -> None:
    server = servers()
    async with Client(server) as client:
        result = await client.call_tool(
            "update_error", {"project_id": API_PROJECT, "error_id": KEYERROR, "operation": "snooze"}
        )
    assert result.is_error and "snooze needs reopen_if" in text_of(result)
    records = list(server.audit.records())
    assert [r["phase"] for r in records] == ["result"] and records[0]["decision"] == "invalid"
    assert sandbox.state.control.log == []
