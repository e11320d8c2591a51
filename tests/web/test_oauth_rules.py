"""The authorization server, rule by rule, over HTTP: discovery, registration policy, PKCE, codes, refresh
rotation, revocation, consent limits. (tests/web/test_oauth_clients.py runs the SDK's client and a browser.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from bugwarden.guard.tokens import TokenStore
from tests.conftest import API_PROJECT, WEB_PROJECT
from tests.web.helpers import PASSWORD, Site, sign_in, site
from tests.web.oauth_flow import (
    REDIRECT,
    VERIFIER,
    answer_consent,
    authorize,
    code_for,
    consent_form,
    exchange,
    redirected_params,
    refresh,
    register,
    registered,
)

pytestmark = pytest.mark.anyio
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


async def signed_in(s: Site, http: httpx.AsyncClient, name: str = "ada", **person: Any) -> None:
    s.add_person(name, **person)
    assert (await sign_in(http, name, PASSWORD)).status_code == 303


async def test_discovery_starts_at_the_401_and_names_s256_and_metadata_documents(
    sandbox: Starlette, home: Path
) -> None:
    async with site(sandbox, home) as s, httpx.AsyncClient(base_url=s.url) as http:
        challenge = (await http.post("/mcp", json=INIT, headers=MCP_HEADERS)).headers["www-authenticate"]
        assert f'resource_metadata="{s.url}/.well-known/oauth-protected-resource/mcp"' in challenge
        for path in ("/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"):
            resource = (await http.get(path)).json()
            assert resource["resource"] == f"{s.url}/mcp"
            assert [a.rstrip("/") for a in resource["authorization_servers"]] == [s.url]
        meta = (await http.get("/.well-known/oauth-authorization-server")).json()
        assert meta["code_challenge_methods_supported"] == ["S256"]
        assert meta["client_id_metadata_document_supported"] is True
        assert meta["registration_endpoint"] == f"{s.url}/register"
        assert meta["revocation_endpoint"] == f"{s.url}/revoke"
        assert meta["authorization_endpoint"] == f"{s.url}/authorize"
        assert "none" in meta["token_endpoint_auth_methods_supported"]
        assert meta["authorization_response_iss_parameter_supported"] is True


async def test_closed_registration_offers_no_registration_endpoint(sandbox: Starlette, home: Path) -> None:
    async with site(sandbox, home, oauth_registration="closed") as s, httpx.AsyncClient(base_url=s.url) as http:
        meta = (await http.get("/.well-known/oauth-authorization-server")).json()
        assert "registration_endpoint" not in meta
        assert (await register(http)).status_code == 404


@pytest.mark.parametrize(
    "redirect",
    [
        "http://evil.example/callback",
        "javascript:alert(1)",
        "data:text/html,hi",
        "https://app.example/cb#fragment",
        "https://*.example/cb",
        "https://user:pw@app.example/cb",
        "myapp://callback",
    ],
)
async def test_registration_refuses_redirects_outside_the_policy(sandbox: Starlette, home: Path, redirect: str) -> None:
    async with site(sandbox, home) as s, httpx.AsyncClient(base_url=s.url) as http:
        answer = await register(http, redirect)
        assert answer.status_code == 400
        assert answer.json()["error"] in ("invalid_redirect_uri", "invalid_client_metadata")


async def test_registration_accepts_https_and_loopback_http(sandbox: Starlette, home: Path) -> None:
    async with site(sandbox, home) as s, httpx.AsyncClient(base_url=s.url) as http:
        for redirect in (
            "https://claude.ai/api/mcp/auth_callback",
            "http://127.0.0.1:33418/cb",
            "http://localhost:1/x",
        ):
            assert (await register(http, redirect)).status_code == 201, redirect


async def test_a_redirect_not_registered_is_refused_without_redirecting(sandbox: Starlette, home: Path) -> None:
    async with site(sandbox, home) as s, httpx.AsyncClient(base_url=s.url) as http:
        client = await registered(http)
        for foreign in ("http://127.0.0.1:9/other", "https://evil.example/callback", REDIRECT + "/"):
            answer = await authorize(http, client, redirect_uri=foreign)
            assert answer.status_code == 400 and "location" not in answer.headers, foreign


async def test_pkce_s256_is_required(sandbox: Starlette, home: Path) -> None:
    async with site(sandbox, home) as s, httpx.AsyncClient(base_url=s.url) as http:
        client = await registered(http)
        for params in ({"code_challenge": None}, {"code_challenge_method": "plain"}):
            answer = await authorize(http, client, **params)
            assert answer.status_code == 302
            assert redirected_params_of(answer)["error"] == "invalid_request", params


def redirected_params_of(answer: httpx.Response) -> dict[str, str]:
    from urllib.parse import parse_qs, urlsplit

    return {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["location"]).query).items()}


async def test_the_resource_must_name_this_server(sandbox: Starlette, home: Path) -> None:
    async with site(sandbox, home) as s, httpx.AsyncClient(base_url=s.url) as http:
        client = await registered(http)
        answer = await authorize(http, client, resource="https://other.example/mcp")
        assert redirected_params_of(answer)["error"] == "invalid_target"


async def test_a_code_is_exchanged_once_with_its_verifier_and_a_second_use_revokes_the_grant(
    sandbox: Starlette, home: Path
) -> None:
    async with site(sandbox, home) as s, httpx.AsyncClient(base_url=s.url) as http:
        await signed_in(s, http)
        client = await registered(http)
        code = await code_for(http, client)
        wrong = await exchange(http, client, code, verifier="w" * 50)
        assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
        first = await exchange(http, client, code)
        assert first.status_code == 200, first.text
        tokens = first.json()
        assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 3600 and tokens["refresh_token"]
        again = await exchange(http, client, code)
        assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
        answer = await http.post(
            "/mcp", json=INIT, headers={**MCP_HEADERS, "Authorization": f"Bearer {tokens['access_token']}"}
        )
        assert answer.status_code == 401, "reusing the code revoked the grant it had been exchanged for"


async def test_a_code_expires_and_belongs_to_its_client(sandbox: Starlette, home: Path) -> None:
    async with site(sandbox, home) as s, httpx.AsyncClient(base_url=s.url) as http:
        await signed_in(s, http)
        client, other = await registered(http), await registered(http)
        code = await code_for(http, client)
        assert (await exchange(http, other, code)).json()["error"] == "invalid_grant"
        s.clock.now += 121
        assert (await exchange(http, client, code)).json()["error"] == "invalid_grant"


async def test_refresh_tokens_rotate_and_a_spent_one_revokes_the_whole_grant(sandbox: Starlette, home: Path) -> None:
    async with site(sandbox, home) as s, httpx.AsyncClient(base_url=s.url) as http:
        await signed_in(s, http)
        client = await registered(http)
        first = (await exchange(http, client, await code_for(http, client))).json()
        second = await refresh(http, client, first["refresh_token"])
        assert second.status_code == 200, second.text
        rotated = second.json()
        assert rotated["refresh_token"] != first["refresh_token"] and rotated["access_token"] != first["access_token"]
        bearer = {**MCP_HEADERS, "Authorization": f"Bearer {rotated['access_token']}"}
        assert (await http.post("/mcp", json=INIT, headers=bearer)).status_code == 200
        reused = await refresh(http, client, first["refresh_token"])
        assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
        assert (await http.post("/mcp", json=INIT, headers=bearer)).status_code == 401, "the whole grant is revoked"
        assert (await refresh(http, client, rotated["refresh_token"])).json()["error"] == "invalid_grant"
        actions = [(r["tool"], r["outcome"]) for r in s.audit() if r["tool"].startswith("grant.")]
        assert actions == [("grant.issued", "ok"), ("grant.refreshed", "ok"), ("grant.revoked", "reused")]


async def test_revocation_ends_the_grant(sandbox: Starlette, home: Path) -> None:
    async with site(sandbox, home) as s, httpx.AsyncClient(base_url=s.url) as http:
        await signed_in(s, http)
        client = await registered(http)
        tokens = (await exchange(http, client, await code_for(http, client))).json()
        # The SDK's RevocationRequest requires the client_secret field to be present, even for a public client.
        answer = await http.post(
            "/revoke", data={"token": tokens["refresh_token"], "client_id": client.client_id, "client_secret": ""}
        )
        assert answer.status_code == 200
        bearer = {**MCP_HEADERS, "Authorization": f"Bearer {tokens['access_token']}"}
        assert (await http.post("/mcp", json=INIT, headers=bearer)).status_code == 401
        last = [r for r in s.audit() if r["tool"].startswith("grant.")][-1]  # the refused bearer is audited too
        assert last["tool"] == "grant.revoked" and last["person"] == "ada"


async def test_the_token_endpoint_answers_401_invalid_client_for_an_unknown_client(
    sandbox: Starlette, home: Path
) -> None:
    async with site(sandbox, home) as s, httpx.AsyncClient(base_url=s.url) as http:
        answer = await http.post(
            "/token",
            data={"grant_type": "authorization_code", "code": "x", "client_id": "nobody", "code_verifier": VERIFIER},
        )
        assert answer.status_code == 401 and answer.json()["error"] == "invalid_client"


async def test_deny_ends_the_attempt_with_access_denied(sandbox: Starlette, home: Path) -> None:
    async with site(sandbox, home) as s, httpx.AsyncClient(base_url=s.url) as http:
        await signed_in(s, http)
        client = await registered(http)
        html, request_id = await consent_form(http, client)
        params = redirected_params(await answer_consent(http, html, request_id, decision="deny"))
        assert params == {"error": "access_denied", "state": "st4te", "iss": s.url + "/"}
        again = await answer_consent(http, html, request_id)
        assert again.status_code == 400, "a request is answered once"


async def test_consent_needs_its_csrf_token(sandbox: Starlette, home: Path) -> None:
    async with site(sandbox, home) as s, httpx.AsyncClient(base_url=s.url) as http:
        await signed_in(s, http)
        client = await registered(http)
        html, request_id = await consent_form(http, client)
        answer = await answer_consent(http, html, request_id, csrf=None)
        assert answer.status_code == 403 and "location" not in answer.headers
        assert (await answer_consent(http, html, request_id)).status_code == 303, "the request is still open"


async def test_consent_never_grants_above_the_persons_bundle_or_outside_their_projects(
    sandbox: Starlette, home: Path
) -> None:
    async with site(sandbox, home) as s, httpx.AsyncClient(base_url=s.url) as http:
        await signed_in(s, http, bundle="triage", projects=[API_PROJECT])
        client = await registered(http)
        html, request_id = await consent_form(http, client)
        assert '<option value="admin"' not in html and '<option value="triage" selected>' in html
        assert html.count('name="project"') == 1 and API_PROJECT in html
        above = await answer_consent(http, html, request_id, access="admin")
        assert above.status_code == 403 and "at most the triage bundle" in above.text
        outside = await answer_consent(http, html, request_id, project=[API_PROJECT, WEB_PROJECT])
        assert outside.status_code == 403
        assert (await answer_consent(http, html, request_id, project=[])).status_code == 400
        params = redirected_params(await answer_consent(http, html, request_id, access="triage"))
        grant = (await exchange(http, client, params["code"])).json()
        assert grant["scope"] == "errors:read errors:write projects:read"
        info = next(t for t in TokenStore(s.store.tokens).list() if t.is_grant)
        assert info.person == "ada" and info.projects == {API_PROJECT} and info.client_id == client.client_id
        assert info.name == "Test Agent"


async def test_the_consent_page_says_who_asks_and_where_the_code_goes(sandbox: Starlette, home: Path) -> None:
    async with site(sandbox, home) as s, httpx.AsyncClient(base_url=s.url) as http:
        await signed_in(s, http)
        answer = await register(http, "https://agent.example/cb", client_name="<b>Evil</b> Agent")
        client_id = answer.json()["client_id"]
        from tests.web.oauth_flow import Client

        html, _ = await consent_form(http, Client(client_id, "https://agent.example/cb"))
        assert "&lt;b&gt;Evil&lt;/b&gt; Agent" in html and "<b>Evil" not in html
        assert "self-declared" in html and "agent.example" in html


async def test_nobody_signed_in_is_sent_to_sign_in_and_back(sandbox: Starlette, home: Path) -> None:
    async with site(sandbox, home) as s, httpx.AsyncClient(base_url=s.url) as http:
        s.add_person("ada")
        client = await registered(http)
        consent = (await authorize(http, client)).headers["location"]
        page = await http.get(consent)
        assert page.status_code == 303 and page.headers["location"].startswith("/signin?next=%2Fconsent")
        answer = await sign_in(http, "ada", next_path=consent.removeprefix(s.url))
        assert answer.headers["location"].startswith("/consent?request=")


async def test_removing_a_person_revokes_their_grants_and_token_list_shows_grants(
    sandbox: Starlette, home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bugwarden.cli import main

    async with site(sandbox, home) as s, httpx.AsyncClient(base_url=s.url) as http:
        await signed_in(s, http)
        client = await registered(http)
        tokens = (await exchange(http, client, await code_for(http, client))).json()
        monkeypatch.setenv("BUGWARDEN_HOME", str(home))
        assert main(["token", "list"]) == 0
        listed = capsys.readouterr().out
        header, row = listed.splitlines()
        assert header.split()[-3:] == ["PERSON", "OAUTH", "CLIENT"]
        assert row.startswith("gr_") and "Test Agent" in row and "active" in row
        assert row.split()[-2:] == ["ada", client.client_id]
        other = (await exchange(http, client, await code_for(http, client))).json()
        other_id = TokenStore(s.store.tokens).check(other["access_token"]).id
        assert main(["token", "revoke", other_id]) == 0
        capsys.readouterr()
        revoked = [r for r in s.audit() if r["tool"].startswith("grant.")][-1]  # after token.revoke's own record
        assert (revoked["tool"], revoked["person"], revoked["oauth_client"]) == (
            "grant.revoked",
            "ada",
            client.client_id,
        )
        assert main(["user", "remove", "ada"]) == 0
        assert capsys.readouterr().out == "removed ada; revoked 1 grant(s)\n"
        bearer = {**MCP_HEADERS, "Authorization": f"Bearer {tokens['access_token']}"}
        assert (await http.post("/mcp", json=INIT, headers=bearer)).status_code == 401
        assert (await refresh(http, client, tokens["refresh_token"])).json()["error"] == "invalid_grant"
        last = [r for r in s.audit() if r["tool"].startswith("grant.")][-1]  # refused bearers are audited too
        assert last["tool"] == "grant.revoked" and last["reason"] == "the person was removed"


async def test_anonymous_registrations_are_limited_per_address(sandbox: Starlette, home: Path) -> None:
    async with site(sandbox, home) as s, httpx.AsyncClient(base_url=s.url) as http:
        answers = [(await register(http)).status_code for _ in range(11)]
        assert answers[:10] == [201] * 10 and answers[10] == 429
        s.clock.now += 60
        assert (await register(http)).status_code == 201


async def test_a_grant_never_gives_more_than_its_person_may_give_now(sandbox: Starlette, home: Path) -> None:
    async with site(sandbox, home) as s, httpx.AsyncClient(base_url=s.url) as http:
        await signed_in(s, http, bundle="triage")
        client = await registered(http)
        access = (await exchange(http, client, await code_for(http, client, access="triage"))).json()["access_token"]
        tokens = TokenStore(s.store.tokens)
        assert "errors:write" in tokens.check(access).scopes
        with s.store.tokens.transaction(write=True) as tx:
            tx.execute("UPDATE people SET bundle = 'read', projects = ? WHERE name = 'ada'", (f'["{API_PROJECT}"]',))
        narrowed = tokens.check(access)
        assert narrowed.scopes == {"errors:read", "projects:read"} and narrowed.projects == {API_PROJECT}


async def test_the_public_urls_host_is_accepted_without_allowed_host(sandbox: Starlette, home: Path) -> None:
    async with (
        site(sandbox, home, public_url="https://mcp.example.com") as s,
        httpx.AsyncClient(base_url=s.url) as http,
    ):
        proxied = {**MCP_HEADERS, "Host": "mcp.example.com", "Origin": "https://mcp.example.com"}
        assert (await http.post("/mcp", json=INIT, headers=proxied)).status_code == 401, "not 421: a known host"
        _, secret = TokenStore(s.store.tokens).create("ci", "read")
        assert (
            await http.post("/mcp", json=INIT, headers={**proxied, "Authorization": f"Bearer {secret}"})
        ).status_code == 200
        other = {**MCP_HEADERS, "Host": "evil.example", "Authorization": f"Bearer {secret}"}
        assert (await http.post("/mcp", json=INIT, headers=other)).status_code == 421


async def test_an_access_token_lives_an_hour_and_a_refresh_brings_a_new_one(sandbox: Starlette, home: Path) -> None:
    async with site(sandbox, home) as s, httpx.AsyncClient(base_url=s.url) as http:
        await signed_in(s, http)
        client = await registered(http)
        tokens = (await exchange(http, client, await code_for(http, client))).json()
        with s.store.tokens.transaction(write=True) as tx:  # an hour has passed for the access token
            tx.execute("UPDATE tokens SET access_expires_at = 1 WHERE person = 'ada'")
        bearer = {**MCP_HEADERS, "Authorization": f"Bearer {tokens['access_token']}"}
        expired = await http.post("/mcp", json=INIT, headers=bearer)
        assert expired.status_code == 401 and "resource_metadata" in expired.headers["www-authenticate"]
        fresh = (await refresh(http, client, tokens["refresh_token"])).json()
        bearer = {**MCP_HEADERS, "Authorization": f"Bearer {fresh['access_token']}"}
        assert (await http.post("/mcp", json=INIT, headers=bearer)).status_code == 200
