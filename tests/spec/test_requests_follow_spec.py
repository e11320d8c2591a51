"""Every request the tools send to BugSnag follows its OpenAPI document and the real-API notes: known parameters
only, required fields present, filters in the vendor's wire form. Each tool is driven through the sandbox and each
upstream request recorded exactly as sent (method, path, query string in order, body)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client
from mcp.types import ElicitResult
from starlette.applications import Starlette

from bugwarden.app import build_server
from bugwarden.sandbox.bugsnag_seed import oid
from bugwarden.tools import REGISTRY
from tests.conftest import API_PROJECT, admin_principal, bugsnag_serves, make_settings
from tests.snapshot import text_of
from tests.spec.checker import SPEC, Recorder, Sent

pytestmark = pytest.mark.anyio
ACME = oid("org", "acme")
GLOBEX = oid("org", "globex")
INTEGRITY = oid("error", "api-server", "0")
KEYERROR = oid("error", "api-server", "1")
EVENT = oid("event", INTEGRITY, "0")
TEAM = oid("team", "backend")
JIRA = oid("integration", "jira")
REFERENCE = Path("/work/shared/reference/bugsnag-data-access-api-v2.yaml")


async def _approve(ctx: Any, params: Any) -> ElicitResult:
    return ElicitResult(action="accept", content={"approve": True})


class Driver:
    """Calls tools through one server whose upstream requests are recorded; remembers which tools it called."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.called: set[str] = set()

    async def __call__(self, name: str, args: dict[str, Any]) -> Any:
        self.called.add(name)
        result = await self.client.call_tool(name, args)
        assert not result.is_error, (name, args, text_of(result))
        return result


def calls() -> list[tuple[str, dict[str, Any]]]:
    """One or more calls of every BugSnag tool, with the arguments that change what is sent."""
    p = {"project_id": API_PROJECT}
    return [
        ("list_projects", {}),
        ("list_signals", {}),
        ("get_project", p),
        ("list_errors", p),
        ("list_errors", {**p, "status": "open", "severity": "error", "release_stage": "production", "since": "7d"}),
        ("list_errors", {**p, "search": "KeyError", "sort": "unsorted", "limit": 5}),
        ("list_errors", {**p, "status": ["open", "snoozed"], "introduced_in": "3.7.0", "direction": "asc"}),
        ("list_errors", {**p, "user": "ann@example.com", "assigned_to": "me", "error_class": "KeyError"}),
        ("list_errors", {**p, "os": "Linux", "app_version": "3.*", "before": "1d", "filters": ["browser.name=Chrome"]}),
        ("list_errors", {**p, "saved_search_id": "abd86caf7a49de26373b7126"}),
        (
            "list_errors",
            {**p, "filters": {"os.name": [{"type": "eq", "value": "Linux"}, {"type": "ne", "value": "iOS"}]}},
        ),
        ("list_errors", {**p, "release_stage": "nowhere"}),
        ("get_error", {**p, "error_id": INTEGRITY}),
        ("list_events", {**p, "error_id": INTEGRITY, "limit": 3}),
        ("get_event", {**p, "event_id": EVENT}),
        ("get_latest_event", {**p, "error_id": INTEGRITY}),
        ("get_bug_context", {**p, "error_id": INTEGRITY}),
        ("generate_fix_prompt", {**p, "error_id": INTEGRITY}),
        ("list_pivots", {**p, "error_id": INTEGRITY}),
        ("list_pivots", {**p, "pivots": ["os.name", "browser.name"], "filters": ["os.name=Android", "os.name=iOS"]}),
        ("list_pivot_values", {**p, "error_id": INTEGRITY, "event_field_display_id": "app.version"}),
        ("list_pivot_values", {**p, "event_field_display_id": "os.name", "sort": "unsorted"}),
        ("get_trend", {**p, "error_id": INTEGRITY, "resolution": "12h", "since": "2d"}),
        ("get_trend", {**p, "buckets_count": 7}),
        ("get_stability_trend", p),
        ("list_releases", {**p, "release_stage": "production", "limit": 3}),
        ("list_release_groups", {**p, "release_stage_name": "production", "top_only": True, "visible_only": True}),
        (
            "list_project_events",
            {**p, "filters": ["user.id=u-1001", "app.release_stage!=staging", "app.release_stage!=development"]},
        ),
        ("list_event_fields", p),
        ("list_saved_searches", {**p, "shared": True}),
        ("create_saved_search", {**p, "name": "mine", "filters": ["error.status=open", "error.status=for_review"]}),
        (
            "create_saved_search",
            {**p, "name": "raw", "filters": {"error.status": [{"type": "eq", "value": "open"}]}, "sort": "users"},
        ),
        ("list_events", {**p, "error_id": INTEGRITY, "filters": {"user.id": [{"type": "ne", "value": "u-1"}]}}),
        ("list_organizations", {}),
        ("list_organizations", {"organization_id": ACME}),
        ("create_project", {"organization_id": ACME, "name": "Walk", "type": "js"}),
        ("update_project", {**p, "name": "Api", "resolve_on_deploy": True}),
        ("update_organization", {"organization_id": ACME, "name": "Acme Inc"}),
        ("update_organization", {"organization_id": ACME, "billing_emails": ["billing@acme.test"]}),
        ("update_organization", {"organization_id": ACME, "auto_upgrade": True}),
        ("list_collaborators", {"organization_id": ACME, "q": "a"}),
        ("list_collaborators", p),
        ("resolve_error", {**p, "error_id": INTEGRITY}),
        ("update_error", {**p, "error_id": INTEGRITY, "operation": "open"}),
        ("update_error", {**p, "error_id": INTEGRITY, "operation": "override_severity", "severity": "info"}),
        (
            "update_error",
            {**p, "error_id": INTEGRITY, "operation": "snooze", "reopen_if": "n_occurrences_in_m_hours"}
            | {"occurrences": 5, "hours": 2},
        ),
        ("update_error", {**p, "error_id": INTEGRITY, "operation": "link_issue", "issue_url": "https://x.test/1"}),
        ("bulk_update_errors", {**p, "error_ids": [INTEGRITY, KEYERROR], "operation": "ignore"}),
        ("bulk_update_errors", {**p, "error_ids": [KEYERROR], "operation": "assign", "assigned_team_id": TEAM}),
        ("bulk_update_errors", {**p, "error_ids": [KEYERROR], "operation": "discard"}),
        ("update_error", {**p, "error_id": INTEGRITY, "operation": "assign", "assigned_team_id": "Payments"}),
        ("update_error", {**p, "error_id": INTEGRITY, "operation": "create_issue", "notification_id": JIRA}),
        ("update_error", {**p, "error_id": INTEGRITY, "operation": "create_issue", "notification_id": "github"}),
        ("list_events", {**p, "error_id": INTEGRITY, "filters": ["user.id=u-1", "user.id=u-2"], "since": "7d"}),
        ("list_events", {**p, "error_id": INTEGRITY, "direction": "asc", "before": "1d"}),
        ("list_releases", {**p, "sort": "percent_of_sessions"}),
        ("list_comments", {**p, "error_id": INTEGRITY}),
        ("list_feature_flags", {**p, "release_stage_name": "production", "q": "dark"}),
        ("update_saved_search", {**p, "saved_search_id": "abd86caf7a49de26373b7126", "filters": ["os.name=Linux"]}),
        ("delete_saved_search", {**p, "saved_search_id": "abd86caf7a49de26373b7126"}),
        ("delete_event", {**p, "event_id": EVENT}),
        ("delete_error", {**p, "error_id": KEYERROR}),
        ("delete_organization", {"organization_id": GLOBEX}),
    ]


async def drive_every_tool(sandbox: Starlette, home: Path) -> tuple[list[Sent], set[str]]:
    recorder = Recorder(httpx.ASGITransport(app=sandbox))
    server = build_server(make_settings(home, toolsets="all"), principal=admin_principal(), backend_transport=recorder)
    try:
        async with Client(server, elicitation_callback=_approve) as client:  # type: ignore[arg-type]
            run = Driver(client)
            for name, args in calls():
                await run(name, args)
            p = {"project_id": API_PROJECT}
            groups = await run("list_release_groups", {**p, "release_stage_name": "staging"})
            group = groups.structured_content["release_groups"][0]["id"]
            await run("update_release_group", {"release_group_id": group, "visible": True})
            people = await run("list_collaborators", {"organization_id": ACME})
            person = people.structured_content["collaborators"][0]["id"]
            await run("list_collaborators", {"organization_id": ACME, "collaborator_id": person})
            releases = await run("list_releases", p)
            await run("list_releases", {**p, "release_id": releases.structured_content["releases"][0]["id"]})
            comment = await run("add_comment", {**p, "error_id": INTEGRITY, "body": "found it"})
            cid = comment.structured_content["comment_id"]
            await run("update_comment", {**p, "error_id": INTEGRITY, "comment_id": cid, "body": "fixed it"})
            await run("delete_comment", {**p, "error_id": INTEGRITY, "comment_id": cid})
            deletion = await run("delete_event_data", {**p, "filters": ["user.email=ann@example.com"]})
            await run("get_event_data_deletion", {**p, "deletion_id": deletion.structured_content["id"]})
            group = groups.structured_content["release_groups"][0]["id"]
            await run("list_releases", {**p, "release_group_id": group})
            await run("list_signals", p)  # answers from the store: sends nothing upstream
            page = await run("list_errors", {**p, "limit": 2, "status": "open"})
            await run(
                "list_errors", {**p, "limit": 2, "status": "open", "cursor": page.structured_content["next_cursor"]}
            )
    finally:
        server.close()
    return recorder.sent, run.called


async def test_every_request_the_tools_send_follows_the_specification(sandbox: Starlette, home: Path) -> None:
    sent, called = await drive_every_tool(sandbox, home)
    served = {name for name in REGISTRY if bugsnag_serves(name)}
    assert served - called == set(), "drive these tools too"
    problems = SPEC.problems(sent)
    assert not problems, "\n".join(problems)
    assert not [r for r in sandbox.state.control.log if r.status == 400]


async def test_two_conditions_on_one_field_go_out_type_then_value_in_order(backend: Any) -> None:
    recorder = Recorder(backend.http._client_args["transport"])
    backend.http._client_args["transport"] = recorder
    await backend.list_project_events(
        API_PROJECT, filters=[("os.name", "eq", "Android"), ("os.name", "eq", "iOS"), ("user.id", "ne", "u-1")]
    )
    assert recorder.sent[0].query == (
        "filters%5Bos.name%5D%5B%5D%5Btype%5D=eq&filters%5Bos.name%5D%5B%5D%5Bvalue%5D=Android"
        "&filters%5Bos.name%5D%5B%5D%5Btype%5D=eq&filters%5Bos.name%5D%5B%5D%5Bvalue%5D=iOS"
        "&filters%5Buser.id%5D%5B%5D%5Btype%5D=ne&filters%5Buser.id%5D%5B%5D%5Bvalue%5D=u-1&per_page=10"
    )


async def test_the_sandbox_refuses_filters_whose_types_and_values_are_grouped(sandbox: Starlette) -> None:
    grouped = (
        "filters[os.name][][type]=eq&filters[os.name][][type]=eq"
        "&filters[os.name][][value]=Android&filters[os.name][][value]=iOS"
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox), base_url="http://sandbox.test") as c:
        response = await c.get(
            f"/projects/{API_PROJECT}/events?{grouped}", headers={"Authorization": "token sandbox-admin-token"}
        )
    assert response.status_code == 400


def test_the_checker_catches_what_it_is_for() -> None:
    bad = [
        Sent("GET", f"/projects/{API_PROJECT}/event_fields", "per_page=100", b""),
        Sent("GET", f"/projects/{API_PROJECT}/pivots", "summary_size=3&per_page=100", b""),
        Sent("PATCH", f"/organizations/{ACME}", "", b'{"billing_emails": ["a@b.test"]}'),
        Sent(
            "GET",
            f"/projects/{API_PROJECT}/events",
            "filters[a][][type]=eq&filters[a][][type]=eq&filters[a][][value]=1&filters[a][][value]=2",
            b"",
        ),
        Sent("GET", f"/projects/{API_PROJECT}/errors", "filters[a][0][type]=eq&filters[a][0][value]=1", b""),
        Sent("GET", f"/projects/{API_PROJECT}/release_groups", "per_page=5", b""),
        Sent("GET", f"/projects/{API_PROJECT}/errors/{INTEGRITY}/trends", "buckets_count=3", b""),
    ]
    found = [SPEC.check(r) for r in bad]
    assert all(found), found
    assert SPEC.check(Sent("GET", f"/projects/{API_PROJECT}/errors/{INTEGRITY}/trend", "buckets_count=3", b"")) == []


@pytest.mark.skipif(not REFERENCE.exists(), reason="the vendor's OpenAPI document is not on this machine")
def test_the_extract_matches_the_vendor_document() -> None:
    import json

    import yaml

    from tests.spec.extract import extract

    here = json.loads((Path(__file__).parent / "bugsnag_requests.json").read_text())
    assert extract(yaml.safe_load(REFERENCE.read_text())) == here


async def test_the_sandbox_refuses_per_page_where_the_specification_declares_none(sandbox: Starlette) -> None:
    headers = {"Authorization": "token sandbox-admin-token"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox), base_url="http://sandbox.test") as c:
        for path in ("event_fields", "pivots", "saved_searches", "stability_trend", "trend"):
            response = await c.get(f"/projects/{API_PROJECT}/{path}?per_page=100", headers=headers)
            assert response.status_code == 400, path
        taken = await c.get(f"/projects/{API_PROJECT}/errors/{INTEGRITY}/pivots?per_page=100", headers=headers)
        assert taken.status_code == 200
