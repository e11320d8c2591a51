"""Connecting as the clients do: the SDK's own OAuthClientProvider discovers the server from the 401, registers,
opens the authorization URL in a real Chromium where a person signs in and consents by the pages' labels, and
the agent's calls are then limited to what that person chose; refresh and revocation follow."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import anyio
import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.auth import OAuthClientProvider, TokenStorage
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken
from pydantic import AnyUrl
from starlette.applications import Starlette

from bugwarden.guard.tokens import TokenStore
from tests.browser import Chromium
from tests.conftest import API_PROJECT, WEB_PROJECT
from tests.web.helpers import PASSWORD, Site, site

pytestmark = pytest.mark.anyio
CALLBACK = "http://127.0.0.1:9/callback"


class Memory(TokenStorage):
    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


class Person:
    """A person at a browser: signs in and answers the consent page the way they were told to."""

    def __init__(self, chromium: Chromium, name: str, access: str, uncheck: tuple[str, ...] = ()) -> None:
        self.chromium, self.name, self.access, self.uncheck = chromium, name, access, uncheck
        self.result: AuthorizationCodeResult | None = None
        self.seen: dict[str, Any] = {}

    def _consent(self, url: str) -> str:
        def drive(page: Any) -> str:
            page.route(CALLBACK + "**", lambda route: route.fulfill(body="you may close this window"))
            page.goto(url)
            page.get_by_label("Name").fill(self.name)
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            self.seen["heading"] = page.get_by_role("heading", level=1).inner_text()
            self.seen["text"] = page.locator("main").inner_text()
            self.seen["access"] = page.get_by_label("Access").locator("option").all_inner_texts()
            page.get_by_label("Access").select_option(self.access)
            for project in self.uncheck:
                page.get_by_label(project).uncheck()
            page.get_by_label("Expires").select_option(label="in 7 days")
            page.get_by_role("button", name="Allow").click()
            page.wait_for_url(CALLBACK + "**")
            return str(page.url)

        return self.chromium.run(drive)

    async def redirect_handler(self, url: str) -> None:
        final = await anyio.to_thread.run_sync(self._consent, url)
        query = {k: v[0] for k, v in parse_qs(urlsplit(final).query).items()}
        self.result = AuthorizationCodeResult(code=query["code"], state=query.get("state"), iss=query.get("iss"))

    async def callback_handler(self) -> AuthorizationCodeResult:
        assert self.result is not None
        return self.result


def oauth(s: Site, person: Person, storage: Memory) -> OAuthClientProvider:
    return OAuthClientProvider(
        server_url=f"{s.url}/mcp",
        client_metadata=OAuthClientMetadata(
            client_name="SDK Agent",
            redirect_uris=[AnyUrl(CALLBACK)],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        ),
        storage=storage,
        redirect_handler=person.redirect_handler,
        callback_handler=person.callback_handler,
    )


async def test_the_sdk_client_connects_by_a_persons_consent_and_gets_only_what_they_chose(
    sandbox: Starlette, home: Path, chromium: Chromium
) -> None:
    async with site(sandbox, home, settings={"toolsets": "all"}) as s:
        s.add_person("ada", bundle="triage")
        person = Person(chromium, "ada", access="read", uncheck=("Web Frontend",))
        storage = Memory()
        async with (
            httpx2.AsyncClient(auth=oauth(s, person, storage), timeout=httpx2.Timeout(30, read=60)) as http,
            Client(streamable_http_client(f"{s.url}/mcp", http_client=http)) as client,
        ):
            tools = {t.name for t in (await client.list_tools()).tools}
            assert "list_errors" in tools and "resolve_error" not in tools, "read was chosen, not triage"
            allowed = await client.call_tool("list_errors", {"project_id": API_PROJECT})
            assert not allowed.is_error
            refused = await client.call_tool("list_errors", {"project_id": WEB_PROJECT})
            assert refused.is_error, "the person left Web Frontend unchecked"

            # What the person saw: who asks (self-declared), where the code goes, never more than their bundle.
            assert person.seen["heading"] == "Connect SDK Agent?"
            assert "self-declared" in person.seen["text"] and "127.0.0.1:9" in person.seen["text"]
            assert person.seen["access"] == ["read", "triage"]

            # The grant is a token: listed with person and client, its calls audited with both.
            grant = next(t for t in TokenStore(s.store.tokens).list() if t.is_grant)
            assert grant.person == "ada" and grant.name == "SDK Agent" and WEB_PROJECT not in grant.projects
            assert storage.client is not None and grant.client_id == storage.client.client_id
            calls = [r for r in s.audit() if r["tool"] == "list_errors"]
            assert calls and {(r["person"], r["oauth_client"]) for r in calls} == {("ada", grant.client_id)}

            # Refresh: the SDK rotates its tokens when the access token has expired, and goes on working.
            assert storage.tokens is not None
            first = storage.tokens
            http.auth.context.token_expiry_time = 1.0  # type: ignore[union-attr]  # long past
            assert not (await client.call_tool("list_errors", {"project_id": API_PROJECT})).is_error
            assert storage.tokens.refresh_token != first.refresh_token
            assert storage.tokens.access_token != first.access_token
            assert [r["tool"] for r in s.audit() if r["tool"].startswith("grant.")] == [
                "grant.issued",
                "grant.refreshed",
            ]

        # Revocation from the shell (`token revoke`) applies at the next request.
        TokenStore(s.store.tokens).revoke(grant.id)
        async with httpx.AsyncClient(base_url=s.url) as raw:
            answer = await raw.post(
                "/mcp",
                json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
                headers={
                    "Authorization": f"Bearer {storage.tokens.access_token}",
                    "Accept": "application/json, text/event-stream",
                },
            )
            assert answer.status_code == 401
            refreshed = await raw.post(
                "/token",
                data={
                    "grant_type": "refresh_token",
                    "refresh_token": storage.tokens.refresh_token or "",
                    "client_id": grant.client_id or "",
                },
            )
            assert refreshed.json()["error"] == "invalid_grant", "a revoked grant cannot be refreshed"


async def test_static_tokens_keep_working_beside_oauth(sandbox: Starlette, home: Path) -> None:
    async with site(sandbox, home) as s:
        _, secret = TokenStore(s.store.tokens).create("ci", "read")
        async with (
            httpx2.AsyncClient(headers={"Authorization": f"Bearer {secret}"}, timeout=30) as http,
            Client(streamable_http_client(f"{s.url}/mcp", http_client=http)) as client,
        ):
            assert not (await client.call_tool("list_projects", {})).is_error


async def test_the_sdk_client_connects_with_a_client_id_metadata_document(
    sandbox: Starlette, home: Path, chromium: Chromium
) -> None:
    """No registration at all (it is closed here): the client's id is the URL of its metadata document."""
    doc_url = "https://agent.example/bugwarden-client.json"
    fetched: list[str] = []

    async def fetch(url: str) -> bytes:
        fetched.append(url)
        doc = {"client_id": doc_url, "client_name": "Metadata Agent", "redirect_uris": [CALLBACK]}
        return json.dumps(doc).encode()

    async with site(sandbox, home, metadata_fetch=fetch, oauth_registration="closed") as s:
        s.add_person("ada")
        person = Person(chromium, "ada", access="read")
        storage = Memory()
        auth = OAuthClientProvider(
            server_url=f"{s.url}/mcp",
            client_metadata=OAuthClientMetadata(
                client_name="Metadata Agent",
                redirect_uris=[AnyUrl(CALLBACK)],
                grant_types=["authorization_code", "refresh_token"],
                response_types=["code"],
                token_endpoint_auth_method="none",
            ),
            storage=storage,
            redirect_handler=person.redirect_handler,
            callback_handler=person.callback_handler,
            client_metadata_url=doc_url,
        )
        async with (
            httpx2.AsyncClient(auth=auth, timeout=httpx2.Timeout(30, read=60)) as http,
            Client(streamable_http_client(f"{s.url}/mcp", http_client=http)) as client,
        ):
            assert not (await client.call_tool("list_projects", {})).is_error
        assert "from its metadata document at agent.example" in person.seen["text"]
        assert fetched == [doc_url], "fetched once, then served from the cache"
        grant = next(t for t in TokenStore(s.store.tokens).list() if t.is_grant)
        assert grant.client_id == doc_url and grant.name == "Metadata Agent"
