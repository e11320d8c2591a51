"""Two replicas on one PostgreSQL database (behind one public URL): people, browser sessions, clients and grants
are the same on both."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from tests.web.helpers import PASSWORD, sign_in, site
from tests.web.oauth_flow import code_for, exchange, refresh, registered

pytestmark = pytest.mark.anyio
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


async def test_a_grant_given_at_one_replica_works_and_ends_at_the_other(
    sandbox: Starlette, tmp_path: Path, pg_url: str
) -> None:
    db = {"database_url": pg_url}
    async with (
        site(sandbox, tmp_path / "a", settings=db) as a,
        site(sandbox, tmp_path / "b", settings=db, public_url=a.url) as b,
        httpx.AsyncClient(base_url=a.url) as at_a,
        httpx.AsyncClient(base_url=b.url) as at_b,
    ):
        a.add_person("ada")
        assert (await sign_in(at_b, "ada", PASSWORD)).status_code == 303, "B knows the person A's store added"
        at_a.cookies.update(at_b.cookies)
        assert "signed in as ada" in (await at_a.get("/signin")).text, "a session opened at B is known at A"

        client = await registered(at_a)
        tokens = (await exchange(at_b, client, await code_for(at_a, client))).json()
        assert "access_token" in tokens, "a code issued at A is exchanged at B"
        bearer = {**HEADERS, "Authorization": f"Bearer {tokens['access_token']}"}
        assert (await at_b.post("/mcp", json=INIT, headers=bearer)).status_code == 200

        rotated = (await refresh(at_b, client, tokens["refresh_token"])).json()
        assert (await refresh(at_a, client, tokens["refresh_token"])).json()["error"] == "invalid_grant"
        revoked = {**HEADERS, "Authorization": f"Bearer {rotated['access_token']}"}
        assert (await at_b.post("/mcp", json=INIT, headers=revoked)).status_code == 401, (
            "refresh reuse seen at A revoked the grant at B"
        )
