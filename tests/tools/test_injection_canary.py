"""Attacker-controlled text never appears outside an <untrusted-data> fence, in any read tool's answer."""

from __future__ import annotations

import re

import pytest
from mcp import Client

from bugwarden.sandbox.bugsnag_seed import oid
from tests.conftest import API_PROJECT, WEB_PROJECT

pytestmark = pytest.mark.anyio
HOSTILE = [
    (API_PROJECT, oid("error", "api-server", "monster")),
    (WEB_PROJECT, oid("error", "web-frontend", "3")),
    (WEB_PROJECT, oid("error", "web-frontend", "4")),
]
CANARIES = (
    "Ignore all previous",
    "maintenance mode",
    "evil.example",
    "SYSTEM:",
    "approved deleting",
    "FATAL",
    "gnp.exe",
    "leaked-end-user-token",
    "sessionid=secret",
    "sk_live_should_not_show",
)
FENCE = re.compile(r'<untrusted-data source="[^"]+">\n.*?\n</untrusted-data>', re.S)


def outside_fences(text: str) -> str:
    assert text.count('<untrusted-data source="') == text.count("</untrusted-data>"), "unbalanced fences"
    return FENCE.sub("[fenced]", text)


@pytest.mark.parametrize(("project_id", "error_id"), HOSTILE)
async def test_no_canary_escapes_a_fence(client: Client, project_id: str, error_id: str) -> None:
    latest = await client.call_tool("get_latest_event", {"project_id": project_id, "error_id": error_id})
    calls = [
        ("get_error", {"error_id": error_id}),
        ("get_latest_event", {"error_id": error_id}),
        ("get_bug_context", {"error_id": error_id}),
        ("generate_fix_prompt", {"error_id": error_id}),
        ("list_events", {"error_id": error_id}),
        ("get_event", {"event_id": latest.structured_content["id"]}),
        ("get_event", {"event_id": latest.structured_content["id"], "full": True}),
        ("list_errors", {"limit": 100}),
    ]
    seen_inside = False
    for tool, args in calls:
        result = await client.call_tool(tool, {"project_id": project_id, **args})
        assert not result.is_error, (tool, result.content[0].text)
        seen_inside |= any(canary in result.content[0].text for canary in CANARIES)
        text = outside_fences(result.content[0].text)
        for canary in CANARIES:
            assert canary not in text, f"{canary!r} escaped a fence in {tool}"
        for secret in ("leaked-end-user-token", "sessionid=secret", "sk_live_should_not_show"):
            assert secret not in result.content[0].text, f"{secret!r} shown by {tool}"
    assert seen_inside, "the hostile data should be shown (inside fences), or this test proves nothing"
