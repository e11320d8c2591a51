"""The authorization code flow step by step over HTTP, for tests of each rule (the SDK's client does it whole)."""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.web.helpers import csrf_of

REDIRECT = "http://127.0.0.1:9/callback"


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


VERIFIER = "v" * 43 + "-verifier-for-tests"


@dataclass
class Client:
    client_id: str
    redirect_uri: str


async def register(http: httpx.AsyncClient, redirect_uri: str = REDIRECT, **extra: Any) -> httpx.Response:
    body = {
        "client_name": "Test Agent",
        "redirect_uris": [redirect_uri],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
        **extra,
    }
    return await http.post("/register", json=body)


async def registered(http: httpx.AsyncClient, redirect_uri: str = REDIRECT) -> Client:
    answer = await register(http, redirect_uri)
    assert answer.status_code == 201, answer.text
    return Client(answer.json()["client_id"], redirect_uri)


async def authorize(http: httpx.AsyncClient, client: Client, **params: str | None) -> httpx.Response:
    query = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": client.redirect_uri,
        "state": "st4te",
        "code_challenge": s256(VERIFIER),
        "code_challenge_method": "S256",
        "resource": str(http.base_url).rstrip("/") + "/mcp",
        "scope": "errors:read projects:read errors:write",
        **params,
    }
    return await http.get("/authorize", params={k: v for k, v in query.items() if v is not None})


async def consent_form(http: httpx.AsyncClient, client: Client, **params: str | None) -> tuple[str, str]:
    """(the consent page's HTML, its request id) for a fresh authorization request (the browser is signed in)."""
    answer = await authorize(http, client, **params)
    assert answer.status_code == 302, answer.text
    page = await http.get(answer.headers["location"])
    assert page.status_code == 200, page.text
    found = re.search(r'name="request" value="([^"]+)"', page.text)
    assert found
    return page.text, found.group(1)


async def answer_consent(
    http: httpx.AsyncClient, html: str, request_id: str, *, decision: str = "allow", **fields: Any
) -> httpx.Response:
    projects = re.findall(r'name="project" value="([^"]+)"', html)
    data: dict[str, Any] = {
        "csrf": csrf_of(html),
        "request": request_id,
        "decision": decision,
        "access": "read",
        "project": projects,
        "expires": "86400",
        **fields,
    }
    return await http.post("/consent", data={k: v for k, v in data.items() if v is not None})


def redirected_params(answer: httpx.Response) -> dict[str, str]:
    assert answer.status_code == 303, answer.text
    location = answer.headers["location"]
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


async def code_for(http: httpx.AsyncClient, client: Client, **fields: Any) -> str:
    html, request_id = await consent_form(http, client)
    return redirected_params(await answer_consent(http, html, request_id, **fields))["code"]


async def exchange(http: httpx.AsyncClient, client: Client, code: str, verifier: str = VERIFIER) -> httpx.Response:
    return await http.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": client.redirect_uri,
            "client_id": client.client_id,
            "code_verifier": verifier,
        },
    )


async def refresh(http: httpx.AsyncClient, client: Client, token: str) -> httpx.Response:
    return await http.post(
        "/token", data={"grant_type": "refresh_token", "refresh_token": token, "client_id": client.client_id}
    )
