"""Client ID Metadata Documents: a client whose id is an https URL; fetching it is a request an attacker chose."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from bugwarden.web.oauth.documents import DocumentError, check_url, network_fetch, parse_document
from tests.web.helpers import PASSWORD, sign_in, site
from tests.web.oauth_flow import Client, answer_consent, authorize, consent_form, exchange, redirected_params

pytestmark = pytest.mark.anyio
DOC_URL = "https://agent.example/oauth/client.json"
REDIRECT = "http://127.0.0.1:9/callback"


class Documents:
    """Serves metadata documents from a dict and counts fetches (the network is never used in tests)."""

    def __init__(self, docs: dict[str, object]) -> None:
        self.docs = docs
        self.fetched: list[str] = []

    async def __call__(self, url: str) -> bytes:
        self.fetched.append(url)
        if url not in self.docs:
            raise DocumentError(f"{url} answered HTTP 404")
        return json.dumps(self.docs[url]).encode()


def document(**extra: object) -> dict[str, object]:
    return {"client_id": DOC_URL, "client_name": "Doc Agent", "redirect_uris": [REDIRECT], **extra}


async def test_a_client_with_a_metadata_document_connects_without_registering(sandbox: Starlette, home: Path) -> None:
    docs = Documents({DOC_URL: document()})
    async with (
        site(sandbox, home, metadata_fetch=docs, oauth_registration="closed") as s,
        httpx.AsyncClient(base_url=s.url) as http,
    ):
        s.add_person("ada")
        await sign_in(http, "ada", PASSWORD)
        client = Client(DOC_URL, REDIRECT)
        html, request_id = await consent_form(http, client)
        assert "Doc Agent" in html and "from its metadata document at agent.example" in html
        assert "self-declared" not in html
        code = redirected_params(await answer_consent(http, html, request_id))["code"]
        tokens = await exchange(http, client, code)
        assert tokens.status_code == 200, tokens.text
        await consent_form(http, client)
        assert docs.fetched == [DOC_URL], "the document is cached"
        s.clock.now += 3601
        await consent_form(http, client)
        assert docs.fetched == [DOC_URL, DOC_URL], "and fetched again after an hour"


@pytest.mark.parametrize(
    "doc",
    [
        document(client_id="https://other.example/client.json"),
        document(redirect_uris=["http://evil.example/callback"]),
        document(redirect_uris=[]),
        document(token_endpoint_auth_method="client_secret_post"),
    ],
)
async def test_a_metadata_document_outside_the_rules_is_refused(
    sandbox: Starlette, home: Path, doc: dict[str, object]
) -> None:
    docs = Documents({DOC_URL: doc})
    async with site(sandbox, home, metadata_fetch=docs) as s, httpx.AsyncClient(base_url=s.url) as http:
        answer = await authorize(http, Client(DOC_URL, REDIRECT))
        assert answer.status_code == 400 and "not found" in answer.text
        await authorize(http, Client(DOC_URL, REDIRECT))
        assert docs.fetched == [DOC_URL], "a document that failed is not fetched again at once"
        s.clock.now += 61
        await authorize(http, Client(DOC_URL, REDIRECT))
        assert docs.fetched == [DOC_URL, DOC_URL]


def test_metadata_urls_must_be_https_and_not_local() -> None:
    for url in (
        "http://agent.example/client.json",
        "https://agent.example/",
        "https://localhost/client.json",
        "https://127.0.0.1/client.json",
        "https://10.1.2.3/client.json",
        "https://[::1]/client.json",
        "https://169.254.169.254/latest/meta-data",
        "https://u:p@agent.example/client.json",
    ):
        with pytest.raises(DocumentError):
            check_url(url)
    check_url("https://agent.example/client.json")
    check_url("https://127.0.0.1/client.json", allowed_hosts=["127.0.0.1"])


async def test_the_fetch_refuses_names_that_resolve_to_private_addresses() -> None:
    fetch = network_fetch()
    with pytest.raises(DocumentError, match="private or local address"):
        await fetch("https://localhost:9/client.json")


def test_a_document_is_parsed_to_a_public_client() -> None:
    info = parse_document(DOC_URL, json.dumps(document(client_name="x" * 500)).encode())
    assert info["token_endpoint_auth_method"] == "none" and len(info["client_name"]) == 100
    with pytest.raises(DocumentError):
        parse_document(DOC_URL, b"[1, 2]")
