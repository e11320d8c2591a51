"""`GET /` on the HTTP server: what this is and where to connect, for anyone, without a token."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from bugwarden.config import HttpSettings
from bugwarden.home import LINKS, page
from bugwarden.http_app import build_http
from tests.conftest import make_settings

pytestmark = pytest.mark.anyio


async def get(sandbox: Starlette, home: Path, **options: Any) -> httpx.Response:
    """`GET /` on a server built with these HTTP options."""
    server, app = build_http(
        make_settings(home), HttpSettings(**options), backend_transport=httpx.ASGITransport(app=sandbox)
    )
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8000") as http:
            return await http.get("/")
    finally:
        server.close()


async def test_the_root_says_what_this_is_and_where_to_connect(sandbox: Starlette, home: Path) -> None:
    response = await get(sandbox, home, port=8000)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    text = response.text
    assert "This is an <strong>MCP server</strong>" in text
    assert "MCP endpoint (Streamable HTTP): <code>http://127.0.0.1:8000/mcp</code>" in text
    assert "<code>bugwarden connect claude-code --url http://127.0.0.1:8000/mcp</code>" in text
    assert "Authorization: Bearer bw_…" in text and "/console" not in text
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert "sandbox-admin-token" not in text and "sandbox.test" not in text, "no configuration on the page"


async def test_with_a_public_url_it_links_the_console(sandbox: Starlette, home: Path) -> None:
    response = await get(sandbox, home, public_url="https://mcp.example.com", path="/agents/mcp")
    assert "<code>https://mcp.example.com/agents/mcp</code>" in response.text
    assert "OAuth" in response.text and '<a href="/console">' in response.text


async def test_when_mcp_is_served_at_the_root_the_root_is_mcp(sandbox: Starlette, home: Path) -> None:
    response = await get(sandbox, home, path="/")
    assert response.status_code == 401  # the MCP endpoint: a bearer token is needed


def test_links_can_be_added_and_are_escaped() -> None:
    options = HttpSettings()
    LINKS.append(lambda o: ("<Approvals>", "/console/approvals?x=1&y=2"))
    try:
        text = page(options)
    finally:
        LINKS.pop()
    assert '<a href="/console/approvals?x=1&amp;y=2">&lt;Approvals&gt;</a>' in text
