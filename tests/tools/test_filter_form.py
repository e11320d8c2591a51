"""BugSnag's own filter object (as a saved search holds it and its API takes it) wherever a tool takes filters:
validated by the vendor's rules (known fields, eq or ne, string values), sent in the wire form, and refused in
words when it is not one."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from mcp import Client
from mcp.types import ElicitResult
from starlette.applications import Starlette

from bugwarden.sandbox.bugsnag_seed import ADMIN_TOKEN, oid
from tests.conftest import API_PROJECT, Servers, admin_principal, make_settings
from tests.snapshot import text_of

pytestmark = pytest.mark.anyio
INTEGRITY = oid("error", "api-server", "0")
KEYERROR = oid("error", "api-server", "1")


def last(sandbox: Starlette, method: str = "GET") -> Any:
    return next(r for r in reversed(sandbox.state.control.log) if r.method == method)


async def errors(client: Client, filters: Any) -> Any:
    return await client.call_tool("list_errors", {"project_id": API_PROJECT, "filters": filters, "limit": 50})


async def test_list_errors_takes_the_filter_object_and_sends_what_the_strings_send(
    client: Client, sandbox: Starlette
) -> None:
    strings = await errors(client, ["event.class=KeyError", "os.name!=iOS"])
    sent = last(sandbox).query
    form = {"event.class": [{"type": "eq", "value": "KeyError"}], "os.name": [{"type": "ne", "value": "iOS"}]}
    raw = await errors(client, form)
    assert not raw.is_error, text_of(raw)
    assert [e["id"] for e in raw.structured_content["errors"]] == [KEYERROR]
    assert raw.structured_content["errors"] == strings.structured_content["errors"]
    assert last(sandbox).query == sent
    assert "filters[os.name][][type]=ne&filters[os.name][][value]=iOS" in unquote(sent)


@pytest.mark.parametrize(
    ("form", "words"),
    [
        (
            {"error.status": [{"type": "empty", "value": "true"}]},
            "error.status has type 'empty'; BugSnag takes eq or ne",
        ),
        ({"error.status": [{"type": "eq"}]}, "each condition of error.status must be"),
        ({"error.status": [{"type": "eq", "value": 3}]}, "error.status's value must be a non-empty string"),
        ({"error.status": []}, "error.status must be a list of conditions"),
        ({"os name": [{"type": "eq", "value": "Linux"}]}, "'os name' is not a filter field id"),
        ({"no.such.field": [{"type": "eq", "value": "x"}]}, "unknown filter field no.such.field"),
        ({"os.name": [{"type": "eq", "value": "x"}] * 21}, "at most 20 conditions"),
    ],
)
async def test_a_filter_object_the_vendor_would_not_take_is_refused_in_words(
    client: Client, sandbox: Starlette, form: Any, words: str
) -> None:
    before = len(sandbox.state.control.log)
    result = await errors(client, form)
    assert result.is_error and words in text_of(result), text_of(result)
    assert not [r for r in sandbox.state.control.log[before:] if r.path.endswith("/errors")]


async def test_saved_searches_and_event_data_deletion_take_it_too(
    servers: Servers, sandbox: Starlette, home: Path
) -> None:
    async def approve(ctx: Any, params: Any) -> ElicitResult:
        approve.asked = params.message  # type: ignore[attr-defined]
        return ElicitResult(action="accept", content={"approve": True})

    server = servers(admin_principal(), settings=make_settings(home, toolsets="all"))
    form = {"error.status": [{"type": "eq", "value": "open"}, {"type": "eq", "value": "for_review"}]}
    async with Client(server, elicitation_callback=approve) as client:  # type: ignore[arg-type]
        args = {"project_id": API_PROJECT, "name": "raw form", "filters": form}
        created = await client.call_tool("create_saved_search", args)
        assert not created.is_error, text_of(created)
        saved = [s for s in sandbox.state.sim.world.saved_searches.values() if s["name"] == "raw form"]
        assert saved[0]["filters"] == form  # the object goes out as it came
        events = await client.call_tool(
            "list_events",
            {
                "project_id": API_PROJECT,
                "error_id": INTEGRITY,
                "filters": {"user.id": [{"type": "eq", "value": "u-1001"}]},
            },
        )
        assert not events.is_error and "filters[user.id][][value]=u-1001" in unquote(last(sandbox).query)
        deletion = await client.call_tool(
            "delete_event_data",
            {"project_id": API_PROJECT, "filters": {"user.email": [{"type": "eq", "value": "ann@example.com"}]}},
        )
        assert not deletion.is_error, text_of(deletion)
        assert "user.email=ann@example.com" in approve.asked  # type: ignore[attr-defined]


async def test_the_sandbox_refuses_a_saved_search_whose_filters_are_not_the_filter_object(sandbox: Starlette) -> None:
    headers = {"Authorization": f"token {ADMIN_TOKEN}", "X-Version": "2"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox), base_url="http://s", headers=headers) as c:
        body = {"project_id": API_PROJECT, "name": "x", "project_default": False}
        for bad in ({"error.status": "open"}, {"error.status": [{"type": "like", "value": "open"}]}):
            answer = await c.post("/saved_searches", json={**body, "filters": bad})
            assert answer.status_code == 400, answer.text
        good = await c.post(
            "/saved_searches", json={**body, "filters": {"error.status": [{"type": "eq", "value": "open"}]}}
        )
        assert good.status_code == 201


async def test_a_saved_searchs_filters_are_listed_in_the_form_filters_takes(
    servers: Servers, sandbox: Starlette, home: Path
) -> None:
    server = servers(admin_principal(), settings=make_settings(home, toolsets="all"))
    async with Client(server) as client:
        listed = await client.call_tool("list_saved_searches", {"project_id": API_PROJECT})
        row = listed.structured_content["saved_searches"][0]
        assert row["untrusted"]["filters"] == ["error.status=open", "app.release_stage=production"]
        assert "filters: error.status=open; app.release_stage=production" in text_of(listed)
        by_id = await client.call_tool("list_errors", {"project_id": API_PROJECT, "saved_search_id": row["id"]})
        passed_on = await errors(client, row["untrusted"]["filters"])
        assert passed_on.structured_content["errors"] == by_id.structured_content["errors"]
