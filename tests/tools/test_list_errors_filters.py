"""list_errors with every filter BugSnag's errors list takes, as typed arguments; answers that end a task."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from starlette.applications import Starlette

from bugwarden.sandbox.bugsnag_seed import oid
from tests.conftest import API_PROJECT, Servers, bugport_settings
from tests.snapshot import text_of

pytestmark = pytest.mark.anyio
INTEGRITY = oid("error", "api-server", "0")
KEYERROR = oid("error", "api-server", "1")
SNOOZED = oid("error", "api-server", "2")
REVIEW = "2aa8c39cc6e5ec9fd8f1ec3b"


async def ids(client: Client, **args: Any) -> list[str]:
    result = await client.call_tool("list_errors", {"project_id": API_PROJECT, **args})
    assert not result.is_error, text_of(result)
    return [e["id"] for e in result.structured_content["errors"]]


def last_query(sandbox: Starlette) -> str:
    from urllib.parse import unquote

    return unquote(next(r.query for r in reversed(sandbox.state.control.log) if r.path.endswith("/errors")))


async def test_the_errors_a_release_introduced_come_with_their_ids(client: Client, sandbox: Starlette) -> None:
    assert await ids(client, introduced_in="3.7.0") == [INTEGRITY]
    assert "filters[release.introduced_in][][type]=eq&filters[release.introduced_in][][value]=3.7.0" in last_query(
        sandbox
    )
    assert set(await ids(client, introduced_in="3.5.*")) == {KEYERROR, REVIEW}


async def test_several_statuses_at_once(client: Client, sandbox: Starlette) -> None:
    found = await ids(client, status=["snoozed", "for_review"], limit=50)
    assert set(found) == {SNOOZED, REVIEW}
    assert (
        "filters[error.status][][type]=eq&filters[error.status][][value]=snoozed&filters[error.status][][type]=eq"
        in (last_query(sandbox))
    )
    assert await ids(client, status="snoozed") == [SNOOZED]  # one status as a plain string still works


async def test_user_class_os_version_time_and_direction(client: Client, sandbox: Starlette) -> None:
    assert INTEGRITY in await ids(client, user="u-1010")
    assert "filters[user.id]" in last_query(sandbox)
    await ids(client, user="ann@example.com")
    assert "filters[user.email][][type]=eq&filters[user.email][][value]=ann@example.com" in last_query(sandbox)
    assert await ids(client, error_class="TimeoutError") == [SNOOZED]
    assert "filters[event.class]" in last_query(sandbox)
    assert len(await ids(client, os="Linux", limit=50)) == 7 and await ids(client, os="Android") == []
    assert set(await ids(client, app_version="3.3.0")) == {"1917d93e1bd6a59ca22bf504"}
    assert "filters[version.seen_in]" in last_query(sandbox)
    assert await ids(client, before="2000-01-01T00:00:00Z") == []
    newest = await ids(client, limit=50)
    assert await ids(client, sort="last_seen", direction="asc", limit=50) == list(reversed(newest))
    assert "direction=asc" in last_query(sandbox)
    await ids(client, assigned_to="me")
    assert "filters[error.assigned_to][][type]=eq&filters[error.assigned_to][][value]=me" in last_query(sandbox)


async def test_free_form_filters_and_a_saved_search(client: Client, sandbox: Starlette) -> None:
    assert await ids(client, filters=["event.class=KeyError"]) == [KEYERROR]
    saved = await client.call_tool("list_saved_searches", {"project_id": API_PROJECT})
    assert saved.is_error  # the insights toolset is not in the default one; the id comes from a dashboard user
    search = "abd86caf7a49de26373b7126"
    found = await ids(client, saved_search_id=search, limit=50)
    assert found and all(e in found for e in (INTEGRITY, KEYERROR)) and SNOOZED not in found
    assert "filters[app.release_stage][][value]=production" in last_query(sandbox)
    other = await client.call_tool(
        "list_errors", {"project_id": API_PROJECT, "saved_search_id": "c951bf030ab961d186a62706"}
    )
    assert other.is_error and "not found in project" in text_of(other)


async def test_a_release_stage_that_does_not_exist_is_said_plainly(client: Client) -> None:
    result = await client.call_tool("list_errors", {"project_id": API_PROJECT, "release_stage": "prod"})
    text = text_of(result)
    assert not result.is_error and "no release stage by that name" in text and "production" in text
    assert "Next:" not in text and "0 of 0" not in text
    quiet = await client.call_tool(
        "list_errors", {"project_id": API_PROJECT, "release_stage": "staging", "since": "1m"}
    )
    assert "No errors match these filters" in text_of(quiet) and "Next:" not in text_of(quiet)


async def test_bugport_takes_one_status_and_none_of_bugsnags_filters(
    servers: Servers, bugport_sandbox: Starlette, home: Path
) -> None:
    from tests.tools.test_bugport_tools import SHOP

    server = servers(settings=bugport_settings(home), bugport=bugport_sandbox)
    async with Client(server) as c:
        two = await c.call_tool("list_errors", {"project_id": SHOP, "status": ["open", "closed"]})
        assert two.is_error and "one status at a time" in text_of(two)
        foreign = await c.call_tool("list_errors", {"project_id": SHOP, "introduced_in": "1.0"})
        assert foreign.is_error and "cannot filter by introduced_in" in text_of(foreign)
        one = await c.call_tool("list_errors", {"project_id": SHOP, "status": ["open"]})
        assert not one.is_error
