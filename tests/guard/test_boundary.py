"""Every call is audited exactly once, whatever fails on the way in: URLs that cannot be parsed, forged cursors
holding deeply nested JSON, ids and JSON of any depth; each is refused in plain words (review 3, items 3 and 7)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest
from mcp import Client
from starlette.applications import Starlette

from bugwarden.guard.cursors import CursorCodec
from bugwarden.guard.principal import Principal
from bugwarden.guard.scopes import BUNDLES
from bugwarden.sandbox.bugsnag_seed import oid
from tests.conftest import API_PROJECT, Servers, make_settings
from tests.snapshot import text_of

pytestmark = pytest.mark.anyio
ADMIN = Principal(id="edge-admin", name="edge-admin", scopes=BUNDLES["admin"])
EVENT = oid("event", oid("error", "api-server", "0"), "0")
PYTHON_WORDS = ("Traceback", "IPv6", "recursion", "RecursionError", "ValueError", 'File "', ".py")


def results(server: Any) -> list[dict[str, Any]]:
    return [r for r in server.audit.records() if r["phase"] == "result"]


def nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


def forged_cursor(body: bytes, key: bytes = b"", bound: str = "") -> str:
    tag = hmac.new(key, body + b"\n" + bound.encode(), hashlib.sha256).digest()[:16] if key else b"x" * 16
    return base64.urlsafe_b64encode(tag + body).decode().rstrip("=")


@pytest.mark.parametrize(
    ("tool", "args"),
    [
        ("get_error", {"error_id": "https://[/x/errors/abc"}),
        ("get_error", {"error_id": "https://[::1/acme/api/errors/abc", "project_id": API_PROJECT}),
        ("list_errors", {"project_id": API_PROJECT, "cursor": forged_cursor(b"[" * 1400 + b"]" * 1400)}),
        ("list_errors", {"project_id": API_PROJECT, "cursor": forged_cursor(b'{"p":' * 600 + b"1" + b"}" * 600)}),
        ("get_error", {"error_id": nested(250)}),
        ("bulk_update_errors", {"project_id": API_PROJECT, "error_ids": nested(200), "operation": "fix"}),
        ("list_errors", {"project_id": API_PROJECT, "search": {"a": nested(200)}}),
    ],
    ids=[
        "bad-ipv6-url",
        "bad-ipv6-url-with-project",
        "nested-cursor",
        "nested-object-cursor",
        "deep-id",
        "deep-id-list",
        "deep-object",
    ],
)
async def test_a_call_that_cannot_be_read_is_refused_in_plain_words_and_audited_once(
    servers: Servers, sandbox: Starlette, home: Any, tool: str, args: dict[str, Any]
) -> None:
    server = servers(ADMIN, settings=make_settings(home, toolsets="all"))
    async with Client(server) as client:
        result = await client.call_tool(tool, args)
    assert result.is_error
    assert not any(word in text_of(result) for word in PYTHON_WORDS), text_of(result)
    (record,) = results(server)
    assert record["tool"] == tool and record["decision"] == "invalid", record
    assert sandbox.state.control.log == []


def test_a_cursor_is_parsed_only_after_its_signature_holds() -> None:
    codec = CursorCodec(lambda: b"k" * 32)
    parsed: list[bytes] = []
    import bugwarden.guard.cursors as cursors

    real = cursors.json.loads

    def spy(body: Any, *a: Any, **kw: Any) -> Any:
        parsed.append(body)
        return real(body, *a, **kw)

    cursors.json.loads = spy  # type: ignore[assignment]
    try:
        with pytest.raises(Exception, match="came from another call"):
            codec.decode(forged_cursor(b'{"p":"/x","x":99999999999}'), "bound")
        assert parsed == []
        good = codec.encode("/next", "bound")
        assert codec.decode(good, "bound") == "/next" and len(parsed) == 1
    finally:
        cursors.json.loads = real


async def test_a_refusal_after_the_intent_is_recorded_as_refused_with_its_reason(
    servers: Servers, sandbox: Starlette, home: Any
) -> None:
    server = servers(ADMIN, settings=make_settings(home, toolsets="all"))
    async with Client(server) as client:
        result = await client.call_tool(
            "delete_event", {"project_id": API_PROJECT, "event_id": EVENT, "confirm": "cf_not_a_code"}
        )
    assert result.is_error
    intent, outcome = [r for r in server.audit.records() if r["tool"] == "delete_event"]
    assert (intent["phase"], intent["decision"]) == ("intent", "allowed")
    assert outcome["decision"] == "invalid" and outcome["outcome"] == "invalid_argument"
    assert "confirmation code from this call's preview" in outcome["reason"]


async def test_any_other_failure_on_the_way_in_is_refused_with_a_reference_and_audited(
    servers: Servers, sandbox: Starlette, home: Any
) -> None:
    server = servers(ADMIN, settings=make_settings(home, toolsets="all"))

    async def broken(spec: Any, arguments: Any, principal: Any, upstream: Any) -> Any:
        raise KeyError("/srv/bugwarden/secret/path.py")

    server.checkpoint.resolve = broken
    async with Client(server) as client:
        result = await client.call_tool("get_error", {"project_id": API_PROJECT, "error_id": "abc"})
    assert result.is_error and "reference" in text_of(result) and "/srv" not in text_of(result)
    (record,) = results(server)
    assert record["decision"] == "invalid" and record["outcome"].startswith("internal_error:")


async def test_confirmation_codes_are_stored_hashed_in_the_audit_log(
    servers: Servers, sandbox: Starlette, home: Any
) -> None:
    from bugwarden.guard.audit import code_fingerprint

    server = servers(ADMIN, settings=make_settings(home, toolsets="all"))
    args = {"project_id": API_PROJECT, "event_id": EVENT}
    async with Client(server) as client:
        code = (await client.call_tool("delete_event", args)).structured_content["confirm_code"]
        done = await client.call_tool("delete_event", {**args, "confirm": code})
    assert "Deleted event" in text_of(done)
    stored = [json.dumps(r) for r in server.audit.records()]
    assert not any(code in line for line in stored)
    assert any(code_fingerprint(code) in line for line in stored)
