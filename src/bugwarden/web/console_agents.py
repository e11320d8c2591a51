"""The console's Agents pages: every agent (static tokens and OAuth grants) with who it belongs to and what it may
do, its access grid changed in place (`Save`), `Revoke` with a confirmation step, and a new static token whose
secret is shown once. Team-wide for people added with `--admin`; anyone else sees and may revoke only the
agents they granted. Every change is audited with who made it and what changed.

    GET  /console/agents                    the list (and, for admins, the form to create a token)
    POST /console/agents                    create a static token (admins)
    GET  /console/agents/{id}               one agent and its access grid
    POST /console/agents/{id}/access        save the grid (admins)
    GET  /console/agents/{id}/revoke        confirm
    POST /console/agents/{id}/revoke        revoke
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import anyio.to_thread
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ..guard.audit import AuditError
from ..guard.scopes import BUNDLES, ScopeError
from ..guard.tokens import TokenError, TokenInfo, TokenStore
from ..store.agents import AgentAccess
from ..store.oauth import OAuthRepository
from ..store.people import Person
from .access_grid import ROWS, GridError, changes, grid, scopes_for
from .events import audit_event
from .people import bundles_up_to
from .site import check_csrf, redirect, render, require_admin, require_person, web_of

EXPIRIES = (("", "never"), ("1d", "1 day"), ("7d", "7 days"), ("30d", "30 days"), ("90d", "90 days"))


@dataclass(frozen=True, slots=True)
class Agent:
    """One agent as the list shows it."""

    id: str
    name: str
    kind: str
    """`token` (static) or `grant` (OAuth)."""
    person: str | None
    client: str | None
    scopes: frozenset[str]
    projects: frozenset[str]
    created_at: str
    last_used_at: str | None
    expires_at: str | None
    state: str


def _agent(info: TokenInfo) -> Agent:
    return Agent(
        info.id,
        info.name,
        "grant" if info.is_grant else "token",
        info.person,
        info.client_id,
        info.scopes,
        info.projects,
        info.created_at,
        info.last_used_at,
        info.expires_at,
        info.state(),
    )


def _may_see(person: Person, agent: Agent) -> bool:
    return person.admin or (agent.person is not None and agent.person == person.name)


async def _agents(request: Request) -> list[Agent]:
    tokens = TokenStore(web_of(request).store.tokens)
    return [_agent(info) for info in await anyio.to_thread.run_sync(tokens.list)]


async def _one(request: Request, person: Person) -> Agent:
    tokens = TokenStore(web_of(request).store.tokens)
    agent_id = str(request.path_params["agent_id"])[:100]
    try:
        agent = _agent(await anyio.to_thread.run_sync(tokens.get, agent_id))
    except TokenError:
        raise HTTPException(404, "no such agent") from None
    if not _may_see(person, agent):
        raise HTTPException(404, "no such agent")
    return agent


async def agents_page(request: Request) -> Response:
    person = await require_person(request)
    agents = [a for a in await _agents(request) if _may_see(person, a)]
    return render(
        request,
        "console/agents.html",
        section="agents",
        agents=agents,
        bundles=bundles_up_to(person.bundle),
        expiries=EXPIRIES,
    )


async def agent_page(request: Request) -> Response:
    person = await require_person(request)
    agent = await _one(request, person)
    return _agent_view(request, agent, message="Saved." if request.query_params.get("saved") else "")


def _agent_view(request: Request, agent: Agent, *, message: str = "", problem: str = "", status: int = 200) -> Response:
    return render(
        request,
        "console/agent.html",
        status=status,
        section="agents",
        agent=agent,
        rows=ROWS,
        levels=grid(agent.scopes),
        message=message,
        problem=problem,
    )


async def save_access(request: Request) -> Response:
    person = await require_admin(request)
    form = await check_csrf(request)
    web = web_of(request)
    agent = await _one(request, person)
    if agent.state != "active":
        return _agent_view(
            request, agent, problem=f"This agent is {agent.state}: its access cannot change.", status=409
        )
    if person.projects and (not agent.projects or not agent.projects <= person.projects):
        return _agent_view(
            request,
            agent,
            problem="You may change only agents limited to your projects: " + ", ".join(sorted(person.projects)) + ".",
            status=403,
        )
    choices = {row.name: str(form.get(row.name)) for row in ROWS if form.get(row.name) is not None}
    try:
        after = scopes_for(choices, agent.scopes)
    except GridError as exc:
        return _agent_view(request, agent, problem=str(exc), status=400)
    beyond = (after - agent.scopes) - BUNDLES[person.bundle]
    if beyond:
        return _agent_view(
            request,
            agent,
            problem=f"You may grant up to the {person.bundle} bundle: {', '.join(sorted(beyond))} is beyond it.",
            status=403,
        )
    changed = changes(agent.scopes, after)
    if not changed:
        return redirect(request, f"/console/agents/{agent.id}?saved=1")
    details = {"agent": agent.name, "id": agent.id, "changes": changed, "scopes": sorted(after)}
    try:
        await audit_event(
            web.audit,
            "console.access",
            person=person.name,
            decision="allowed",
            reason="admin",
            outcome="ok",
            details=details,
        )
    except AuditError:
        return _agent_view(
            request, agent, problem="The audit log cannot record this change, so it was not made.", status=503
        )
    await anyio.to_thread.run_sync(AgentAccess(web.store.tokens).set_scopes, agent.id, after)
    return redirect(request, f"/console/agents/{agent.id}?saved=1")


async def revoke_confirm(request: Request) -> Response:
    person = await require_person(request)
    agent = await _one(request, person)
    return render(request, "console/revoke.html", section="agents", agent=agent)


async def revoke(request: Request) -> Response:
    person = await require_person(request)
    form = await check_csrf(request)
    web = web_of(request)
    agent = await _one(request, person)
    if form.get("confirm") != "yes":
        return redirect(request, f"/console/agents/{agent.id}/revoke")
    details = {"agent": agent.name, "id": agent.id}
    try:
        await audit_event(
            web.audit,
            "console.revoke",
            person=person.name,
            decision="allowed",
            reason="admin" if person.admin else "own grant",
            outcome="ok",
            details=details,
        )
    except AuditError:
        return _agent_view(
            request, agent, problem="The audit log cannot record this, so nothing was revoked.", status=503
        )
    if agent.kind == "grant":  # with every refresh token, so the client cannot get a new access token
        await anyio.to_thread.run_sync(OAuthRepository(web.store.tokens).revoke, agent.id, time.time())
    else:
        await anyio.to_thread.run_sync(TokenStore(web.store.tokens).revoke, agent.id)
    return redirect(request, f"/console/agents/{agent.id}")


async def create_token(request: Request) -> Response:
    person = await require_admin(request)
    form = await check_csrf(request)
    web = web_of(request)
    name = str(form.get("name") or "").strip()[:64]
    bundle = str(form.get("access") or "read")
    projects = [p.strip() for p in str(form.get("projects") or "").split(",") if p.strip()][:50]
    expires = str(form.get("expires") or "") or None
    allowed = bundles_up_to(person.bundle)
    problem = ""
    if not name:
        problem = "Give the token a name (who or what it is for)."
    elif bundle not in allowed:
        problem = f"You may grant up to the {person.bundle} bundle."
    elif expires not in {value for value, _ in EXPIRIES if value} | {None}:
        problem = "Choose an expiry from the list."
    elif person.projects and (not projects or not set(projects) <= person.projects):
        problem = "You may grant only your projects: " + ", ".join(sorted(person.projects)) + "."
    if problem:
        agents = [a for a in await _agents(request) if _may_see(person, a)]
        return render(
            request,
            "console/agents.html",
            status=400,
            section="agents",
            agents=agents,
            bundles=allowed,
            expiries=EXPIRIES,
            problem=problem,
        )
    details = {"agent": name, "access": bundle, "projects": projects, "expires_in": expires}
    try:
        await audit_event(
            web.audit,
            "console.token_create",
            person=person.name,
            decision="allowed",
            reason="admin",
            outcome="ok",
            details=details,
        )
        info, secret = await anyio.to_thread.run_sync(
            lambda: TokenStore(web.store.tokens).create(name, bundle, projects, expires)
        )
    except (AuditError, ScopeError, ValueError) as exc:
        agents = [a for a in await _agents(request) if _may_see(person, a)]
        message = "The audit log cannot record this, so no token was made." if isinstance(exc, AuditError) else str(exc)
        return render(
            request,
            "console/agents.html",
            status=400,
            section="agents",
            agents=agents,
            bundles=allowed,
            expiries=EXPIRIES,
            problem=message,
        )
    return render(request, "console/token_created.html", section="agents", agent=_agent(info), secret=secret)


def routes() -> list[BaseRoute]:
    return [
        Route("/console/agents", agents_page, methods=["GET"]),
        Route("/console/agents", create_token, methods=["POST"]),
        Route("/console/agents/{agent_id}", agent_page, methods=["GET"]),
        Route("/console/agents/{agent_id}/access", save_access, methods=["POST"]),
        Route("/console/agents/{agent_id}/revoke", revoke_confirm, methods=["GET"]),
        Route("/console/agents/{agent_id}/revoke", revoke, methods=["POST"]),
    ]
