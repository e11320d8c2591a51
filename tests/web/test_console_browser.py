"""The console in a real headless Chromium, driven by the pages' labels as a team lead would: records of calls just
made with their sentences, a Tool filter, a record appearing live, an access row turned Off and a revocation that
the agent's next call meets, hostile records shown as text, no team pages without --admin, no POST without CSRF.

With BUGWARDEN_SCREENSHOTS=DIR set, the pages are also saved there as PNGs (the README's pictures come from it)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult
from starlette.applications import Starlette

from bugwarden.guard.audit import AuditLog
from bugwarden.guard.tokens import TokenStore
from bugwarden.sandbox.bugsnag_seed import oid
from tests.browser import Chromium
from tests.conftest import API_PROJECT
from tests.web.helpers import PASSWORD, Site, site

pytestmark = pytest.mark.anyio
INTEGRITY = "ec0d6c73fe01b5443e71589e"
RESOLVE = {"project_id": API_PROJECT, "error_id": INTEGRITY}
HOSTILE = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>'
SHOTS = os.environ.get("BUGWARDEN_SCREENSHOTS")


@asynccontextmanager
async def agent(url: str, secret: str, name: str = "claude-code") -> AsyncIterator[Client]:
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {secret}"}, timeout=httpx2.Timeout(30, read=60)) as http,
        Client(streamable_http_client(f"{url}/mcp", http_client=http)) as client,
    ):
        yield client


async def call(url: str, secret: str, tool: str, arguments: dict[str, Any]) -> CallToolResult:
    async with agent(url, secret) as client:
        return await client.call_tool(tool, arguments)


def in_another_thread(fn: Any, *args: Any) -> Any:
    """Run an async function to its end from the browser's thread (whose own event loop Playwright holds)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(anyio.run, fn, *args).result()


def text_of(result: CallToolResult) -> str:
    return "".join(getattr(c, "text", "") for c in result.content)


def sign_in(page: Any, s: Site, name: str) -> None:
    page.goto(f"{s.url}/signin?next=/console")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def shot(page: Any, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.set_viewport_size({"width": 1280, "height": 800})
        page.screenshot(path=str(Path(SHOTS) / f"console-{name}.png"))


async def test_a_team_lead_reads_filters_and_watches_the_log_live(
    sandbox: Starlette, home: Path, chromium: Chromium
) -> None:
    async with site(sandbox, home) as s:
        s.add_person("lead", bundle="admin", admin=True)
        info, secret = TokenStore(s.store.tokens).create("triage-bot", "triage")
        assert not (await call(s.url, secret, "list_projects", {})).is_error
        assert not (await call(s.url, secret, "resolve_error", RESOLVE)).is_error
        AuditLog(s.store.audit).append(
            {
                "tool": "get_error",
                "decision": "allowed",
                "phase": "result",
                "outcome": "ok",
                "principal_id": "tok_x",
                "principal_name": "mallory",
                "client_name": HOSTILE,
                "labels": {"error": HOSTILE},
                "targets": {"project_id": API_PROJECT, "error_id": "e1"},
            }
        )

        def read_filter_and_watch(page: Any) -> dict[str, Any]:
            sign_in(page, s, "lead")
            page.wait_for_url("**/console/audit")
            table = page.get_by_role("table", name="Audit records, newest first")
            seen: dict[str, Any] = {"all": table.inner_text()}
            seen["banner"] = page.get_by_role("status").first.inner_text()
            shot(page, "audit")
            page.get_by_label("Tool").fill("resolve_error")
            page.get_by_role("button", name="Filter").click()
            page.wait_for_url("**tool=resolve_error**")
            seen["filtered"] = table.inner_text()
            page.get_by_label("Tool").fill("")
            page.get_by_role("button", name="Filter").click()
            page.wait_for_url("**/console/audit?**")
            in_another_thread(call, s.url, secret, "list_errors", {"project_id": API_PROJECT})  # while we watch
            hostile = AuditLog(s.store.audit).append(  # and a hostile record arriving through the live view
                {
                    "tool": HOSTILE,
                    "decision": "invalid",
                    "phase": "result",
                    "principal_name": HOSTILE,
                    "client_name": HOSTILE,
                    "reason": HOSTILE,
                }
            )
            page.locator(f'tr[data-seq="{hostile}"]').first.wait_for()
            seen["live"] = table.inner_text()
            seen["pwned"] = page.evaluate("() => window.pwned === undefined ? null : window.pwned")
            return seen

        seen = await chromium.arun(read_filter_and_watch)
        assert (
            "triage-bot (token " + info.id + ', via mcp) resolved error "django.db.utils.IntegrityError: '
            in seen["all"]
        )
        assert "listed projects — allowed" in seen["all"]
        assert seen["banner"].startswith("Chain verified up to record")
        assert "resolve_error" in seen["filtered"] and "list_projects" not in seen["filtered"]
        # the project by the name its tracker gives it (the page listed the projects when it loaded)
        assert "triage-bot (token " + info.id + ', via mcp) listed errors in project "Api Server"' in seen["live"]
        assert HOSTILE in seen["all"], "the hostile text is shown as text"
        assert seen["pwned"] is None, "no injected handler or script ran"


async def test_turning_a_row_off_and_revoking_reach_the_agents_next_call(
    sandbox: Starlette, home: Path, chromium: Chromium
) -> None:
    async with site(sandbox, home) as s:
        s.add_person("lead", bundle="admin", admin=True)
        info, secret = TokenStore(s.store.tokens).create("triage-bot", "triage")
        assert not (await call(s.url, secret, "resolve_error", RESOLVE)).is_error

        def turn_off(page: Any) -> None:
            sign_in(page, s, "lead")
            page.get_by_role("link", name="Agents").click()
            shot(page, "agents")
            page.get_by_role("link", name="triage-bot").click()
            page.get_by_label("Resolve and update errors").select_option("Off")
            page.get_by_role("button", name="Save").click()
            page.get_by_role("status").filter(has_text="Saved.").wait_for()
            shot(page, "agent")

        await chromium.arun(turn_off)
        refused = await call(s.url, secret, "resolve_error", RESOLVE)
        assert refused.is_error and "errors:write" in text_of(refused)
        assert not (await call(s.url, secret, "list_errors", {"project_id": API_PROJECT})).is_error

        def revoke(page: Any) -> str:
            sign_in(page, s, "lead")
            page.goto(f"{s.url}/console/agents/{info.id}")
            page.get_by_role("button", name="Revoke").click()
            page.get_by_role("heading", name="Revoke triage-bot?").wait_for()
            page.get_by_role("button", name="Revoke").click()
            page.wait_for_url(f"**/console/agents/{info.id}")
            return str(page.locator("main").inner_text())

        after = await chromium.arun(revoke)
        assert "state: revoked" in after
        with pytest.raises(Exception):  # noqa: B017 - the HTTP layer refuses the revoked token (401)
            await call(s.url, secret, "list_errors", {"project_id": API_PROJECT})
        tools = [(r["tool"], r["principal_name"]) for r in s.audit() if r["tool"].startswith("console.")]
        assert tools == [("console.access", "lead"), ("console.revoke", "lead")]


async def test_no_team_pages_without_admin_and_no_post_without_csrf(
    sandbox: Starlette, home: Path, chromium: Chromium
) -> None:
    async with site(sandbox, home) as s:
        s.add_person("dev", bundle="triage")
        s.add_person("lead", bundle="admin", admin=True)
        info, _ = TokenStore(s.store.tokens).create("ci", "read")

        def as_dev(page: Any) -> tuple[str, int | None, list[str]]:
            sign_in(page, s, "dev")
            page.wait_for_url("**/console/agents")
            links = page.get_by_role("navigation", name="Console").get_by_role("link").all_inner_texts()
            answer = page.goto(f"{s.url}/console/audit")
            return page.locator("body").inner_text(), answer.status if answer else None, links

        body, status, links = await chromium.arun(as_dev)
        assert status == 403 and "--admin" in body and links == ["Agents"]

        def forged_post(page: Any) -> int:
            sign_in(page, s, "lead")
            page.goto(f"{s.url}/console/agents/{info.id}")
            return int(
                page.evaluate(
                    """async (id) => (await fetch('/console/agents/' + id + '/revoke',
                         {method: 'POST', body: new URLSearchParams({confirm: 'yes'})})).status""",
                    info.id,
                )
            )

        assert await chromium.arun(forged_post) == 403
        assert TokenStore(s.store.tokens).get(info.id).state() == "active"


async def test_approving_makes_the_change_exactly_once_and_rejecting_refuses_it(
    sandbox: Starlette, home: Path, chromium: Chromium
) -> None:
    error = oid("error", "api-server", "0")
    first, second = oid("event", error, "0"), oid("event", error, "1")
    async with site(sandbox, home, settings={"toolsets": "all"}) as s:
        s.add_person("lead", bundle="admin", admin=True)
        _, secret = TokenStore(s.store.tokens).create("cleanup-bot", "admin")
        waiting = await call(s.url, secret, "delete_event", {"project_id": API_PROJECT, "event_id": first})
        assert "waits for a person's approval" in text_of(waiting) and f"{s.url}/console/approvals" in text_of(waiting)
        other = await call(s.url, secret, "delete_event", {"project_id": API_PROJECT, "event_id": second})
        ids = [waiting.structured_content["approval_id"], other.structured_content["approval_id"]]

        def decide(page: Any) -> str:
            sign_in(page, s, "lead")
            page.get_by_role("link", name="Approvals").click()
            shot(page, "approvals")
            page.locator(f'tr[data-approval="{ids[0]}"]').get_by_role("button", name="Approve").click()
            page.get_by_role("status").filter(has_text="Done.").wait_for()
            page.locator(f'tr[data-approval="{ids[1]}"]').get_by_role("button", name="Reject").click()
            page.get_by_role("status").filter(has_text="Done.").wait_for()
            return str(page.locator("main").inner_text())

        page_text = await chromium.arun(decide)
        assert "Nothing is waiting." in page_text
        done = await call(s.url, secret, "delete_event", {"project_id": API_PROJECT, "event_id": first})
        assert not done.is_error and "approved by lead" in text_of(done)
        again = await call(s.url, secret, "delete_event", {"project_id": API_PROJECT, "event_id": first})
        assert "waits for a person's approval" in text_of(again), "an approval counts once"
        refused = await call(s.url, secret, "delete_event", {"project_id": API_PROJECT, "event_id": second})
        assert refused.is_error and "(lead) rejected this change" in text_of(refused)
        deletes = [r.path for r in sandbox.state.control.log if r.method == "DELETE"]
        assert deletes == [f"/projects/{API_PROJECT}/events/{first}"]
        decided = [(r["tool"], r["principal_name"]) for r in s.audit() if r["tool"].startswith("approvals:")]
        assert ("approvals:approve", "lead") in decided and ("approvals:reject", "lead") in decided
