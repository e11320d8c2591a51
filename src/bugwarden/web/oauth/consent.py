"""The consent page: who is asking (the client's name, marked self-declared when it registered itself, and the
host the code will go to), what it asked for, and what the person grants: `Access` (never above their own
bundle), one checkbox per project (never outside their own), `Expires`; `Allow` or `Deny`.

Deny ends the attempt: the client gets `error=access_denied`. Allow issues a single-use code bound to the client,
its redirect address and PKCE challenge. Either way the pending request is spent.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import anyio.to_thread
from mcp.server.auth.provider import construct_redirect_uri
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...guard.scopes import BUNDLES
from ...store.people import Person
from ..events import audit_event
from ..people import bundles_up_to
from ..site import check_csrf, client_address, redirect, render, require_person, web_of
from .provider import CODE_LIFETIME, Provider

EXPIRY_CHOICES = (("1 day", 86400), ("7 days", 7 * 86400), ("30 days", 30 * 86400), ("90 days", 90 * 86400))
DEFAULT_EXPIRY = 30 * 86400


class ConsentProblem(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def _provider(request: Request) -> Provider:
    """The authorization server's provider, working for this request's address (metadata-document fetches)."""
    provider: Provider = web_of(request).oauth
    return provider.at(client_address(request))


def _problem(request: Request, status: int, message: str) -> Response:
    return render(request, "message.html", status=status, heading="Cannot connect this agent", message=message)


async def _projects(request: Request, person: Person) -> list[tuple[str, str]]:
    """(id, name) of the projects this person may grant, as the trackers name them."""
    web = web_of(request)
    listed: list[tuple[str, str]] = []
    if web.list_projects is not None:
        try:
            listed = [(p.id, p.name) for p in await web.list_projects()]
        except Exception:
            listed = []
    if person.projects:
        names = dict(listed)
        return sorted(((pid, names.get(pid, pid)) for pid in person.projects), key=lambda p: p[1].lower())
    if not listed:
        raise ConsentProblem(503, "bugwarden cannot list the trackers' projects right now. Try again shortly.")
    return sorted(listed, key=lambda p: p[1].lower())


async def _describe(request: Request, client_id: str) -> dict[str, Any]:
    provider = _provider(request)
    client = await provider.get_client(client_id)
    if client is None:
        raise ConsentProblem(400, "This client is not known (any more). Start connecting again from the agent.")
    kind = await provider.client_kind(client_id)
    name = client.client_name or "An unnamed client"
    if kind == "registered":
        origin = "self-declared: the client registered itself and chose this name"
    else:
        origin = f"from its metadata document at {urlsplit(client_id).hostname}"
    return {"client_name": name, "client_origin": origin}


def _asked(scopes: list[str]) -> str:
    if not scopes:
        return "nothing in particular"
    return ", ".join(sorted(scopes))


async def consent_page(request: Request) -> Response:
    person = await require_person(request, consent_step=True)
    web = web_of(request)
    request_id = request.query_params.get("request", "")[:100]
    pending = await anyio.to_thread.run_sync(web.oauth.repo.peek_request, request_id, web.clock())
    if pending is None:
        return _problem(request, 400, "This request has expired or was already answered. Start again from the agent.")
    client_id, params = pending
    try:
        described = await _describe(request, client_id)
        projects = await _projects(request, person)
    except ConsentProblem as exc:
        return _problem(request, exc.status, exc.message)
    redirect_to = urlsplit(params["redirect_uri"])
    bundles = bundles_up_to(person.bundle)
    return render(
        request,
        "consent.html",
        form_action=[f"{redirect_to.scheme}://{redirect_to.netloc}"],
        request_id=request_id,
        redirect_host=redirect_to.netloc,
        asked=_asked(params["scopes"]),
        bundles=bundles,
        chosen=_default_bundle(params["scopes"], bundles),
        projects=projects,
        expiries=EXPIRY_CHOICES,
        default_expiry=DEFAULT_EXPIRY,
        **described,
    )


def _default_bundle(asked: list[str], bundles: tuple[str, ...]) -> str:
    """The largest bundle the person may give that does not exceed what was asked (read when unclear)."""
    wanted = set(asked)
    for name in reversed(bundles):
        if name in wanted or (wanted and BUNDLES[name] <= wanted):
            return name
    return "read"


async def consent_submit(request: Request) -> Response:
    form = await check_csrf(request)
    person = await require_person(request)
    web = web_of(request)
    provider = _provider(request)
    request_id = str(form.get("request") or "")[:100]
    now = web.clock()
    pending = await anyio.to_thread.run_sync(provider.repo.peek_request, request_id, now)
    if pending is None:
        return _problem(request, 400, "This request has expired or was already answered. Start again from the agent.")
    client_id, params = pending
    decision = form.get("decision")
    if decision == "allow":
        try:
            chosen = await _choice(request, person, form)
        except ConsentProblem as exc:
            return _problem(request, exc.status, exc.message)
    elif decision != "deny":
        return _problem(request, 400, "Choose Allow or Deny.")
    if await anyio.to_thread.run_sync(provider.repo.take_request, request_id, now) is None:
        return _problem(request, 400, "This request has expired or was already answered. Start again from the agent.")
    redirect_uri, state = params["redirect_uri"], params.get("state")
    details: dict[str, Any] = {"redirect_host": urlsplit(redirect_uri).netloc}
    if decision == "deny":
        await audit_event(
            web.audit,
            "consent",
            person=person.name,
            decision="denied",
            reason="the person chose Deny",
            outcome="denied",
            client=client_id,
            details=details,
        )
        return redirect(
            request, construct_redirect_uri(redirect_uri, error="access_denied", state=state, iss=provider.issuer_id)
        )
    bundle, projects, lifetime = chosen
    described = await _describe(request, client_id)
    data = {
        "scopes": sorted(BUNDLES[bundle]),
        "code_challenge": params["code_challenge"],
        "redirect_uri": redirect_uri,
        "redirect_uri_provided_explicitly": params["redirect_uri_provided_explicitly"],
        "resource": params.get("resource"),
        "subject": person.name,
        "person": person.name,
        "projects": sorted(projects),
        "grant_expires_at": now + lifetime,
        "client_name": described["client_name"][:100],
    }
    code = await anyio.to_thread.run_sync(provider.repo.save_code, client_id, data, now, CODE_LIFETIME)
    await audit_event(
        web.audit,
        "consent",
        person=person.name,
        decision="allowed",
        reason="the person chose Allow",
        outcome="ok",
        client=client_id,
        details={**details, "bundle": bundle, "projects": sorted(projects), "expires_in": lifetime},
    )
    return redirect(request, construct_redirect_uri(redirect_uri, code=code, state=state, iss=provider.issuer_id))


async def _choice(request: Request, person: Person, form: Any) -> tuple[str, set[str], int]:
    bundle = str(form.get("access") or "")
    if bundle not in bundles_up_to(person.bundle):
        raise ConsentProblem(403, f"You may grant at most the {person.bundle} bundle.")
    allowed = {pid for pid, _ in await _projects(request, person)}
    chosen = {str(p) for p in form.getlist("project")}
    if not chosen:
        raise ConsentProblem(400, "Choose at least one project.")
    if not chosen <= allowed:
        raise ConsentProblem(403, "You may grant only the projects listed.")
    expiry = str(form.get("expires") or "")
    lifetimes = {str(seconds) for _, seconds in EXPIRY_CHOICES}
    if expiry not in lifetimes:
        raise ConsentProblem(400, "Choose when the access expires.")
    return bundle, chosen, int(expiry)


def routes() -> list[Route]:
    return [
        Route("/consent", consent_page, methods=["GET"]),
        Route("/consent", consent_submit, methods=["POST"]),
    ]
