"""A hostile review of the web surface: each test is an attack tried for real over HTTP against a served
bugwarden (sign-in, consent, the authorization server, the console), and what must hold against it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from bugwarden.http_app import forwarded_options
from tests.web.helpers import PASSWORD, Site, sign_in, site
from tests.web.oauth_flow import (
    REDIRECT,
    Client,
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


async def signed_in(s: Site, http: httpx.AsyncClient, name: str = "ada", **person: Any) -> None:
    s.add_person(name, **person)
    assert (await sign_in(http, name, PASSWORD)).status_code == 303


@pytest.mark.parametrize(
    "redirect",
    [
        "http://127.0.0.1.evil.example/cb",
        "http://localhost.evil.example/cb",
        "http://0.0.0.0:9/cb",
        "HTTP://evil.example/cb",
        "https://claude.ai@evil.example/cb",
        "vbscript:msgbox(1)",
        "file:///etc/passwd",
    ],
)
async def test_registration_refuses_look_alike_loopback_and_odd_redirects(
    sandbox: Starlette, home: Path, redirect: str
) -> None:
    async with site(sandbox, home) as s, httpx.AsyncClient(base_url=s.url) as http:
        assert (await register(http, redirect)).status_code == 400, redirect


async def test_ipv6_loopback_forms_are_loopback(sandbox: Starlette, home: Path) -> None:
    async with site(sandbox, home) as s, httpx.AsyncClient(base_url=s.url) as http:
        assert (await register(http, "http://[::1]:8080/cb")).status_code == 201


@pytest.mark.parametrize(
    "foreign",
    [
        REDIRECT + "?next=https://evil.example",
        REDIRECT.replace("/callback", "/CALLBACK"),
        REDIRECT.replace(":9/", ":10/"),
        REDIRECT + "/../evil",
        REDIRECT + "%2F..%2Fevil",
        "http://localhost:9/callback",
    ],
)
async def test_an_authorize_redirect_must_equal_the_registered_one(
    sandbox: Starlette, home: Path, foreign: str
) -> None:
    async with site(sandbox, home) as s, httpx.AsyncClient(base_url=s.url) as http:
        client = await registered(http)
        answer = await authorize(http, client, redirect_uri=foreign)
        assert answer.status_code == 400 and "location" not in answer.headers, foreign


@pytest.mark.parametrize("next_path", ["//evil.example", "/\\evil.example", "https://evil.example", "/\t/evil.example"])
async def test_sign_in_never_sends_the_browser_to_another_site(sandbox: Starlette, home: Path, next_path: str) -> None:
    async with site(sandbox, home) as s, httpx.AsyncClient(base_url=s.url) as http:
        s.add_person("ada")
        answer = await sign_in(http, "ada", PASSWORD, next_path=next_path)
        assert answer.status_code == 303 and answer.headers["location"] == "/signin"
        page = await http.get("/signin", params={"next": next_path})
        assert page.status_code == 200


async def test_a_refresh_by_another_client_or_for_more_scopes_is_refused_and_the_grant_lives(
    sandbox: Starlette, home: Path
) -> None:
    async with site(sandbox, home) as s, httpx.AsyncClient(base_url=s.url) as http:
        await signed_in(s, http)
        client, other = await registered(http), await registered(http)
        tokens = (await exchange(http, client, await code_for(http, client))).json()
        stolen = await refresh(http, other, tokens["refresh_token"])
        assert stolen.status_code == 400 and stolen.json()["error"] == "invalid_grant"
        wider = await http.post(
            "/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": tokens["refresh_token"],
                "client_id": client.client_id,
                "scope": "errors:write",
            },
        )
        assert wider.status_code == 400 and wider.json()["error"] == "invalid_scope"
        again = await refresh(http, client, tokens["refresh_token"])
        assert again.status_code == 200 and again.json()["scope"] == tokens["scope"]


async def test_a_consent_answered_twice_gives_one_code(sandbox: Starlette, home: Path) -> None:
    async with site(sandbox, home) as s, httpx.AsyncClient(base_url=s.url) as http:
        await signed_in(s, http)
        client = await registered(http)
        html, request_id = await consent_form(http, client)
        assert "code" in redirected_params(await answer_consent(http, html, request_id))
        replay = await answer_consent(http, html, request_id)
        assert replay.status_code == 400 and "location" not in replay.headers


async def test_a_consent_form_posted_from_another_site_is_refused(sandbox: Starlette, home: Path) -> None:
    async with site(sandbox, home) as s, httpx.AsyncClient(base_url=s.url) as http:
        await signed_in(s, http)
        client = await registered(http)
        html, request_id = await consent_form(http, client)
        csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
        assert csrf
        forged = await http.post(
            "/consent",
            data={
                "csrf": csrf.group(1),
                "request": request_id,
                "decision": "allow",
                "access": "read",
                "project": "x",
                "expires": "86400",
            },
            headers={"Origin": "https://evil.example"},
        )
        assert forged.status_code == 403


async def test_a_signed_out_session_cookie_is_dead_on_the_server(sandbox: Starlette, home: Path) -> None:
    async with site(sandbox, home) as s, httpx.AsyncClient(base_url=s.url) as http:
        await signed_in(s, http)
        cookie = http.cookies.get("bw_session")
        assert cookie
        page = await http.get("/signin")
        csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
        assert csrf
        assert (await http.post("/signout", data={"csrf": csrf.group(1)})).status_code == 303
        async with httpx.AsyncClient(base_url=s.url, cookies={"bw_session": cookie}) as replay:
            assert "signed in as" not in (await replay.get("/signin")).text


async def test_a_session_cookie_planted_before_sign_in_is_not_the_one_after(sandbox: Starlette, home: Path) -> None:
    async with site(sandbox, home) as s, httpx.AsyncClient(base_url=s.url) as http:
        s.add_person("ada")
        page = await http.get("/signin")
        csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
        assert csrf
        answer = await http.post(
            "/signin",
            data={"csrf": csrf.group(1), "name": "ada", "password": PASSWORD},
            headers={"Cookie": f"bw_csrf={http.cookies['bw_csrf']}; bw_session=planted"},
        )
        assert answer.status_code == 303
        issued = re.search(r"bw_session=([^;]+)", answer.headers["set-cookie"])
        assert issued and issued.group(1) != "planted"


async def test_unknown_names_and_wrong_passwords_read_the_same(sandbox: Starlette, home: Path) -> None:
    async with site(sandbox, home) as s, httpx.AsyncClient(base_url=s.url) as http:
        s.add_person("ada")
        known = await sign_in(http, "ada", "wrong password here")
        unknown = await sign_in(http, "nobody", "wrong password here")
        assert known.status_code == unknown.status_code == 401
        assert known.text.replace("ada", "NAME") == unknown.text.replace("nobody", "NAME")


async def test_no_secret_reaches_the_audit_log(sandbox: Starlette, home: Path) -> None:
    async with site(sandbox, home) as s, httpx.AsyncClient(base_url=s.url) as http:
        await signed_in(s, http)
        client = await registered(http)
        code = await code_for(http, client)
        tokens = (await exchange(http, client, code)).json()
        await exchange(http, client, code)  # reuse: revokes
        await refresh(http, client, tokens["refresh_token"])
        await sign_in(http, "ada", "a wrong password!")
        text = repr(s.audit())
        for secret in (code, tokens["access_token"], tokens["refresh_token"], PASSWORD, "a wrong password!"):
            assert secret not in text
        consents = [r for r in s.audit() if r.get("tool") == "consent" or r.get("action") == "consent"]
        assert consents, "consent is audited"


async def test_a_client_name_cannot_hide_or_reorder_text_on_the_consent_page(sandbox: Starlette, home: Path) -> None:
    async with site(sandbox, home) as s, httpx.AsyncClient(base_url=s.url) as http:
        await signed_in(s, http)
        answer = await register(http, client_name="Claude\u202e\u200b <b>Official</b>\u2066")
        client_id = answer.json()["client_id"]
        html, _ = await consent_form(http, Client(client_id, REDIRECT))
        for hidden in ("\u202e", "\u200b", "\u2066"):
            assert hidden not in html
        assert "[U+202E]" in html and "&lt;b&gt;" in html


async def test_x_forwarded_for_does_not_make_a_loopback_caller_the_sso_proxy(sandbox: Starlette, home: Path) -> None:
    header = "X-Forwarded-User"
    async with site(sandbox, home, trusted_proxy_header=header, trusted_proxy_from=("10.0.0.0/8",)) as s:
        s.add_person("ada", admin=True)
        async with httpx.AsyncClient(base_url=s.url) as http:
            spoofed = await http.get("/signin", headers={header: "ada", "X-Forwarded-For": "10.0.0.5"})
            assert spoofed.status_code == 403 and "signed in as" not in spoofed.text


async def test_x_forwarded_for_does_not_reset_the_sign_in_limit_per_address(sandbox: Starlette, home: Path) -> None:
    async with site(sandbox, home) as s, httpx.AsyncClient(base_url=s.url) as http:
        statuses = []
        for n in range(25):
            page = await http.get("/signin")
            csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
            assert csrf
            answer = await http.post(
                "/signin",
                data={"csrf": csrf.group(1), "name": f"name{n}", "password": "wrong password!!"},
                headers={"X-Forwarded-For": f"198.51.100.{n}"},
            )
            statuses.append(answer.status_code)
        assert 429 in statuses


def test_x_forwarded_for_is_believed_only_from_the_proxies_the_operator_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FORWARDED_ALLOW_IPS", raising=False)
    assert forwarded_options()["proxy_headers"] is False
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "127.0.0.1")
    assert forwarded_options() == {"proxy_headers": True, "forwarded_allow_ips": "127.0.0.1"}


@pytest.mark.parametrize(
    "address",
    [
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "64:ff9b::a00:5",  # NAT64 of 10.0.0.5
        "64:ff9b:1::7f00:1",  # local-use NAT64 prefix
        "2002:a00:5::1",  # 6to4 of 10.0.0.5
        "2001:0:4136:e378:8000:63bf:f5ff:fffe",  # Teredo (client 10.0.0.1)
        "::7f00:1",  # IPv4-compatible 127.0.0.1
        "::ffff:169.254.169.254",
    ],
)
def test_ipv6_forms_that_carry_a_private_ipv4_address_are_not_public(address: str) -> None:
    from bugwarden.web.oauth.documents import DocumentError, check_url
    from bugwarden.web.oauth.policy import public_address

    assert not public_address(address)
    with pytest.raises(DocumentError):
        check_url(f"https://[{address}]/client.json")


async def test_a_person_cannot_reach_anothers_grant_or_a_static_token_by_its_id(sandbox: Starlette, home: Path) -> None:
    from bugwarden.guard.tokens import TokenStore
    from tests.web.helpers import csrf_of

    async with site(sandbox, home) as s:
        static, _ = TokenStore(s.store.tokens).create("ci", "read")
        async with httpx.AsyncClient(base_url=s.url) as ada:
            await signed_in(s, ada, "ada")
            client = await registered(ada)
            assert (await exchange(ada, client, await code_for(ada, client))).status_code == 200
        grant = next(t for t in TokenStore(s.store.tokens).list() if t.person == "ada")
        async with httpx.AsyncClient(base_url=s.url) as bob:
            await signed_in(s, bob, "bob")
            csrf = csrf_of((await bob.get("/console/agents")).text)
            for agent_id in (grant.id, static.id):
                assert (await bob.get(f"/console/agents/{agent_id}")).status_code == 404
                assert (await bob.get(f"/console/agents/{agent_id}/revoke")).status_code == 404
                revoked = await bob.post(f"/console/agents/{agent_id}/revoke", data={"csrf": csrf, "confirm": "yes"})
                assert revoked.status_code == 404
                grid = await bob.post(f"/console/agents/{agent_id}/access", data={"csrf": csrf})
                assert grid.status_code == 403
        assert TokenStore(s.store.tokens).get(grant.id).state() == "active"
        assert TokenStore(s.store.tokens).get(static.id).state() == "active"


async def test_the_consent_page_cannot_be_framed_or_cached(sandbox: Starlette, home: Path) -> None:
    async with site(sandbox, home) as s, httpx.AsyncClient(base_url=s.url) as http:
        await signed_in(s, http)
        client = await registered(http)
        answer = await authorize(http, client)
        page = await http.get(answer.headers["location"])
        assert page.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        assert page.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    "redirect", ["https://a.example;sandbox/cb", "https://a.example,x/cb", "https://a.example;x/cb"]
)
async def test_a_redirect_host_cannot_add_directives_to_the_consent_pages_csp(
    sandbox: Starlette, home: Path, redirect: str
) -> None:
    async with site(sandbox, home) as s, httpx.AsyncClient(base_url=s.url) as http:
        answer = await register(http, redirect)
        assert answer.status_code == 400 and answer.json()["error"] == "invalid_redirect_uri", answer.text


def test_a_form_action_source_that_could_end_a_directive_is_left_out() -> None:
    from bugwarden.web.site import content_security_policy

    policy = content_security_policy(["https://a.example;sandbox", "https://b.example,c", "https://ok.example"])
    assert "form-action 'self' https://ok.example;" in policy and "sandbox" not in policy and "," not in policy


async def test_a_hostile_approval_is_shown_escaped_and_with_nothing_hidden(sandbox: Starlette, home: Path) -> None:
    from bugwarden.store.approvals import ApprovalStore

    hostile = "<script>window.pwned=1</script>\u202eeteled\u200b"
    async with site(sandbox, home) as s:
        ApprovalStore(s.store.state).request(
            "d" * 64,
            principal_id="tok_x",
            principal_name=hostile,
            tool="delete_error",
            targets={"project_id": "p1", "error_id": hostile},
            arguments={"error_id": hostile},
            question=hostile,
        )
        s.add_person("lead", bundle="admin", admin=True)
        async with httpx.AsyncClient(base_url=s.url) as http:
            await sign_in(http, "lead")
            page = await http.get("/console/approvals")
            assert page.status_code == 200 and "delete_error" in page.text
            assert "<script>" not in page.text and "\u202e" not in page.text and "\u200b" not in page.text


async def test_audit_rows_show_hidden_code_points_on_the_page_and_in_the_live_view(
    sandbox: Starlette, home: Path
) -> None:
    from bugwarden.guard.audit import AuditLog

    async with site(sandbox, home) as s:
        s.add_person("lead", bundle="admin", admin=True)
        async with httpx.AsyncClient(base_url=s.url) as http:
            await sign_in(http, "lead")
            AuditLog(s.store.audit).append(
                {
                    "phase": "result",
                    "transport": "http",
                    "outcome": "ok",
                    "tool": "get_error",
                    "decision": "allowed",
                    "principal_id": "tok_b",
                    "principal_name": "ci\u202egnp.exe",
                    "client_name": "agent\u200b",
                    "reason": "ok\u2066",
                    "targets": {"project_id": "p1", "error_id": "e\u202e2"},
                }
            )
            page = await http.get("/console/audit")
            poll = await http.get("/console/audit/poll", params={"after": "0"})
            for text in (page.text, poll.json()["rows"]):
                assert "[U+202E]" in text
                assert not any(c in text for c in "\u202e\u200b\u2066")


async def test_authorization_requests_are_limited_per_address(sandbox: Starlette, home: Path) -> None:
    from bugwarden.http_app import AUTHORIZATIONS_PER_MINUTE

    async with site(sandbox, home) as s, httpx.AsyncClient(base_url=s.url) as http:
        client = await registered(http)
        statuses = [(await authorize(http, client)).status_code for _ in range(AUTHORIZATIONS_PER_MINUTE + 5)]
        assert statuses[:AUTHORIZATIONS_PER_MINUTE] == [302] * AUTHORIZATIONS_PER_MINUTE
        refused = await authorize(http, client)
        assert refused.status_code == 429 and "retry-after" in refused.headers
        assert "location" not in refused.headers
        s.clock.now += 120
        assert (await authorize(http, client)).status_code == 302


async def test_a_code_given_by_a_person_removed_before_the_exchange_opens_nothing(
    sandbox: Starlette, home: Path
) -> None:
    from bugwarden.web.people import People
    from tests.web.test_oauth_rules import INIT, MCP_HEADERS

    async with site(sandbox, home) as s, httpx.AsyncClient(base_url=s.url) as http:
        await signed_in(s, http)
        client = await registered(http)
        code = await code_for(http, client)
        People(s.store.tokens).remove("ada")
        answer = await exchange(http, client, code)
        if answer.status_code == 200:
            bearer = {**MCP_HEADERS, "Authorization": f"Bearer {answer.json()['access_token']}"}
            assert (await http.post("/mcp", json=INIT, headers=bearer)).status_code in (401, 403)


async def test_a_client_id_url_with_control_characters_is_neither_fetched_nor_logged_raw(
    sandbox: Starlette, home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fetched: list[str] = []

    async def fetch(url: str) -> bytes:
        fetched.append(url)
        return b"{}"

    forged = "https://agent.example/client.json\n2026-12-03 WARNING bugwarden.oauth: all is well"
    async with site(sandbox, home, metadata_fetch=fetch) as s, httpx.AsyncClient(base_url=s.url) as http:
        answer = await authorize(http, Client(forged, REDIRECT))
        assert answer.status_code == 400
    assert fetched == []
    assert not any("\n" in record.getMessage() for record in caplog.records)
