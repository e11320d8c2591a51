"""The console's access grid per project: an agent limited to projects gets one grid per project; an admin's change
to one project holds from the agent's next call on that project only (the SDK client sees project A allowed and
project B refused), is audited with who changed what where, and shows in the Agents list and `token list`. A
project-limited admin may change and revoke only agents limited to their own projects."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult
from starlette.applications import Starlette

from bugwarden.cli import main as cli
from bugwarden.guard.tokens import TokenStore
from tests.conftest import API_PROJECT, WEB_PROJECT
from tests.snapshot import text_of
from tests.web.helpers import Site, csrf_of, sign_in, site

pytestmark = pytest.mark.anyio
API_ERROR = "ec0d6c73fe01b5443e71589e"
WEB_ERROR = "c8e2d8454039b3318f5cc805"
ON_API = {"project_id": API_PROJECT, "error_id": API_ERROR}
ON_WEB = {"project_id": WEB_PROJECT, "error_id": WEB_ERROR}


async def call(url: str, secret: str, tool: str, arguments: dict[str, str]) -> CallToolResult:
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {secret}"}, timeout=httpx2.Timeout(30, read=60)) as http,
        Client(streamable_http_client(f"{url}/mcp", http_client=http)) as client,
    ):
        return await client.call_tool(tool, arguments)


async def signed_in(s: Site, name: str = "lead", **person: object) -> httpx.AsyncClient:
    s.add_person(name, bundle="admin", admin=True, **person)  # type: ignore[arg-type]
    http = httpx.AsyncClient(base_url=s.url)
    assert (await sign_in(http, name)).status_code == 303
    return http


async def save(http: httpx.AsyncClient, agent_id: str, project: str | None, **rows: str) -> httpx.Response:
    page = await http.get(f"/console/agents/{agent_id}")
    form = {"csrf": csrf_of(page.text), **{name.replace("_", " "): value for name, value in rows.items()}}
    if project is not None:
        form["project"] = project
    return await http.post(f"/console/agents/{agent_id}/access", data=form)


async def test_one_projects_grid_changes_that_project_only(
    sandbox: Starlette, home: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    async with site(sandbox, home) as s:
        info, secret = TokenStore(s.store.tokens).create("triage-bot", "triage", [API_PROJECT, WEB_PROJECT])
        assert not (await call(s.url, secret, "resolve_error", ON_WEB)).is_error
        http = await signed_in(s)
        page = (await http.get(f"/console/agents/{info.id}")).text
        assert page.count('name="Resolve and update errors"') == 2  # one grid per project
        assert "Project Api Server" in page and "Project Web Frontend" in page  # named as the tracker names them
        answer = await save(http, info.id, WEB_PROJECT, Resolve_and_update_errors="Off")
        assert answer.status_code == 303
        allowed = await call(s.url, secret, "resolve_error", ON_API)
        assert not allowed.is_error, text_of(allowed)
        refused = await call(s.url, secret, "resolve_error", ON_WEB)
        assert refused.is_error and "needs the errors:write scope" in text_of(refused)
        assert not (await call(s.url, secret, "get_error", ON_WEB)).is_error  # reading there is still allowed
        record = [r for r in s.audit() if r["tool"] == "console.access"][-1]
        assert record["principal_name"] == "lead" and record["arguments"]["project_id"] == WEB_PROJECT
        assert record["arguments"]["changes"] == {"Resolve and update errors": "Full → Off"}
        listing = (await http.get("/console/agents")).text
        assert 'Web Frontend: <span class="note">errors:read, projects:read</span>' in listing
        await http.aclose()
    monkeypatch.setenv("BUGWARDEN_HOME", str(home))
    assert cli(["token", "list"]) == 0
    table = capsys.readouterr().out
    assert "ACCESS PER PROJECT" in table.splitlines()[0]
    assert f"{WEB_PROJECT}: errors:read,projects:read; {API_PROJECT}: errors:read,errors:write,projects:read" in table
    assert cli(["token", "list", "--json"]) == 0
    shown = {t["id"]: t for t in json.loads(capsys.readouterr().out)}
    assert shown[info.id]["project_scopes"] == {
        API_PROJECT: ["errors:read", "errors:write", "projects:read"],
        WEB_PROJECT: ["errors:read", "projects:read"],
    }


async def test_a_grid_for_a_project_the_agent_is_not_limited_to_is_refused(sandbox: Starlette, home: Path) -> None:
    async with site(sandbox, home) as s:
        info, _ = TokenStore(s.store.tokens).create("triage-bot", "triage", [API_PROJECT])
        http = await signed_in(s)
        answer = await save(http, info.id, WEB_PROJECT, Resolve_and_update_errors="Off")
        await http.aclose()
    assert answer.status_code == 400 and "not one this agent is limited to" in answer.text


async def test_a_project_limited_admin_revokes_only_agents_within_their_projects(
    sandbox: Starlette, home: Path
) -> None:
    async with site(sandbox, home) as s:
        tokens = TokenStore(s.store.tokens)
        everywhere, _ = tokens.create("everywhere", "read")
        elsewhere, _ = tokens.create("elsewhere", "read", [WEB_PROJECT])
        mine, _ = tokens.create("mine", "read", [API_PROJECT])
        http = await signed_in(s, "apilead", projects=[API_PROJECT])
        for agent in (everywhere, elsewhere, mine):
            confirm = await http.get(f"/console/agents/{agent.id}/revoke")
            assert confirm.status_code == (200 if agent is mine else 403), agent.name
            page = await http.get(f"/console/agents/{agent.id}")
            done = await http.post(
                f"/console/agents/{agent.id}/revoke", data={"csrf": csrf_of(page.text), "confirm": "yes"}
            )
            assert done.status_code == (303 if agent is mine else 403), agent.name
        await http.aclose()
        assert tokens.get(everywhere.id).state() == "active" and tokens.get(elsewhere.id).state() == "active"
        assert tokens.get(mine.id).state() == "revoked"


async def test_a_grid_change_at_one_replica_holds_at_the_other_on_postgres(
    sandbox: Starlette, home: Path, pg_url: str
) -> None:
    db = {"database_url": pg_url}
    async with site(sandbox, home, settings=db) as a, site(sandbox, home, settings=db) as b:
        info, secret = TokenStore(a.store.tokens).create("triage-bot", "triage", [API_PROJECT, WEB_PROJECT])
        assert not (await call(b.url, secret, "resolve_error", ON_WEB)).is_error
        http = await signed_in(a)
        assert (await save(http, info.id, WEB_PROJECT, Resolve_and_update_errors="Off")).status_code == 303
        await http.aclose()
        assert not (await call(b.url, secret, "resolve_error", ON_API)).is_error
        refused = await call(b.url, secret, "resolve_error", ON_WEB)
        assert refused.is_error and "needs the errors:write scope" in text_of(refused)
        http = await signed_in(b, "second-lead")
        assert (await save(http, info.id, WEB_PROJECT, Resolve_and_update_errors="Full")).status_code == 303
        await http.aclose()
        assert not (await call(a.url, secret, "resolve_error", ON_WEB)).is_error
