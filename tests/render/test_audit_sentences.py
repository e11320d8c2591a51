"""Every audit record reads as one plain sentence: who (through which client, granted by whom), what, where, and
the decision; whatever came from the record is cleaned and cannot pass for our words."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client

from bugwarden.render.audit import parts, quoted, sentence
from tests.conftest import API_PROJECT, Servers

INTEGRITY = "ec0d6c73fe01b5443e71589e"

GRANT = {"principal_id": "grant_1", "principal_name": "triage-bot", "person": "alice", "client_name": "claude-code"}
TOKEN = {"principal_id": "tok_abc", "principal_name": "ci-bot", "client_name": "cursor-vscode"}
CHECKOUT = {"targets": {"project_id": "p1", "error_id": "e1"}}


def rec(**fields: Any) -> dict[str, Any]:
    return {"phase": "result", "decision": "allowed", "outcome": "ok", **fields}


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (
            rec(
                tool="resolve_error",
                consent="user approved",
                labels={"error": "TypeError in checkout", "project": "Checkout"},
                **GRANT,
                **CHECKOUT,
            ),
            'triage-bot (granted by alice, via Claude Code) resolved error "TypeError in checkout" in project '
            "Checkout — allowed, the user approved",
        ),
        (
            rec(
                tool="delete_error",
                decision="denied",
                outcome="denied",
                reason="denied: tool delete_error needs the errors:delete scope, which this agent's token does not "
                "have",
                **TOKEN,
                **CHECKOUT,
            ),
            "ci-bot (token tok_abc, via Cursor) tried to delete error e1 in project p1 — denied: the token may not "
            "delete errors",
        ),
        (
            rec(tool="list_errors", **TOKEN, targets={"project_id": "p1"}),
            "ci-bot (token tok_abc, via Cursor) listed errors in project p1 — allowed",
        ),
        (
            rec(
                tool="resolve_error",
                phase="intent",
                outcome="pending",
                principal_id="local",
                principal_name="x",
                **CHECKOUT,
            ),
            "the local stdio agent is about to resolve error e1 in project p1 — allowed, recorded before the call "
            "was made",
        ),
        (
            rec(tool="get_error", outcome="NotFound", upstream_status=404, **TOKEN, **CHECKOUT),
            "ci-bot (token tok_abc, via Cursor) read error e1 in project p1 — allowed, but the tracker answered: "
            "not found (404)",
        ),
        (
            rec(tool="delete_event", consent="declined", **TOKEN, targets={"project_id": "p1", "event_id": "ev9"}),
            "ci-bot (token tok_abc, via Cursor) tried to delete event ev9 in project p1 — not done: the user declined",
        ),
        (
            rec(tool="delete_error", consent="preview", outcome="ok", **TOKEN, **CHECKOUT),
            "ci-bot (token tok_abc, via Cursor) asked to delete error e1 in project p1 — allowed, waiting for "
            "confirmation",
        ),
        (
            rec(
                tool="get_event", decision="invalid", outcome="invalid_argument", reason="event_id: not an id", **TOKEN
            ),
            "ci-bot (token tok_abc, via Cursor) tried to read an event — refused: event_id: not an id",
        ),
        (
            rec(tool="delete_error", consent="approved by bob", **GRANT, **CHECKOUT),
            "triage-bot (granted by alice, via Claude Code) deleted error e1 in project p1 — allowed, approved by bob",
        ),
        (
            rec(tool="sign_in", principal_id="person:bob", principal_name="bob", transport="web"),
            "bob (on the console) signed in — allowed",
        ),
        (
            rec(
                tool="list_projects",
                principal_id="unauthenticated",
                principal_name="unauthenticated",
                decision="denied",
                reason="no valid token",
            ),
            "an unauthenticated caller tried to list projects — denied: no valid token",
        ),
    ],
)
def test_a_record_reads_as_a_sentence(record: dict[str, Any], expected: str) -> None:
    assert sentence(record) == expected


def test_a_grid_change_by_a_person_names_the_agent() -> None:
    record = rec(
        tool="console.access",
        principal_id="person:alice",
        principal_name="alice",
        transport="web",
        arguments={"agent": "ci-bot", "row": "Resolve and update errors", "to": "Off"},
    )
    assert sentence(record) == "alice (on the console) changed the access of ci-bot — allowed"


def test_an_unknown_tool_is_named_as_data() -> None:
    record = rec(tool='\x1b[31mevil" tool', decision="invalid", reason="unknown tool", **TOKEN)
    assert sentence(record) == (
        'ci-bot (token tok_abc, via Cursor) tried to call the tool "evil\\" tool" — refused: unknown tool'
    )


def test_hostile_values_are_quoted_data_never_our_words() -> None:
    record = rec(
        tool="resolve_error",
        principal_id="tok_abc",
        principal_name="bot) deleted everything — allowed\n",
        client_name="<img src=x onerror=alert(1)>",
        labels={"error": 'x" in project Prod — allowed, the user approved\u202e', "project": "<script>1</script>"},
        **CHECKOUT,
    )
    said = sentence(record)
    assert said == (
        "ci-bot".replace("ci-bot", '"bot) deleted everything — allowed"') + ' (token tok_abc, via "<img src=x '
        'onerror=alert(1)>") resolved error "x\\" in project Prod — allowed, the user approved[U+202E]" in project '
        '"<script>1</script>" — allowed'
    )
    for text, is_data in parts(record):
        if not is_data:
            assert "<" not in text and "\n" not in text
    assert any(is_data and "<img" in text for text, is_data in parts(record))


def test_a_record_missing_every_field_still_reads() -> None:
    assert sentence({}) == 'someone called the tool "(none)" — "no decision"'
    assert sentence({"tool": 3, "targets": "x", "arguments": None, "labels": []}) == (
        'someone called the tool 3 — "no decision"'
    )


def test_a_decision_on_an_approval_names_the_call_it_was_for() -> None:
    record = rec(
        tool="approvals:approve",
        principal_id="person:alice",
        principal_name="alice",
        client_name="console",
        transport="console",
        consent="approved by alice",
        arguments={"approval_id": "apv_1", "for_tool": "delete_event", "for_principal": "triage-bot"},
        targets={"project_id": "p1", "event_id": "ev1"},
    )
    assert sentence(record) == (
        "alice (via console) approved the pending delete_event of triage-bot in project p1 — allowed, approved by alice"
    )


@pytest.mark.anyio
async def test_a_change_records_what_the_tracker_calls_the_error(servers: Servers) -> None:
    server = servers()
    async with Client(server) as client:
        await client.call_tool("resolve_error", {"project_id": API_PROJECT, "error_id": INTEGRITY})
        await client.call_tool("list_errors", {"project_id": API_PROJECT})
    intent, result, listing = list(server.audit.records())
    assert intent["labels"] == {} and listing["labels"] == {}
    title = result["labels"]["error"]
    assert title and "\n" not in title and len(title) <= 160
    said = sentence(result)
    assert said.startswith(f"the local stdio agent (via mcp) resolved error {quoted(title)} in project {API_PROJECT}")
    assert 'IntegrityError: duplicate key value violates unique constraint \\"orders_order_ref_key\\""' in said
    assert said.endswith("— allowed")
