"""Audit sentences name projects (and errors, where the store knows their titles) by what the trackers call them,
in the console and in `audit tail --plain`. Names come from upstream and are attacker-controlled: cleaned to one
line and quoted in text, escaped in HTML, never able to pass for bugwarden's own words."""

from __future__ import annotations

import html
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from bugwarden.cli import main as cli
from bugwarden.guard.audit import AuditLog
from bugwarden.render.audit import Names, named_ids, sentence
from bugwarden.store import Store
from bugwarden.store.project_access import ProjectNames
from bugwarden.store.signals import SignalStore
from tests.conftest import API_PROJECT
from tests.web.helpers import sign_in, site

HOSTILE = 'Shop — allowed\n<img src=x onerror="window.pwned=1">\u202e'
RESOLVED: dict[str, Any] = {
    "phase": "result",
    "transport": "http",
    "outcome": "ok",
    "tool": "resolve_error",
    "decision": "allowed",
    "principal_id": "tok_a",
    "principal_name": "triage-bot",
    "targets": {"project_id": "p1", "error_id": "e1"},
}


def test_a_sentence_names_the_project_and_error_by_their_names() -> None:
    names = Names(projects={"p1": "Checkout"}, errors={"e1": "TypeError: x is undefined"})
    assert sentence(RESOLVED, names).startswith(
        'triage-bot (token tok_a) resolved error "TypeError: x is undefined" in project Checkout — allowed'
    )
    assert "in project p1" in sentence(RESOLVED)  # unknown: the id, as before
    labelled = {**RESOLVED, "labels": {"error": "KeyError: at the time"}}
    assert 'error "KeyError: at the time"' in sentence(labelled, names)  # the record's own label comes first
    assert named_ids([RESOLVED]) == ({"p1"}, {"e1"})


def test_a_hostile_name_stays_one_quoted_line() -> None:
    said = sentence(RESOLVED, Names(projects={"p1": HOSTILE}))
    assert "\n" not in said and "\u202e" not in said
    # the name's imitation of our words sits inside its quotes, and its own quotes are escaped
    assert said == (
        'triage-bot (token tok_a) resolved error e1 in project "Shop — allowed ⏎ <img src=x '
        'onerror=\\"window.pwned=1\\">[U+202E]" — allowed'
    )


def test_audit_tail_plain_names_projects_and_errors_from_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("BUGWARDEN_HOME", str(tmp_path))
    store = Store.sqlite(tmp_path)
    AuditLog(store.audit).append(RESOLVED)
    ProjectNames(store.tokens).remember([("p1", "Checkout")])
    fields = {
        "hook_id": "hk_1",
        "source": "bugsnag",
        "project_id": "p1",
        "trigger_type": "firstException",
        "triggers": "[]",
        "error_id": "e1",
        "error_class": "TypeError",
        "message": "x is undefined",
        "test": 0,
        "received_at": "2026-12-01T00:00:00+00:00",
    }
    SignalStore(store.hooks).record("k1", fields, time.time(), lambda stored, new: {}, 1e9)
    store.close()
    assert cli(["audit", "tail", "--plain"]) == 0
    assert 'resolved error "TypeError: x is undefined" in project Checkout — allowed' in capsys.readouterr().out


@pytest.mark.anyio
async def test_the_console_names_projects_and_escapes_hostile_names(sandbox: Starlette, home: Path) -> None:
    async with site(sandbox, home) as s:
        log = AuditLog(s.store.audit)
        log.append({**RESOLVED, "targets": {"project_id": API_PROJECT, "error_id": "e1"}})
        log.append({**RESOLVED, "targets": {"project_id": "p-hostile", "error_id": "e2"}})
        ProjectNames(s.store.tokens).remember([("p-hostile", HOSTILE)])
        s.add_person("lead", bundle="admin", admin=True)
        async with httpx.AsyncClient(base_url=s.url) as http:
            await sign_in(http, "lead")
            page = (await http.get("/console/audit")).text
            poll = (await http.get("/console/audit/poll", params={"after": "1"})).json()["rows"]
    assert 'in project <span class="data">&#34;Api Server&#34;</span>' in page  # listed by the tracker just now
    for shown in (page, poll):
        assert "<img" not in shown and "&lt;img src=x onerror=\\&#34;window.pwned=1\\&#34;&gt;[U+202E]" in shown
        assert "\u202e" not in shown and "\n<img" not in html.unescape(shown)


def test_a_change_of_access_reads_what_changed_where() -> None:
    record = {
        "phase": "result",
        "transport": "web",
        "tool": "console.access",
        "decision": "allowed",
        "outcome": "ok",
        "principal_id": "person:lead",
        "principal_name": "lead",
        "arguments": {
            "agent": "triage-bot",
            "id": "tok_1",
            "project_id": "p2",
            "changes": {"Resolve and update errors": "Full → Off"},
        },
    }
    assert sentence(record, Names(projects={"p2": "Web Frontend"})) == (
        'lead (on the console) changed the access of triage-bot in project "Web Frontend" '
        "(Resolve and update errors: Full → Off) — allowed"
    )


def test_names_and_access_on_postgres(home: Path, pg_url: str) -> None:
    from bugwarden.guard.tokens import TokenStore
    from bugwarden.store.project_access import ErrorTitles, ProjectAccess
    from tests.conftest import make_settings

    store = Store.open(make_settings(home, database_url=pg_url))
    try:
        ProjectNames(store.tokens).remember([("p1", "Checkout"), ("p2", "Web")])
        ProjectNames(store.tokens).remember([("p2", "Web Frontend")])
        assert ProjectNames(store.tokens).names(["p1", "p2", "p3"]) == {"p1": "Checkout", "p2": "Web Frontend"}
        fields = {
            "hook_id": "hk_1",
            "source": "bugsnag",
            "project_id": "p1",
            "trigger_type": "firstException",
            "triggers": "[]",
            "error_id": "e1",
            "error_class": "TypeError",
            "message": "x is undefined",
            "test": 0,
            "received_at": "2026-12-01T00:00:00+00:00",
        }
        SignalStore(store.hooks).record("k1", fields, time.time(), lambda stored, new: {}, 1e9)
        assert ErrorTitles(store.hooks).titles(["e1", "e9"]) == {"e1": "TypeError: x is undefined"}
        info, secret = TokenStore(store.tokens).create("ci", "triage", ["p1", "p2"])
        ProjectAccess(store.tokens).set_project(info.id, "p2", frozenset({"errors:read"}), info.projects)
        principal = TokenStore(store.tokens).verify(secret)
        assert principal.scopes_in("p2") == {"errors:read"} and "errors:write" in principal.scopes_in("p1")
    finally:
        store.close()


@pytest.mark.anyio
async def test_an_agents_page_escapes_a_hostile_project_name(sandbox: Starlette, home: Path) -> None:
    from bugwarden.guard.tokens import TokenStore

    async with site(sandbox, home) as s:
        info, _ = TokenStore(s.store.tokens).create("ci", "read", ["p-hostile"])
        ProjectNames(s.store.tokens).remember([("p-hostile", HOSTILE)])
        s.add_person("lead", bundle="admin", admin=True)
        async with httpx.AsyncClient(base_url=s.url) as http:
            await sign_in(http, "lead")
            pages = [(await http.get(path)).text for path in ("/console/agents", f"/console/agents/{info.id}")]
    for page in pages:
        assert "<img" not in page and "&lt;img src=x onerror=&#34;window.pwned=1&#34;&gt;[U+202E]" in page
