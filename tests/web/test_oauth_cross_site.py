"""A person already signed in who arrives at /authorize from another site (claude.ai's connector button) goes
straight to the consent page: the SameSite=Strict session cookie is not sent on that cross-site navigation, so a
second, SameSite=Lax cookie recognises them there, and only there. Every form still needs its CSRF token."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from starlette.applications import Starlette

from bugwarden.web.people import People
from tests.browser import Chromium
from tests.web.helpers import PASSWORD, Site, csrf_of, site
from tests.web.oauth_flow import REDIRECT, VERIFIER, registered, s256

pytestmark = pytest.mark.anyio
ELSEWHERE = "https://claude.ai/settings/connectors"


async def _authorize_url(s: Site) -> str:
    async with httpx.AsyncClient(base_url=s.url) as http:
        client = await registered(http)
    query = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": REDIRECT,
        "state": "st4te",
        "code_challenge": s256(VERIFIER),
        "code_challenge_method": "S256",
        "resource": f"{s.url}/mcp",
    }
    return f"{s.url}/authorize?{urlencode(query)}"


def _from_another_site(page: Any, url: str) -> None:
    """Open a page of another site (claude.ai, served by the test) and follow its link to `url`: a cross-site,
    top-level navigation, as when a person adds a connector."""
    link = f'<html><body><a href="{url}">Connect bugwarden</a></body></html>'
    page.route(ELSEWHERE, lambda route: route.fulfill(body=link, content_type="text/html"))
    page.goto(ELSEWHERE)
    page.get_by_role("link", name="Connect bugwarden").click()
    page.wait_for_load_state()


async def test_a_signed_in_person_arriving_from_another_site_sees_consent_not_sign_in(
    sandbox: Starlette, home: Path, chromium: Chromium
) -> None:
    """In one browser: nobody signed in yet is asked to sign in first; a form another site posts to /consent
    answers nothing; then, signed in, a person sent from another site goes straight to the consent page."""
    async with site(sandbox, home) as s:
        s.add_person("ada")
        url = await _authorize_url(s)
        async with httpx.AsyncClient(base_url=s.url) as attacker:  # the attacker opens a request of their own
            started = await attacker.get(await _authorize_url(s))
        request_id = started.headers["location"].split("request=")[1]
        forged = (
            f'<html><body><form method="post" action="{s.url}/consent">'
            f'<input name="request" value="{request_id}"><input name="decision" value="allow">'
            '<input name="access" value="read"><input name="expires" value="86400">'
            "<button>Win a prize</button></form></body></html>"
        )

        def drive(page: Any) -> dict[str, str]:
            page.route(REDIRECT + "**", lambda route: route.fulfill(body="back at the agent"))
            seen: dict[str, str] = {}
            _from_another_site(page, url)
            seen["first"] = page.get_by_role("heading", level=1).inner_text()
            page.get_by_label("Name").fill("ada")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            seen["after sign-in"] = page.get_by_role("heading", level=1).inner_text()

            page.route(ELSEWHERE, lambda route: route.fulfill(body=forged, content_type="text/html"))
            page.goto(ELSEWHERE)
            with page.expect_navigation():
                page.get_by_role("button", name="Win a prize").click()
            seen["forged"] = page.url + " " + page.locator("body").inner_text()
            page.unroute(ELSEWHERE)

            _from_another_site(page, url)
            seen["heading"], seen["url"] = page.get_by_role("heading", level=1).inner_text(), page.url
            if seen["heading"] != "Connect Test Agent?":
                return seen
            page.get_by_role("button", name="Allow").click()
            page.wait_for_url(REDIRECT + "**")
            seen["redirected"] = page.url
            return seen

        seen = await chromium.arun(drive)
        assert (seen["first"], seen["after sign-in"]) == ("Sign in", "Connect Test Agent?"), seen
        assert "code=" not in seen["forged"] and "another site" in seen["forged"], seen
        assert seen["heading"] == "Connect Test Agent?", seen
        assert "/consent?request=" in seen["url"]
        assert "code=" in seen["redirected"] and "state=st4te" in seen["redirected"]
        answered = [r["decision"] for r in s.audit() if r["tool"] == "consent"]
        assert answered == ["allowed"], "the forged form answered nothing"


async def test_the_consent_cookie_opens_only_the_consent_page_and_forms_still_need_csrf(
    sandbox: Starlette, home: Path
) -> None:
    async with site(sandbox, home) as s, httpx.AsyncClient(base_url=s.url) as http:
        s.add_person("ada", admin=True)
        page = await http.get("/signin")
        signed = await http.post("/signin", data={"csrf": csrf_of(page.text), "name": "ada", "password": PASSWORD})
        assert signed.status_code == 303
        assert {c.name for c in http.cookies.jar} >= {"bw_session", "bw_consent", "bw_csrf"}
        lax = {c.name: c for c in http.cookies.jar}["bw_consent"]
        assert lax.value != http.cookies["bw_session"], "its own secret, not a copy of the session's"
        set_cookies = signed.headers.get_list("set-cookie")
        assert any(c.startswith("bw_consent=") and "samesite=lax" in c.lower() for c in set_cookies)
        assert any(c.startswith("bw_session=") and "samesite=strict" in c.lower() for c in set_cookies)

        # What a cross-site navigation carries: the Lax cookies alone (the consent cookie and the CSRF seed, which
        # the consent page keeps: forms open in other tabs go on working).
        only_lax = {"bw_consent": lax.value or "", "bw_csrf": http.cookies["bw_csrf"]}
        async with httpx.AsyncClient(base_url=s.url, cookies=only_lax) as cross:
            url = await _authorize_url(s)
            consent = await cross.get(url, follow_redirects=True)
            assert consent.status_code == 200 and "Connect Test Agent?" in consent.text
            assert not any(c.startswith("bw_csrf=") for c in consent.headers.get_list("set-cookie"))
            for path in ("/console", "/console/agents", "/signin"):
                answer = await cross.get(path)
                assert answer.status_code == 303 or "Sign in" in answer.text, path
                assert "ada" not in answer.text, f"{path} does not know the person from the consent cookie"
            request_id = consent.text.split('name="request" value="')[1].split('"')[0]
            # A form posted with the consent page's CSRF token but without the session cookie is refused, and one
            # without the token too.
            post = await cross.post(
                "/consent",
                data={"csrf": csrf_of(consent.text), "request": request_id, "decision": "deny"},
            )
            assert post.status_code in (303, 403) and "code=" not in post.headers.get("location", "")
            assert "access_denied" not in post.headers.get("location", ""), "the consent cookie cannot answer"
        no_csrf = await http.post("/consent", data={"request": request_id, "decision": "deny"})
        assert no_csrf.status_code == 403

        # Signing out ends the consent cookie's session too.
        console = await http.get("/console/audit")
        await http.post("/signout", data={"csrf": csrf_of(console.text)})
        async with httpx.AsyncClient(base_url=s.url, cookies=only_lax) as cross:
            again = await cross.get(url, follow_redirects=True)
            assert "Sign in" in again.text and "Connect Test Agent?" not in again.text


async def test_on_https_the_consent_cookie_is_secure_with_the_host_prefix(sandbox: Starlette, home: Path) -> None:
    async with (
        site(sandbox, home, public_url="https://mcp.example.com") as s,
        httpx.AsyncClient(base_url=s.url) as http,
    ):
        s.add_person("ada")
        page = await http.get("/signin")
        seed = page.headers["set-cookie"].split(";")[0].split("=", 1)[1]
        answer = await http.post(
            "/signin",
            data={"csrf": csrf_of(page.text), "name": "ada", "password": PASSWORD},
            headers={"Cookie": f"__Host-bw_csrf={seed}", "Origin": "https://mcp.example.com"},
        )
        consent = next(c for c in answer.headers.get_list("set-cookie") if c.startswith("__Host-bw_consent="))
        assert all(part in consent for part in ("Secure", "HttpOnly", "SameSite=lax", "Path=/")), consent
        assert "Domain" not in consent


async def test_a_password_change_ends_the_consent_cookie_too(sandbox: Starlette, home: Path) -> None:
    async with site(sandbox, home) as s, httpx.AsyncClient(base_url=s.url) as http:
        s.add_person("ada")
        page = await http.get("/signin")
        await http.post("/signin", data={"csrf": csrf_of(page.text), "name": "ada", "password": PASSWORD})
        only_lax = {"bw_consent": http.cookies["bw_consent"]}
        url = await _authorize_url(s)
        async with httpx.AsyncClient(base_url=s.url, cookies=only_lax) as cross:
            assert "Connect Test Agent?" in (await cross.get(url, follow_redirects=True)).text
            People(s.store.tokens).set_password("ada", "a brand new passphrase")
            again = await cross.get(await _authorize_url(s), follow_redirects=True)
            assert "Connect Test Agent?" not in again.text and "Sign in" in again.text
