"""What a model reads says what is known, in plain words: no placeholders, no Python reprs, precise errors."""

from __future__ import annotations

import re
from typing import Any

import pytest
from mcp import Client
from starlette.applications import Starlette

from bugwarden.guard.principal import Principal
from bugwarden.guard.scopes import BUNDLES
from bugwarden.sandbox.bugsnag_seed import oid
from tests.conftest import API_PROJECT, Servers, make_settings
from tests.snapshot import text_of

pytestmark = pytest.mark.anyio
INTEGRITY = oid("error", "api-server", "0")
KEYERROR = oid("error", "api-server", "1")
REPR = re.compile(r"\bNone\b|\{'|\['|\"reopen_if\"|\bTrue\b|\bFalse\b")


@pytest.fixture
def admin(servers: Servers, home: Any) -> Any:
    return servers(
        Principal(id="a", name="admin", scopes=BUNDLES["admin"]), settings=make_settings(home, toolsets="all")
    )


async def answer(client: Client, tool: str, args: dict[str, Any]) -> str:
    result = await client.call_tool(tool, args)
    return text_of(result)


async def test_no_placeholders_or_python_reprs_in_everyday_answers(admin: Any) -> None:
    async with Client(admin) as c:
        answers = [
            await answer(c, "list_projects", {}),
            await answer(c, "list_errors", {"project_id": API_PROJECT}),
            await answer(c, "get_project", {"project_id": API_PROJECT}),
            await answer(c, "get_bug_context", {"project_id": API_PROJECT, "error_id": INTEGRITY}),
            await answer(c, "get_stability_trend", {"project_id": API_PROJECT}),
            await answer(c, "list_releases", {"project_id": API_PROJECT}),
        ]
    for text in answers:
        outside = re.sub(r"<untrusted-data.*?</untrusted-data>", "", text, flags=re.S)
        assert " ? " not in outside and "· ?" not in outside and "unknown" not in outside.lower(), outside
        assert not REPR.search(outside), outside
        assert not re.search(r"\b1 (projects|errors|events|users|requests|sessions)\b", text), text


async def test_a_snooze_rule_reads_as_words(admin: Any) -> None:
    async with Client(admin) as c:
        result = await c.call_tool(
            "update_error",
            {
                "project_id": API_PROJECT,
                "error_id": INTEGRITY,
                "operation": "snooze",
                "reopen_if": "n_additional_users",
                "additional_users": 5,
            },
        )
        shown = await answer(c, "get_error", {"project_id": API_PROJECT, "error_id": INTEGRITY})
    assert "reopen rule: none → snoozed until 5 more users are affected" in text_of(result)
    assert "**Snoozed** until 5 more users are affected" in shown
    assert not REPR.search(text_of(result)) and not REPR.search(shown)


async def test_a_change_that_was_already_in_effect_says_so_plainly(admin: Any) -> None:
    async with Client(admin) as c:
        await c.call_tool("update_error", {"project_id": API_PROJECT, "error_id": KEYERROR, "operation": "ignore"})
        again = await answer(
            c, "update_error", {"project_id": API_PROJECT, "error_id": KEYERROR, "operation": "ignore"}
        )
    assert again == f"Error {KEYERROR} in project {API_PROJECT}: no change; it was already so."


async def test_an_unknown_id_in_a_bulk_update_names_the_errors_not_the_project(admin: Any) -> None:
    async with Client(admin) as c:
        text = await answer(
            c,
            "bulk_update_errors",
            {"project_id": API_PROJECT, "operation": "ignore", "error_ids": [INTEGRITY, "000000000000000000000000"]},
        )
    assert f"not errors of project '{API_PROJECT}'" in text and "nothing was changed" in text
    assert "000000000000000000000000" in text and INTEGRITY not in text  # which one, not "one or more"
    assert "not found or not visible" not in text


async def test_an_unknown_event_field_is_named(admin: Any) -> None:
    async with Client(admin) as c:
        text = await answer(c, "list_pivot_values", {"project_id": API_PROJECT, "event_field_display_id": "no.such"})
    assert "no values of that event field" in text and "list_event_fields" in text
    assert '<untrusted-data source="argument">\nno.such\n</untrusted-data>' in text  # named, inside a fence


async def test_an_error_whose_latest_event_is_gone_is_still_shown(admin: Any, sandbox: Starlette) -> None:
    sandbox.state.sim.world.errors[KEYERROR].events.clear()
    async with Client(admin) as c:
        result = await c.call_tool("get_error", {"project_id": API_PROJECT, "error_id": KEYERROR})
    assert not result.is_error
    assert f"# Error {KEYERROR}" in text_of(result)
    assert "latest event could not be loaded" in text_of(result)
    assert result.structured_content["missing"] == ["latest event"]


async def test_counts_in_the_sandbox_agree_with_each_other(admin: Any) -> None:
    async with Client(admin) as c:
        projects = (await c.call_tool("list_projects", {})).structured_content["projects"]
        api = next(p for p in projects if p["id"] == API_PROJECT)
        errors = await c.call_tool("list_errors", {"project_id": API_PROJECT, "status": "open", "limit": 100})
        assert api["open_errors"] == len(errors.structured_content["errors"])
        await c.call_tool("resolve_error", {"project_id": API_PROJECT, "error_id": INTEGRITY})
        projects = (await c.call_tool("list_projects", {})).structured_content["projects"]
    assert next(p for p in projects if p["id"] == API_PROJECT)["open_errors"] == api["open_errors"] - 1
