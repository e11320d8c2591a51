"""The web foundation every page builds on: who is signed in, CSRF, rendering, security headers.

A page is a Starlette endpoint registered in `Web.routes()` (or `PAGES`):

    async def audit_page(request: Request) -> Response:
        person = await require_person(request)          # 303 to /signin when nobody is signed in
        return render(request, "console/audit.html", records=...)

    async def revoke(request: Request) -> Response:
        person = await require_admin(request)           # 403 for a person without --admin
        form = await check_csrf(request)                # 403 without the form's CSRF token
        ...
        return redirect(request, "/console/agents")

In a template, every form carries `{{ csrf_field() }}`; `person` is the signed-in person (or None) and
`request` the request. Templates live in `web/templates/` (autoescaped; `base.html` is the layout with blocks
`title`, `nav` and `main`); stylesheets and scripts in `web/static/` are served at `/static/NAME` (the CSP
allows scripts from this origin only, never inline).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import anyio.to_thread
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ..guard.audit import AuditLog
from ..model import Project
from ..render.text import visible
from ..store import Store
from ..store.buckets import CallBudgets
from ..store.keys import KeyRing
from ..store.people import Person
from .people import People

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
SESSION_LIFETIME = 8 * 3600.0
"""A browser session ends 8 hours after sign-in (or at sign-out, a password change, or the person's removal)."""
WEB_KEY = "web"


def shown(value: Any) -> Any:
    """What a template prints for a value: text with every invisible, control or bidi code point as [U+XXXX]
    (names, arguments and questions come from agents, clients and upstreams, and must not hide or reorder what
    a person reads before deciding); markup the code built itself is left as it is."""
    return value if isinstance(value, Markup) or not isinstance(value, str) else visible(value)


_ENV = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(default=True, default_for_string=True),
    finalize=shown,
)


@dataclass
class Web:
    """What pages share: the store's people, keys and audit log, the public URL, a clock (tests move it)."""

    store: Store
    public_url: str
    audit: AuditLog
    keys: KeyRing
    clock: Callable[[], float] = time.time
    signin_per_name: int = 5
    """Sign-in attempts a minute for one name (that many may come at once after a quiet minute)."""
    signin_per_address: int = 20
    """Sign-in attempts a minute from one address."""
    list_projects: Callable[[], Awaitable[list[Project]]] | None = None
    """Every project the trackers show (the consent page offers those a person may grant)."""
    oauth: Any = None
    """The authorization server's provider (web/oauth/provider.py), when it is on."""
    trusted_header: str | None = None
    """Behind an SSO proxy: the request header that names the signed-in person (`--trusted-proxy-header`)..."""
    trusted_from: tuple[IPv4Network | IPv6Network, ...] = ()
    """...believed only from these addresses (`--trusted-proxy-from`); from anywhere else it is refused."""
    people: People = field(init=False)
    signin_budget_name: CallBudgets = field(init=False)
    signin_budget_address: CallBudgets = field(init=False)

    def __post_init__(self) -> None:
        self.people = People(self.store.tokens)
        self.signin_budget_name = CallBudgets(self.store.state, self.signin_per_name)
        self.signin_budget_address = CallBudgets(self.store.state, self.signin_per_address)

    @property
    def secure(self) -> bool:
        """Served over https (behind a TLS-terminating proxy too): cookies get `Secure` and the `__Host-` prefix."""
        return self.public_url.startswith("https://")

    @property
    def origin(self) -> str:
        parts = urlsplit(self.public_url)
        return f"{parts.scheme}://{parts.netloc}"

    def cookie_name(self, base: str) -> str:
        return f"__Host-{base}" if self.secure else base

    def set_cookie(
        self, response: Response, base: str, value: str, max_age: int | None = None, samesite: str = "strict"
    ) -> None:
        """A cookie only this origin's pages send back: HttpOnly, SameSite=Strict (or Lax: the consent cookie, the
        CSRF seed),
        path /, and on https Secure with the `__Host-` prefix (so no subdomain can plant or read it)."""
        response.set_cookie(
            self.cookie_name(base),
            value,
            max_age=max_age,
            path="/",
            secure=self.secure,
            httponly=True,
            samesite=samesite,  # type: ignore[arg-type]
        )

    def clear_cookie(self, response: Response, base: str, samesite: str = "strict") -> None:
        response.delete_cookie(
            self.cookie_name(base),
            path="/",
            secure=self.secure,
            httponly=True,
            samesite=samesite,  # type: ignore[arg-type]
        )


SESSION_COOKIE = "bw_session"
CONSENT_COOKIE = "bw_consent"
"""SameSite=Lax, so a browser sends it when a person arrives from another site (claude.ai's connector button
leads to /authorize, which leads to /consent); it has its own secret, and only the consent page reads it."""
CSRF_COOKIE = "bw_csrf"


def web_of(request: Request) -> Web:
    """The `Web` serving this request."""
    web: Web = request.scope["bugwarden.web"]
    return web


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def rate_key(address: str) -> str:
    """What a per-address limit counts against: the address, or for IPv6 its /64 network (what one subscriber is
    usually given: whoever holds one address there can use 2^64 of them)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


# -- who is signed in ----------------------------------------------------------------------------------------


async def current_person(request: Request, consent_step: bool = False) -> Person | None:
    """The signed-in person, or None (no cookie, an unknown or expired session, or a removed person).

    `consent_step`: also believe the consent cookie (SameSite=Lax), for the consent page only: a cross-site
    navigation (a person sent from claude.ai to /authorize) carries it but not the SameSite=Strict session cookie.
    Whatever the page then posts is a same-site form, sent with the session cookie and checked for CSRF."""
    known: Person | None = request.scope.get("bugwarden.person")
    if known is not None or ("bugwarden.person" in request.scope and not consent_step):
        return known
    web = web_of(request)
    if web.trusted_header is not None and web.trusted_header in request.headers:
        person = await _proxied_person(request, web, request.headers[web.trusted_header])
        request.scope["bugwarden.person"] = person
        return person
    person = await _session_person(web, request.cookies.get(web.cookie_name(SESSION_COOKIE), ""))
    if person is None and consent_step:
        person = await _session_person(web, _consent_secret(request.cookies.get(web.cookie_name(CONSENT_COOKIE), "")))
    request.scope["bugwarden.person"] = person
    return person


async def _session_person(web: Web, secret: str) -> Person | None:
    if not secret or len(secret) >= 200:
        return None
    return await anyio.to_thread.run_sync(web.people.repo.session_person, secret, web.clock())


def _consent_secret(cookie: str) -> str:
    """What the store keeps (hashed) for a consent cookie: apart from session secrets, so that the consent
    cookie's value presented as a session cookie opens nothing."""
    return f"consent:{cookie}" if cookie else ""


async def _proxied_person(request: Request, web: Web, name: str) -> Person | None:
    """The person an SSO proxy names, if the request comes from the proxy (403 from anywhere else)."""
    try:
        address = ipaddress.ip_address(client_address(request))
    except ValueError:
        address = None
    if address is None or not any(address in network for network in web.trusted_from):
        raise HTTPException(403, f"the {web.trusted_header} header is accepted only from the trusted proxy")
    return await anyio.to_thread.run_sync(web.people.get, name.strip()[:64])


async def require_person(request: Request, consent_step: bool = False) -> Person:
    """The signed-in person; nobody signed in raises a 303 to the sign-in page, which comes back here.
    `consent_step`: see `current_person` (the consent page only)."""
    person = await current_person(request, consent_step)
    if person is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise HTTPException(303, headers={"Location": f"/signin?next={quote(target, safe='')}"})
    return person


async def require_admin(request: Request) -> Person:
    """The signed-in person, if they may use the team pages (`user add --admin`); 403 otherwise."""
    person = await require_person(request)
    if not person.admin:
        raise HTTPException(403, "this page is for people added with --admin")
    return person


async def sign_in(request: Request, response: Response, person: Person) -> None:
    """Open a browser session for `person` and set its cookies on `response` (fresh secrets: no fixation): the
    session cookie (SameSite=Strict) and the consent cookie (SameSite=Lax, read by the consent page only)."""
    web = web_of(request)
    secret, consent = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    lifetime = int(SESSION_LIFETIME)

    def open_both() -> None:
        web.people.repo.open_session(secret, person.name, web.clock(), SESSION_LIFETIME)
        web.people.repo.open_session(_consent_secret(consent), person.name, web.clock(), SESSION_LIFETIME)

    await anyio.to_thread.run_sync(open_both)
    web.set_cookie(response, SESSION_COOKIE, secret, max_age=lifetime)
    web.set_cookie(response, CONSENT_COOKIE, consent, max_age=lifetime, samesite="lax")
    request.scope["bugwarden.person"] = person


async def sign_out(request: Request, response: Response) -> None:
    """End this browser's session and its consent cookie's (on every replica) and clear both cookies."""
    web = web_of(request)
    ended = [
        request.cookies.get(web.cookie_name(SESSION_COOKIE), ""),
        _consent_secret(request.cookies.get(web.cookie_name(CONSENT_COOKIE), "")),
    ]
    for secret in ended:
        if secret:
            await anyio.to_thread.run_sync(web.people.repo.close_session, secret)
    web.clear_cookie(response, SESSION_COOKIE)
    web.clear_cookie(response, CONSENT_COOKIE, samesite="lax")
    request.scope["bugwarden.person"] = None


# -- CSRF ----------------------------------------------------------------------------------------------------


def _csrf_token(web: Web, seed: str) -> str:
    return hmac.new(web.keys.key(WEB_KEY), f"csrf:{seed}".encode(), hashlib.sha256).hexdigest()


def csrf_token(request: Request) -> str:
    """This browser's CSRF token: an HMAC of its CSRF cookie (which `render` sets when the browser has none)."""
    web = web_of(request)
    seed = request.scope.get("bugwarden.csrf_seed") or request.cookies.get(web.cookie_name(CSRF_COOKIE), "")
    if not seed or len(seed) > 100:
        seed = secrets.token_urlsafe(24)
        request.scope["bugwarden.csrf_seed"] = seed
        request.scope["bugwarden.csrf_new"] = True
    request.scope["bugwarden.csrf_seed"] = seed
    return _csrf_token(web, seed)


def csrf_field(request: Request) -> Markup:
    """The hidden form field every form must carry (`{{ csrf_field() }}` in a template)."""
    return Markup('<input type="hidden" name="csrf" value="{}">').format(csrf_token(request))


async def check_csrf(request: Request) -> FormData:
    """The request's form, if it carries this browser's CSRF token and comes from this origin; else 403."""
    web = web_of(request)
    origin = request.headers.get("origin")
    if origin is not None and origin != web.origin:
        raise HTTPException(403, "this form was sent from another site")
    form = await request.form()
    seed = request.cookies.get(web.cookie_name(CSRF_COOKIE), "")
    sent = form.get("csrf")
    if not seed or not isinstance(sent, str) or not hmac.compare_digest(sent, _csrf_token(web, seed)):
        raise HTTPException(403, "the form's CSRF token is missing or wrong: reload the page and try again")
    return form


# -- responses -----------------------------------------------------------------------------------------------


def content_security_policy(form_action: Sequence[str] = ()) -> str:
    """No inline script or style, nothing from elsewhere, never framed; forms post here (and, on the consent
    page, redirect to the client's registered address; a source that could end or add a directive is left out)."""
    actions = " ".join(["'self'", *(a for a in form_action if not any(c in a for c in ";, '\"") and a.isprintable())])
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
        f"form-action {actions}; frame-ancestors 'none'; base-uri 'none'"
    )


def security_headers(response: Response, form_action: Sequence[str] = ()) -> Response:
    response.headers["Content-Security-Policy"] = content_security_policy(form_action)
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"  # no-referrer would make form posts say `Origin: null`
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"
    return response


def _finish(request: Request, response: Response) -> Response:
    if request.scope.get("bugwarden.csrf_new"):
        # Lax: the seed is no credential (a form needs its HMAC, which only this site's pages show), and a person
        # arriving from another site (at the consent page) keeps theirs, so forms open in other tabs still work.
        web_of(request).set_cookie(response, CSRF_COOKIE, request.scope["bugwarden.csrf_seed"], samesite="lax")
    return response


def render(
    request: Request, template: str, *, status: int = 200, form_action: Sequence[str] = (), **context: Any
) -> HTMLResponse:
    """A page from `web/templates/`, with `request`, `person` (if known) and `csrf_field()` in its context,
    the security headers, and the CSRF cookie set if this browser had none. `form_action` adds origins a form
    on the page may end up at (the consent page's redirect)."""
    values = {
        "request": request,
        "person": request.scope.get("bugwarden.person"),
        "csrf_field": lambda: csrf_field(request),
        **context,
    }
    body = _ENV.get_template(template).render(values)
    response = HTMLResponse(body, status_code=status)
    return _finish(request, security_headers(response, form_action))  # type: ignore[return-value]


def redirect(request: Request, location: str, form_action: Sequence[str] = ()) -> Response:
    """A 303 (see other) after a form, with the security headers."""
    return _finish(request, security_headers(RedirectResponse(location, status_code=303), form_action))


def safe_next(value: str | None, default: str = "/signin") -> str:
    """A path on this site to go to after sign-in; anything else (another site, `//host`, `/\\host`) is dropped."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")) or len(value) > 2000:
        return default
    if any(ord(c) < 0x20 for c in value):
        return default
    return value
