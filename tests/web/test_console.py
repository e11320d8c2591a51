"""The console over HTTP: the Audit page (filters, sentences, live poll, chain banner, download), the Agents pages
(grid, revoke, a new token's secret shown once), who may see what, CSRF and the security headers."""

from __future__ import annotations

import html
import json
import re
import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from bugwarden.cli import main as cli
from bugwarden.guard.audit import AuditLog
from bugwarden.guard.tokens import TokenStore
from bugwarden.store.oauth import OAuthRepository
from bugwarden.web.chain_watch import watch_for
from tests.web.helpers import Site, csrf_of, sign_in, site

pytestmark = pytest.mark.anyio
HOSTILE = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>'


def visible(page: str) -> str:
    """The page's text as a reader sees it (tags dropped, entities decoded)."""
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def seed(s: Site) -> None:
    log = AuditLog(s.store.audit)
    base: dict[str, Any] = {"phase": "result", "transport": "http", "outcome": "ok"}
    log.append(
        {
            **base,
            "tool": "list_errors",
            "decision": "allowed",
            "principal_id": "tok_a",
            "principal_name": "ci",
            "targets": {"project_id": "p1"},
        }
    )
    log.append(
        {
            **base,
            "tool": "delete_error",
            "decision": "denied",
            "outcome": "denied",
            "principal_id": "tok_a",
            "principal_name": "ci",
            "reason": "denied: tool delete_error needs the errors:delete scope",
            "targets": {"project_id": "p1", "error_id": "e1"},
        }
    )
    log.append(
        {
            **base,
            "tool": "get_error",
            "decision": "allowed",
            "principal_id": "tok_b",
            "principal_name": "hostile",
            "client_name": HOSTILE,
            "labels": {"error": HOSTILE},
            "targets": {"project_id": "p1", "error_id": "e2"},
        }
    )


async def admin_client(s: Site) -> httpx.AsyncClient:
    s.add_person("lead", bundle="admin", admin=True)
    http = httpx.AsyncClient(base_url=s.url)
    assert (await sign_in(http, "lead")).status_code == 303
    return http


async def test_the_audit_page_lists_records_newest_first_with_their_sentences(sandbox: Starlette, home: Path) -> None:
    async with site(sandbox, home) as s:
        seed(s)
        http = await admin_client(s)
        page = await http.get("/console/audit")
        assert page.status_code == 200
        text = page.text
        assert text.index('data-seq="4"') < text.index('data-seq="3"') < text.index('data-seq="1"')  # 4: sign-in
        said = visible(text)
        assert (
            "ci (token tok_a) tried to delete error e1 in project p1 — denied: the token may not delete errors" in said
        )
        assert "Chain verified up to record 4." in text
        assert "<img" not in text and "<script>window" not in text and "&lt;img src=x onerror=" in text
        csp = page.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
        filtered = await http.get("/console/audit", params={"tool": "delete_error"})
        assert 'data-seq="2"' in filtered.text and 'data-seq="1"' not in filtered.text
        assert 'value="delete_error"' in filtered.text
        bad = await http.get("/console/audit", params={"since": "last week"})
        assert bad.status_code == 200 and "is not a time" in bad.text
        await http.aclose()


async def test_pages_follow_by_cursor(sandbox: Starlette, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bugwarden.web import console_audit

    monkeypatch.setattr(console_audit, "PAGE_SIZE", 2)
    async with site(sandbox, home) as s:
        seed(s)
        http = await admin_client(s)
        first = await http.get("/console/audit")
        assert 'data-seq="4"' in first.text and 'data-seq="2"' not in first.text
        older = first.text.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
        second = await http.get(older)
        assert 'data-seq="2"' in second.text and 'data-seq="1"' in second.text and 'data-seq="4"' not in second.text
        assert "data-poll" not in second.text, "the live view runs on the newest page only"
        await http.aclose()


async def test_the_live_poll_sends_only_new_matching_rows_escaped(sandbox: Starlette, home: Path) -> None:
    async with site(sandbox, home) as s:
        seed(s)
        http = await admin_client(s)
        nothing = (await http.get("/console/audit/poll", params={"after": 4})).json()
        assert nothing == {"rows": "\n", "count": 0, "after": 4} or nothing["count"] == 0
        AuditLog(s.store.audit).append({"tool": "resolve_error", "decision": "allowed", "principal_name": HOSTILE})
        AuditLog(s.store.audit).append({"tool": "list_errors", "decision": "allowed", "principal_name": "x"})
        new = (await http.get("/console/audit/poll", params={"after": 4, "tool": "resolve_error"})).json()
        assert new["count"] == 1 and new["after"] == 6 and 'data-seq="5"' in new["rows"]
        assert "<img" not in new["rows"] and "&lt;img" in new["rows"]
        await http.aclose()


async def test_the_download_is_what_audit_export_writes(
    sandbox: Starlette, home: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    async with site(sandbox, home) as s:
        seed(s)
        http = await admin_client(s)
        answer = await http.get("/console/audit/export", params={"who": "tok_a", "since": "7d"})
        assert answer.headers["content-type"].startswith("application/jsonl")
        assert "attachment" in answer.headers["content-disposition"]
        await http.aclose()
    monkeypatch.setenv("BUGWARDEN_HOME", str(home))
    assert cli(["audit", "export", "--who", "tok_a", "--since", "7d"]) == 0
    assert answer.text == capsys.readouterr().out
    assert [json.loads(line)["seq"] for line in answer.text.splitlines()] == [1, 2]


async def test_the_banner_names_the_first_broken_record(sandbox: Starlette, home: Path) -> None:
    async with site(sandbox, home) as s:
        seed(s)
        http = await admin_client(s)
        db = sqlite3.connect(home / "audit.sqlite3")
        db.execute("UPDATE audit SET record = replace(record, 'list_errors', 'list_projects') WHERE seq = 1")
        db.commit()
        db.close()
        watch_for(s.server.audit).ttl = 0
        page = await http.get("/console/audit")
        assert "Chain broken at record 1: hash mismatch (the record was edited)" in page.text
        await http.aclose()


async def test_the_grid_changes_access_in_place_and_is_audited(sandbox: Starlette, home: Path) -> None:
    async with site(sandbox, home) as s:
        info, _ = TokenStore(s.store.tokens).create("triage-bot", "triage")
        http = await admin_client(s)
        page = await http.get(f"/console/agents/{info.id}")
        assert "Resolve and update errors" in page.text
        saved = await http.post(
            f"/console/agents/{info.id}/access",
            data={"csrf": csrf_of(page.text), "Resolve and update errors": "Off", "Read collaborators": "Read"},
        )
        assert saved.status_code == 303
        assert TokenStore(s.store.tokens).get(info.id).scopes == {"errors:read", "projects:read", "collaborators:read"}
        record = s.audit()[-1]
        assert record["tool"] == "console.access" and record["principal_name"] == "lead"
        assert record["arguments"]["changes"] == {
            "Resolve and update errors": "Full → Off",
            "Read collaborators": "Off → Read",
        }
        refused = await http.post(f"/console/agents/{info.id}/access", data={"Resolve and update errors": "Full"})
        assert refused.status_code == 403, "no CSRF token"
        assert "errors:write" not in TokenStore(s.store.tokens).get(info.id).scopes
        await http.aclose()


async def test_a_person_grants_no_more_than_their_own_bundle(sandbox: Starlette, home: Path) -> None:
    async with site(sandbox, home) as s:
        info, _ = TokenStore(s.store.tokens).create("reader", "read")
        s.add_person("small", bundle="read", admin=True)
        async with httpx.AsyncClient(base_url=s.url) as http:
            await sign_in(http, "small")
            page = await http.get(f"/console/agents/{info.id}")
            answer = await http.post(
                f"/console/agents/{info.id}/access",
                data={"csrf": csrf_of(page.text), "Delete or discard errors and events": "Full"},
            )
            assert answer.status_code == 403 and "up to the read bundle" in answer.text
        assert TokenStore(s.store.tokens).get(info.id).scopes == {"errors:read", "projects:read"}


async def test_an_admin_limited_to_projects_changes_only_agents_within_them(sandbox: Starlette, home: Path) -> None:
    async with site(sandbox, home) as s:
        tokens = TokenStore(s.store.tokens)
        everywhere, _ = tokens.create("everywhere", "read")
        elsewhere, _ = tokens.create("elsewhere", "read", ["p2"])
        mine, _ = tokens.create("mine", "read", ["p1"])
        s.add_person("p1lead", bundle="admin", projects=["p1"], admin=True)
        async with httpx.AsyncClient(base_url=s.url) as http:
            await sign_in(http, "p1lead")
            for agent in (everywhere, elsewhere, mine):
                page = await http.get(f"/console/agents/{agent.id}")
                answer = await http.post(
                    f"/console/agents/{agent.id}/access",
                    data={"csrf": csrf_of(page.text), "Resolve and update errors": "Full"},
                )
                expected = 303 if agent is mine else 403
                assert answer.status_code == expected, agent.name
        assert "errors:write" not in tokens.get(everywhere.id).scopes
        assert "errors:write" not in tokens.get(elsewhere.id).scopes
        assert "errors:write" in tokens.get(mine.id).scopes


async def test_revoking_asks_first_then_takes_effect(sandbox: Starlette, home: Path) -> None:
    async with site(sandbox, home) as s:
        info, _ = TokenStore(s.store.tokens).create("ci", "read")
        http = await admin_client(s)
        confirm = await http.get(f"/console/agents/{info.id}/revoke")
        assert "Revoke ci?" in confirm.text and TokenStore(s.store.tokens).get(info.id).state() == "active"
        done = await http.post(
            f"/console/agents/{info.id}/revoke", data={"csrf": csrf_of(confirm.text), "confirm": "yes"}
        )
        assert done.status_code == 303 and TokenStore(s.store.tokens).get(info.id).state() == "revoked"
        assert s.audit()[-1]["tool"] == "console.revoke" and s.audit()[-1]["arguments"]["id"] == info.id
        await http.aclose()


async def test_a_new_token_shows_its_secret_once_and_never_in_the_audit(sandbox: Starlette, home: Path) -> None:
    async with site(sandbox, home) as s:
        http = await admin_client(s)
        page = await http.get("/console/agents")
        made = await http.post(
            "/console/agents", data={"csrf": csrf_of(page.text), "name": "new-bot", "access": "triage", "expires": "7d"}
        )
        assert made.status_code == 200
        secret = made.text.split('id="secret"')[1].split(">")[1].split("<")[0]
        assert secret.startswith("bw_")
        assert TokenStore(s.store.tokens).verify(secret).name == "new-bot"
        assert secret not in (await http.get("/console/agents")).text
        assert secret not in json.dumps(s.audit()) and s.audit()[-1]["tool"] == "console.token_create"
        await http.aclose()


async def test_a_person_without_admin_gets_no_team_pages(sandbox: Starlette, home: Path) -> None:
    async with site(sandbox, home) as s:
        TokenStore(s.store.tokens).create("someone-elses", "read")
        s.add_person("dev", bundle="triage")
        async with httpx.AsyncClient(base_url=s.url) as http:
            await sign_in(http, "dev")
            for path in ("/console/audit", "/console/audit/poll", "/console/audit/export"):
                assert (await http.get(path)).status_code == 403, path
            home_page = await http.get("/console")
            assert home_page.status_code == 303 and home_page.headers["location"] == "/console/agents"
            agents = await http.get("/console/agents")
            assert "someone-elses" not in agents.text and "Create a static token" not in agents.text
            assert 'href="/console/audit"' not in agents.text
        async with httpx.AsyncClient(base_url=s.url) as anonymous:
            answer = await anonymous.get("/console/audit")
            assert answer.status_code == 303 and answer.headers["location"].startswith("/signin?next=")


def grant_for(s: Site, person: str, client: str = "Claude Code") -> tuple[str, str]:
    """An OAuth grant as the authorization server makes one: (grant id, access token)."""
    repo = OAuthRepository(s.store.tokens)
    now = time.time()
    code = repo.save_code("client-1", {}, now, 60)
    issued = repo.issue(
        code,
        person=person,
        client_id="client-1",
        client_name=client,
        scopes=frozenset({"errors:read"}),
        projects=frozenset(),
        expires_at=now + 3600,
        access_lifetime=3600,
        now=now,
    )
    return issued.grant.id, issued.access_token


async def test_a_person_sees_and_revokes_only_their_own_grants(sandbox: Starlette, home: Path) -> None:
    async with site(sandbox, home) as s:
        mine, access = grant_for(s, "dev")
        theirs, _ = grant_for(s, "someone", client="Cursor")
        s.add_person("dev", bundle="triage")
        s.add_person("someone")
        async with httpx.AsyncClient(base_url=s.url) as http:
            await sign_in(http, "dev")
            listing = visible((await http.get("/console/agents")).text)
            assert "Claude Code" in listing and "OAuth grant" in listing and "Cursor" not in listing
            assert (await http.get(f"/console/agents/{theirs}")).status_code == 404
            page = await http.get(f"/console/agents/{mine}/revoke")
            assert (
                await http.post(f"/console/agents/{theirs}/revoke", data={"csrf": csrf_of(page.text), "confirm": "yes"})
            ).status_code == 404
            done = await http.post(
                f"/console/agents/{mine}/revoke", data={"csrf": csrf_of(page.text), "confirm": "yes"}
            )
            assert done.status_code == 303
            grid = await http.post(f"/console/agents/{mine}/access", data={"csrf": csrf_of(page.text)})
            assert grid.status_code == 403, "changing access is for admins"
        assert TokenStore(s.store.tokens).get(mine).state() == "revoked"
        assert TokenStore(s.store.tokens).get(theirs).state() == "active"
        record = s.audit()[-1]
        assert record["tool"] == "console.revoke" and record["reason"] == "own grant"
        async with httpx.AsyncClient(base_url=s.url) as mcp:
            refused = await mcp.post("/mcp", headers={"Authorization": f"Bearer {access}"}, json={})
            assert refused.status_code == 401


async def test_the_approvals_page_is_for_admins_and_checks_csrf(sandbox: Starlette, home: Path) -> None:
    async with site(sandbox, home) as s:
        s.add_person("dev")
        async with httpx.AsyncClient(base_url=s.url) as http:
            await sign_in(http, "dev")
            assert (await http.get("/console/approvals")).status_code == 403
        http = await admin_client(s)
        page = await http.get("/console/approvals")
        assert page.status_code == 200 and "Nothing is waiting." in page.text
        assert (await http.post("/console/approvals/apv_nope/approve")).status_code == 403
        unknown = await http.post("/console/approvals/apv_nope/approve", data={"csrf": csrf_of(page.text)})
        assert unknown.status_code == 409 and "apv_nope" in unknown.text
        await http.aclose()
