"""The web foundation: sign-in and sign-out, sessions, CSRF, security headers, rate limits and their audit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from bugwarden.web.site import safe_next
from tests.browser import Chromium
from tests.web.helpers import PASSWORD, csrf_of, sign_in, site

pytestmark = pytest.mark.anyio


async def test_a_person_signs_in_sees_who_they_are_and_signs_out(sandbox: Starlette, home: Path) -> None:
    async with site(sandbox, home) as s, httpx.AsyncClient(base_url=s.url) as http:
        s.add_person("ada", bundle="triage", projects=["p1"])
        answer = await sign_in(http, "ada")
        assert answer.status_code == 303 and answer.headers["location"] == "/signin"
        cookie = answer.headers.get_list("set-cookie")
        session = next(c for c in cookie if c.startswith("bw_session="))
        assert "HttpOnly" in session and "SameSite=strict" in session and "Path=/" in session
        assert "Secure" not in session, "plain http (a loopback public URL) cannot carry Secure cookies"
        page = await http.get("/signin")
        assert "You are signed in as ada" in page.text and "triage" in page.text
        out = await http.post("/signout", data={"csrf": csrf_of(page.text)})
        assert out.status_code == 303
        assert "Sign in" in (await http.get("/signin")).text
        records = [r for r in s.audit() if r["transport"] == "web"]
        assert [(r["tool"], r["outcome"]) for r in records] == [("sign_in", "ok"), ("sign_out", "ok")]
        assert PASSWORD not in str(s.audit())


async def test_a_session_ends_when_it_expires_or_the_password_changes(sandbox: Starlette, home: Path) -> None:
    async with site(sandbox, home) as s, httpx.AsyncClient(base_url=s.url) as http:
        s.add_person("ada")
        await sign_in(http, "ada")
        assert "signed in as ada" in (await http.get("/signin")).text
        s.clock.now += 8 * 3600 + 1
        assert "signed in as ada" not in (await http.get("/signin")).text
        await sign_in(http, "ada")
        from bugwarden.web.people import People

        People(s.store.tokens).set_password("ada", "a brand new passphrase")
        assert "signed in as ada" not in (await http.get("/signin")).text


async def test_a_wrong_password_is_refused_and_audited_without_the_password(sandbox: Starlette, home: Path) -> None:
    async with site(sandbox, home) as s, httpx.AsyncClient(base_url=s.url) as http:
        s.add_person("ada")
        for name in ("ada", "nobody"):
            answer = await sign_in(http, name, "not the password at all")
            assert answer.status_code == 401 and "Wrong name or password." in answer.text
            assert not any(c.startswith("bw_session=") for c in answer.headers.get_list("set-cookie"))
        failed = [r for r in s.audit() if r["tool"] == "sign_in"]
        assert [(r["principal_name"], r["decision"], r["reason"]) for r in failed] == [
            ("ada", "denied", "wrong name or password"),
            ("nobody", "denied", "wrong name or password"),
        ]
        assert failed[0]["arguments"] == {"name": "ada", "address": "127.0.0.1"}
        assert "not the password" not in str(s.audit())


async def test_sign_in_attempts_are_limited_per_name_and_per_address(sandbox: Starlette, home: Path) -> None:
    async with site(sandbox, home) as s, httpx.AsyncClient(base_url=s.url) as http:
        s.add_person("ada")
        for _ in range(5):
            assert (await sign_in(http, "ada", "wrong wrong wrong")).status_code == 401
        limited = await sign_in(http, "ada")
        assert limited.status_code == 429 and "Too many sign-in attempts" in limited.text
        assert int(limited.headers["retry-after"]) > 0
        assert s.audit()[-1]["outcome"] == "rate_limited"
        s.clock.now += 60
        assert (await sign_in(http, "ada")).status_code == 303, "the limit lifts with time"
        # Per address: many names from one address run into the address's budget.
        s.clock.now += 60
        answers = [(await sign_in(http, f"guess{i}", "wrong wrong wrong")).status_code for i in range(21)]
        assert answers[-1] == 429 and set(answers[:20]) == {401}


async def test_a_form_without_its_csrf_token_is_refused(sandbox: Starlette, home: Path) -> None:
    async with site(sandbox, home) as s, httpx.AsyncClient(base_url=s.url) as http:
        s.add_person("ada")
        await http.get("/signin")
        for data in ({"name": "ada", "password": PASSWORD}, {"name": "ada", "password": PASSWORD, "csrf": "00ff"}):
            answer = await http.post("/signin", data=data)
            assert answer.status_code == 403 and "CSRF" in answer.text
        page = await http.get("/signin")
        foreign = await http.post(
            "/signin",
            data={"csrf": csrf_of(page.text), "name": "ada", "password": PASSWORD},
            headers={"Origin": "https://evil.example"},
        )
        assert foreign.status_code == 403
        assert not [r for r in s.audit() if r["outcome"] == "ok"], "nobody signed in"


async def test_pages_carry_the_security_headers(sandbox: Starlette, home: Path) -> None:
    async with site(sandbox, home) as s, httpx.AsyncClient(base_url=s.url) as http:
        for path in ("/signin", "/static/web.css", "/static/nope.css"):
            answer = await http.get(path)
            csp = answer.headers["content-security-policy"]
            assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
            assert answer.headers["x-frame-options"] == "DENY"
            assert answer.headers["x-content-type-options"] == "nosniff"
            assert answer.headers["referrer-policy"] == "same-origin"
        page = await http.get("/signin")
        assert "<script" not in page.text and " style=" not in page.text
        assert page.headers["cache-control"] == "no-store"


async def test_names_are_escaped_in_pages(sandbox: Starlette, home: Path) -> None:
    async with site(sandbox, home) as s, httpx.AsyncClient(base_url=s.url) as http:
        answer = await sign_in(http, "<script>alert(1)</script>", "wrong wrong wrong")
        assert "<script>alert(1)" not in answer.text and "&lt;script&gt;" in answer.text


async def test_without_a_public_url_there_are_no_pages(sandbox: Starlette, home: Path) -> None:
    from tests.test_http import serving

    async with serving(sandbox, home) as (url, _), httpx.AsyncClient(base_url=url) as http:
        assert (await http.get("/signin")).status_code == 404


def test_after_sign_in_only_paths_on_this_site_are_followed() -> None:
    assert safe_next("/authorize/consent?r=1") == "/authorize/consent?r=1"
    for hostile in ("https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:alert(1)", "/a\nb"):
        assert safe_next(hostile) == "/signin", hostile


async def test_a_person_signs_in_with_a_real_browser_by_the_labels(
    sandbox: Starlette, home: Path, chromium: Chromium
) -> None:
    async with site(sandbox, home) as s:
        s.add_person("ada")

        def sign_in_wrong_then_right(page: Any) -> tuple[str, str]:
            page.goto(f"{s.url}/signin")
            page.get_by_label("Name").fill("ada")
            page.get_by_label("Password").fill("not the password")
            page.get_by_role("button", name="Sign in").click()
            refused = page.get_by_role("alert").inner_text()
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            return refused, page.get_by_role("heading").first.inner_text()

        refused, heading = await chromium.arun(sign_in_wrong_then_right)
        assert refused == "Wrong name or password." and heading == "Signed in"


def test_the_user_commands_add_list_change_and_remove_people(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io

    from bugwarden.cli import main
    from bugwarden.store import Store
    from bugwarden.web.people import People

    monkeypatch.setenv("BUGWARDEN_HOME", str(home))

    def run(*argv: str, stdin: str = "") -> tuple[int, str, str]:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    code, out, _ = run(
        "user",
        "add",
        "ada",
        "--bundle",
        "triage",
        "--project",
        "p1",
        "--admin",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert code == 0 and out == "added ada: may grant up to triage; projects p1; console admin yes\n"
    assert run("user", "add", "bob", "--password-stdin", stdin="short\n")[2] == (
        "bugwarden: the password must have at least 12 characters\n"
    )
    assert "already a person named 'ada'" in run("user", "add", "ada", "--password-stdin", stdin=PASSWORD)[2]
    assert "not a usable name" in run("user", "add", "-x y", "--password-stdin", stdin=PASSWORD)[2]
    code, out, _ = run("user", "list")
    assert out.startswith("ada\ttriage\tp1\tadmin\tadded ")
    assert run("user", "passwd", "ada", "--password-stdin", stdin="a new long passphrase\n")[0] == 0
    store = Store.sqlite(home)
    try:
        assert People(store.tokens).authenticate("ada", "a new long passphrase") is not None
        assert People(store.tokens).authenticate("ada", PASSWORD) is None
        with store.tokens.transaction() as tx:
            raw = tx.execute("SELECT password_hash FROM people").fetchone()[0]
        assert raw.startswith("$argon2id$") and PASSWORD not in raw
    finally:
        store.close()
    assert run("user", "remove", "ada")[1] == "removed ada\n"
    assert "no person named 'ada'" in run("user", "remove", "ada")[2]
    assert run("user", "add", "x", "--password-stdin", stdin="")[0] == 2


async def test_behind_an_sso_proxy_a_trusted_header_names_the_person(sandbox: Starlette, home: Path) -> None:
    header = "X-Forwarded-User"
    async with site(sandbox, home, trusted_proxy_header=header, trusted_proxy_from=("127.0.0.0/8",)) as s:
        s.add_person("ada")
        async with httpx.AsyncClient(base_url=s.url) as http:
            page = await http.get("/signin", headers={"X-Forwarded-User": "ada"})
            assert "signed in as ada" in page.text
            assert "signed in as" not in (await http.get("/signin", headers={"X-Forwarded-User": "nobody"})).text
    async with site(sandbox, home / "other", trusted_proxy_header=header, trusted_proxy_from=("10.0.0.0/8",)) as s:
        s.add_person("ada")
        async with httpx.AsyncClient(base_url=s.url) as http:
            refused = await http.get("/signin", headers={"X-Forwarded-User": "ada"})
            assert refused.status_code == 403, "the header is refused from any address but the proxy's"
            assert "Sign in" in (await http.get("/signin")).text, "without the header, people sign in as usual"


def test_a_trusted_proxy_header_needs_the_proxys_address(home: Path, monkeypatch, capsys) -> None:
    from bugwarden.cli import main

    monkeypatch.setenv("BUGSNAG_AUTH_TOKEN", "t")
    argv = ["serve", "--transport", "http", "--public-url", "https://mcp.example.com"]
    assert main([*argv, "--trusted-proxy-header", "X-Forwarded-User"]) == 2
    assert "needs --trusted-proxy-from" in capsys.readouterr().err
    assert main([*argv, "--trusted-proxy-header", "X-User", "--trusted-proxy-from", "nonsense"]) == 2
    assert "is not an address or network" in capsys.readouterr().err


async def test_on_https_cookies_are_secure_with_the_host_prefix(sandbox: Starlette, home: Path) -> None:
    async with site(sandbox, home, public_url="https://mcp.example.com") as s:
        s.add_person("ada")
        async with httpx.AsyncClient(base_url=s.url) as http:
            page = await http.get("/signin")
            csrf_cookie = page.headers["set-cookie"]
            assert csrf_cookie.startswith("__Host-bw_csrf=") and "Secure" in csrf_cookie and "HttpOnly" in csrf_cookie
            seed = csrf_cookie.split(";")[0].split("=", 1)[1]
            answer = await http.post(
                "/signin",
                data={"csrf": csrf_of(page.text), "name": "ada", "password": PASSWORD},
                headers={"Cookie": f"__Host-bw_csrf={seed}", "Origin": "https://mcp.example.com"},
            )
            session = answer.headers["set-cookie"]
            assert answer.status_code == 303 and session.startswith("__Host-bw_session=")
            assert all(part in session for part in ("Secure", "HttpOnly", "SameSite=strict", "Path=/"))
            assert "Domain" not in session
