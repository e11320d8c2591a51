"""The simulator behaves like the real API where it differs from its spec (bugsnag-api.md section 10)."""

from __future__ import annotations

import ast
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from bugwarden.sandbox.bugsnag_app import create_bugsnag_app
from bugwarden.sandbox.bugsnag_seed import ADMIN_TOKEN, GLOBEX_TOKEN, READONLY_TOKEN
from bugwarden.sandbox.faults import Control
from tests.conftest import API_PROJECT, WEB_PROJECT

pytestmark = pytest.mark.anyio

AUTH = {"Authorization": f"token {ADMIN_TOKEN}"}


@pytest.fixture
async def http(sandbox: Starlette):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox), base_url="http://sb.test") as c:
        yield c


async def test_requests_without_a_token_get_401(http: httpx.AsyncClient) -> None:
    r = await http.get("/user/organizations")
    assert r.status_code == 401 and "errors" in r.json()


async def test_invisible_resources_are_404_never_403(http: httpx.AsyncClient) -> None:
    r = await http.get(f"/projects/{API_PROJECT}", headers={"Authorization": f"token {GLOBEX_TOKEN}"})
    assert r.status_code == 404 and r.json() == {"errors": ["Project not found"]}


async def test_role_failures_are_403_with_code_40000(http: httpx.AsyncClient) -> None:
    r = await http.patch(
        f"/projects/{API_PROJECT}", json={"name": "x"}, headers={"Authorization": f"token {READONLY_TOKEN}"}
    )
    assert r.status_code == 403 and r.json()["code"] == 40000


async def test_real_status_codes(http: httpx.AsyncClient) -> None:
    org = (await http.get("/user/organizations", headers=AUTH)).json()[0]["id"]
    created = await http.post(f"/organizations/{org}/projects", json={"name": "New", "type": "js"}, headers=AUTH)
    assert created.status_code == 200
    saved = await http.post(
        "/saved_searches",
        headers=AUTH,
        json={"project_id": API_PROJECT, "name": "S", "filters": {}, "project_default": False},
    )
    assert saved.status_code == 201
    events = (await http.get(f"/projects/{API_PROJECT}/events", headers=AUTH)).json()
    deleted = await http.delete(f"/projects/{API_PROJECT}/events/{events[0]['id']}", headers=AUTH)
    assert deleted.status_code == 204 and deleted.content == b""


async def test_trends_live_at_trend_singular(http: httpx.AsyncClient) -> None:
    assert (await http.get(f"/projects/{API_PROJECT}/trend", headers=AUTH)).status_code == 200
    assert (await http.get(f"/projects/{API_PROJECT}/trends", headers=AUTH)).status_code == 404


async def test_full_events_use_snake_case_and_summaries_camel_case(http: httpx.AsyncClient) -> None:
    summary = (await http.get(f"/projects/{API_PROJECT}/events", headers=AUTH)).json()[0]
    assert "errorClass" in summary["exceptions"][0] and "stacktrace" not in summary["exceptions"][0]
    assert "error_class" not in summary
    full = (await http.get(f"/projects/{API_PROJECT}/events/{summary['id']}", headers=AUTH)).json()
    assert "error_class" in full["exceptions"][0] and "line_number" in full["exceptions"][0]["stacktrace"][0]


async def test_pagination_uses_absolute_next_links_and_total_count(http: httpx.AsyncClient) -> None:
    r = await http.get(f"/projects/{API_PROJECT}/errors?per_page=2", headers=AUTH)
    assert r.headers["X-Total-Count"] == "7"
    link = r.headers["Link"]
    assert link.startswith("<http://sb.test/projects/") and link.endswith('>; rel="next"')
    assert "offset=" in link and "base=" in link and "per_page=2" in link
    releases = await http.get(f"/projects/{API_PROJECT}/releases", headers=AUTH)
    assert len(releases.json()) == 5 and "offset=5" in releases.headers["Link"]
    clamped = await http.get(f"/projects/{API_PROJECT}/releases?per_page=50", headers=AUTH)
    assert len(clamped.json()) == 10


async def test_filters_semantics(http: httpx.AsyncClient) -> None:
    def ids(r: httpx.Response) -> set[str]:
        return {e["status"] for e in r.json()}

    base = f"/projects/{API_PROJECT}/errors?per_page=100"
    eq_or = (
        base + "&filters[error.status][][type]=eq&filters[error.status][][value]=open"
        "&filters[error.status][][type]=eq&filters[error.status][][value]=snoozed"
    )
    assert ids(await http.get(eq_or, headers=AUTH)) == {"open", "snoozed"}
    ne_and = (
        base + "&filters[error.status][][type]=ne&filters[error.status][][value]=open"
        "&filters[error.status][][type]=ne&filters[error.status][][value]=snoozed"
    )
    assert ids(await http.get(ne_and, headers=AUTH)) == {"for_review"}
    unknown = await http.get(base + "&filters[error.class][][type]=eq&filters[error.class][][value]=x", headers=AUTH)
    assert len(unknown.json()) == 7  # unknown fields are ignored, as the real API does
    indexed = await http.get(
        base + "&filters[error.status][0][type]=eq&filters[error.status][0][value]=open", headers=AUTH
    )
    assert indexed.status_code == 400
    recent = await http.get(base + "&filters[event.since][][type]=eq&filters[event.since][][value]=5h", headers=AUTH)
    assert 0 < len(recent.json()) < 7
    bad_time = await http.get(
        base + "&filters[event.since][][type]=eq&filters[event.since][][value]=yesterday", headers=AUTH
    )
    assert bad_time.status_code == 400


async def test_rate_limit_headers_and_429() -> None:
    now = [0.0]
    app = create_bugsnag_app(control=Control(rate_limit=3, clock=lambda: now[0]))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sb.test") as c:
        rs = [await c.get(f"/projects/{WEB_PROJECT}", headers=AUTH) for _ in range(4)]
        assert [r.status_code for r in rs] == [200, 200, 200, 429]
        assert rs[0].headers["X-RateLimit-Limit"] == "3" and rs[2].headers["X-RateLimit-Remaining"] == "0"
        assert rs[3].headers["Retry-After"] == "60"
        now[0] = 61
        assert (await c.get(f"/projects/{WEB_PROJECT}", headers=AUTH)).status_code == 200


def test_the_sandbox_shares_no_code_with_the_adapters() -> None:
    """A shared misunderstanding of the API must not be able to pass the contract tests."""
    root = Path(__file__).parents[2] / "src" / "bugwarden" / "sandbox"
    for path in root.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                module = ("." * node.level) + (node.module or "")
                assert not module.startswith(("..", "bugwarden.")), f"{path.name} imports {module}"
