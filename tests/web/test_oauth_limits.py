"""The authorization server's edges: metadata-document fetches limited per address (from /token, /authorize and
/revoke alike), a bounded least-recently-used memory of documents that failed, /revoke for public clients (RFC
7009 asks no secret of them), and registered clients' secrets kept only as a digest."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from bugwarden.guard.audit import AuditLog
from bugwarden.store import Store
from bugwarden.store.oauth import OAuthRepository
from bugwarden.web.oauth.provider import METADATA_FETCHES_PER_MINUTE, Provider
from tests.conftest import make_settings
from tests.web.helpers import Site, sign_in, site
from tests.web.oauth_flow import REDIRECT, VERIFIER, Client, authorize, code_for, exchange, register, registered
from tests.web.test_oauth_documents import Documents

pytestmark = pytest.mark.anyio
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def doc_url(i: int) -> str:
    return f"https://agent{i}.example/oauth/client.json"


async def test_metadata_fetches_are_limited_per_address_at_token_and_authorize(sandbox: Starlette, home: Path) -> None:
    docs = Documents({})  # every document fails: nothing is cached, so each new URL would mean a fetch
    async with site(sandbox, home, metadata_fetch=docs) as s, httpx.AsyncClient(base_url=s.url) as http:
        for i in range(METADATA_FETCHES_PER_MINUTE + 5):
            answer = await http.post(
                "/token",
                data={"grant_type": "authorization_code", "code": "x", "client_id": doc_url(i), "code_verifier": "v"},
            )
            assert answer.status_code == 401
        for i in range(100, 105):
            await authorize(http, Client(doc_url(i), REDIRECT))
        assert len(docs.fetched) == METADATA_FETCHES_PER_MINUTE, "one address, one budget for both endpoints"
        s.clock.now += 60
        await authorize(http, Client(doc_url(200), REDIRECT))
        assert docs.fetched[-1] == doc_url(200), "the budget comes back"


async def test_each_address_has_its_own_fetch_budget(home: Path) -> None:
    provider, docs, store = _provider(home, budget=True)
    try:
        for i in range(METADATA_FETCHES_PER_MINUTE + 3):
            await provider.at("203.0.113.7").get_client(doc_url(i))
        assert len(docs.fetched) == METADATA_FETCHES_PER_MINUTE
        await provider.at("198.51.100.8").get_client(doc_url(500))
        assert docs.fetched[-1] == doc_url(500), "another address is not held up by the first"
        await provider.at("198.51.100.9").get_client(doc_url(0))
        assert docs.fetched.count(doc_url(0)) == 1, "what failed for one address is remembered for all"
    finally:
        store.close()


async def test_an_ipv6_network_of_one_subscriber_shares_one_fetch_budget(home: Path) -> None:
    provider, docs, store = _provider(home, budget=True)
    try:
        for i in range(METADATA_FETCHES_PER_MINUTE + 3):
            await provider.at(f"2001:db8:7:7::{i + 1:x}").get_client(doc_url(i))
        assert len(docs.fetched) == METADATA_FETCHES_PER_MINUTE, "a /64 is one address for the limit"
        await provider.at("2001:db8:7:8::1").get_client(doc_url(500))
        assert docs.fetched[-1] == doc_url(500), "the next /64 is someone else"
    finally:
        store.close()


async def test_failed_documents_are_remembered_least_recently_used_first_out(home: Path) -> None:
    provider, docs, store = _provider(home, budget=False)
    try:
        for i in range(1001):
            assert await provider.get_client(doc_url(i)) is None
        assert len(docs.fetched) == 1001
        await provider.get_client(doc_url(1))
        assert len(docs.fetched) == 1001, "still remembered: the memory was not cleared wholesale"
        await provider.get_client(doc_url(0))
        assert docs.fetched[-1] == doc_url(0), "the oldest failure was forgotten to keep the memory bounded"
    finally:
        store.close()


def _provider(home: Path, budget: bool) -> tuple[Provider, Documents, Store]:
    from bugwarden.store.buckets import CallBudgets

    store = Store.open(make_settings(home))
    docs = Documents({})
    provider = Provider(
        repo=OAuthRepository(store.tokens),
        audit=AuditLog(store.audit),
        issuer="https://bugwarden.example",
        resource="https://bugwarden.example/mcp",
        fetch=docs,
        clock=lambda: 2_000_000_000.0,
        fetch_budget=CallBudgets(store.state, METADATA_FETCHES_PER_MINUTE) if budget else None,
    )
    return provider, docs, store


# -- /revoke ---------------------------------------------------------------------------------------------------


async def _tokens(s: Site, http: httpx.AsyncClient, client: Client, **extra: str) -> dict[str, str]:
    s.add_person("ada")
    await sign_in(http, "ada")
    code = await code_for(http, client)
    answer = await http.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": client.redirect_uri,
            "client_id": client.client_id,
            "code_verifier": VERIFIER,
            **extra,
        },
    )
    assert answer.status_code == 200, answer.text
    tokens: dict[str, str] = answer.json()
    return tokens


async def test_a_public_client_revokes_with_its_client_id_alone(sandbox: Starlette, home: Path) -> None:
    async with site(sandbox, home) as s, httpx.AsyncClient(base_url=s.url) as http:
        client = await registered(http)
        tokens = await _tokens(s, http, client)
        answer = await http.post("/revoke", data={"token": tokens["access_token"], "client_id": client.client_id})
        assert answer.status_code == 200, answer.text
        bearer = {**MCP_HEADERS, "Authorization": f"Bearer {tokens['access_token']}"}
        assert (await http.post("/mcp", json=INIT, headers=bearer)).status_code == 401
        refreshed = await http.post(
            "/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": tokens["refresh_token"],
                "client_id": client.client_id,
            },
        )
        assert refreshed.json()["error"] == "invalid_grant", "the whole grant ended"


async def test_revocation_still_checks_who_asks(sandbox: Starlette, home: Path) -> None:
    async with site(sandbox, home) as s, httpx.AsyncClient(base_url=s.url) as http:
        registration = (await register(http, token_endpoint_auth_method="client_secret_post")).json()
        client = Client(registration["client_id"], REDIRECT)
        tokens = await _tokens(s, http, client, client_secret=registration["client_secret"])
        bearer = {**MCP_HEADERS, "Authorization": f"Bearer {tokens['access_token']}"}
        for data in (
            {"token": tokens["access_token"], "client_id": client.client_id},  # a confidential client's secret
            {"token": tokens["access_token"], "client_id": client.client_id, "client_secret": "wrong"},
            {"token": tokens["access_token"], "client_id": "somebody-else"},
            {"token": tokens["access_token"]},
        ):
            answer = await http.post("/revoke", data=data)
            assert answer.status_code == 401 and answer.json()["error"] == "invalid_client", data
            assert (await http.post("/mcp", json=INIT, headers=bearer)).status_code == 200, "nothing was revoked"
        # Another (public) client cannot revoke this client's token: RFC 7009 answers 200 and does nothing.
        other = await registered(http)
        answer = await http.post("/revoke", data={"token": tokens["access_token"], "client_id": other.client_id})
        assert answer.status_code == 200
        assert (await http.post("/mcp", json=INIT, headers=bearer)).status_code == 200
        answer = await http.post(
            "/revoke",
            data={"token": tokens["access_token"], "client_id": client.client_id},
            auth=(client.client_id, registration["client_secret"]),
        )
        assert answer.status_code == 401, "a client_secret_post client does not switch to Basic"
        answer = await http.post(
            "/revoke",
            data={
                "token": tokens["access_token"],
                "client_id": client.client_id,
                "client_secret": registration["client_secret"],
            },
        )
        assert answer.status_code == 200
        assert (await http.post("/mcp", json=INIT, headers=bearer)).status_code == 401


# -- client secrets --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["client_secret_post", "client_secret_basic"])
async def test_client_secrets_are_stored_as_digests_and_still_authenticate(
    sandbox: Starlette, home: Path, method: str
) -> None:
    async with site(sandbox, home) as s, httpx.AsyncClient(base_url=s.url) as http:
        registration = (await register(http, token_endpoint_auth_method=method)).json()
        secret = registration["client_secret"]
        assert len(secret) >= 32 and registration["token_endpoint_auth_method"] == method
        stored = OAuthRepository(s.store.tokens).client(registration["client_id"])
        assert stored is not None and secret not in json.dumps(stored[0]), "the secret is not kept in plain text"
        client = Client(registration["client_id"], REDIRECT)
        s.add_person("ada")
        await sign_in(http, "ada")
        for presented, status in (("wrong-" + secret, 401), (stored[0]["client_secret"], 401), (secret, 200)):
            code = await code_for(http, client)
            data = {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT,
                "client_id": client.client_id,
                "code_verifier": VERIFIER,
            }
            if method == "client_secret_post":
                answer = await http.post("/token", data={**data, "client_secret": presented})
            else:
                basic = base64.b64encode(f"{client.client_id}:{presented}".encode()).decode()
                answer = await http.post("/token", data=data, headers={"Authorization": f"Basic {basic}"})
            assert answer.status_code == status, (presented == secret, answer.text)
        assert (await exchange(http, client, await code_for(http, client))).status_code == 401, "a secret is needed"


async def test_a_secret_stored_in_plain_text_before_still_works_and_is_then_kept_as_a_digest(
    sandbox: Starlette, home: Path
) -> None:
    async with site(sandbox, home) as s, httpx.AsyncClient(base_url=s.url) as http:
        repo = OAuthRepository(s.store.tokens)
        legacy = {
            "client_id": "legacy-client",
            "client_secret": "f" * 64,
            "redirect_uris": [REDIRECT],
            "token_endpoint_auth_method": "client_secret_post",
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "client_name": "Old Agent",
        }
        repo.save_client("legacy-client", legacy, "registered", s.clock.now)
        tokens = await _tokens(s, http, Client("legacy-client", REDIRECT), client_secret="f" * 64)
        assert tokens["access_token"]
        stored = repo.client("legacy-client")
        assert stored is not None and "f" * 64 not in json.dumps(stored[0])
        code = await code_for(http, Client("legacy-client", REDIRECT))
        again = await http.post(
            "/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT,
                "client_id": "legacy-client",
                "code_verifier": VERIFIER,
                "client_secret": "f" * 64,
            },
        )
        assert again.status_code == 200, again.text
