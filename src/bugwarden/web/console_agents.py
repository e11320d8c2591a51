"""The console's Agents pages: every agent (static tokens and OAuth grants) with who it belongs to and what it may
do, its access grid changed in place (`Save`), `Revoke` with a confirmation step, and a new static token whose
secret is shown once. Team-wide for people added with `--admin`; anyone else sees and may revoke only the
agents they granted. Every change is audited with who made it and what changed.

    GET  /console/agents                    the list (and, for admins, the form to create a token)
    POST /console/agents                    create a static token (admins)
    GET  /console/agents/{id}               one agent and its access grid (one per project, for an agent limited
                                            to projects)
    POST /console/agents/{id}/access        save the grid (admins); with `project`, that project's grid
    GET  /console/agents/{id}/revoke        confirm
    POST /console/agents/{id}/revoke        revoke
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import anyio.to_thread
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ..guard.audit import AuditError
from ..guard.scopes import BUNDLES, ScopeError
from ..guard.tokens import TokenError, TokenInfo, TokenStore
from ..store import StoreError
from ..store.agents import AgentAccess
from ..store.oauth import OAuthRepository
from ..store.people import Person
from ..store.project_access import ProjectAccess
from .access_grid import ROWS, GridError, changes, grid, scopes_for
from .events import audit_event
from .people import bundles_up_to
from .project_names import names_of
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
    project_scopes: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """What it may do in each of its projects, where an admin set that per project."""

    def scopes_in(self, project_id: str) -> frozenset[str]:
        return self.project_scopes.get(project_id, self.scopes)


@dataclass(frozen=True, slots=True)
class ProjectGrid:
    """One grid on an agent's page: of one of its projects (`project` None: the same on every project)."""

    project: str | None
    name: str | None
    levels: dict[str, str]
    scopes: frozenset[str]


def _grids(agent: Agent, names: Mapping[str, str]) -> list[ProjectGrid]:
    if not agent.projects:
        return [ProjectGrid(None, None, grid(agent.scopes), agent.scopes)]
    return [
        ProjectGrid(p, names.get(p), grid(agent.scopes_in(p)), agent.scopes_in(p))
        for p in sorted(agent.projects, key=lambda p: ((names.get(p) or p).casefold(), p))
    ]


def _beyond_projects(person: Person, agent: Agent) -> str:
    """Why a person limited to projects may not act on this agent ('' when they may): the agent must be limited to
    their projects too."""
    if person.projects and (not agent.projects or not agent.projects <= person.projects):
        return "You may change only agents limited to your projects: " + ", ".join(sorted(person.projects)) + "."
    return ""


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
        dict(info.project_scopes),
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
    names = await names_of(web_of(request), {p for a in agents for p in a.projects}, fresh=True)
    return render(
        request,
        "console/agents.html",
        section="agents",
        agents=agents,
        names=names,
        bundles=bundles_up_to(person.bundle),
        expiries=EXPIRIES,
    )


async def agent_page(request: Request) -> Response:
    person = await require_person(request)
    agent = await _one(request, person)
    return await _agent_view(request, agent, message="Saved." if request.query_params.get("saved") else "")


async def _agent_view(
    request: Request, agent: Agent, *, message: str = "", problem: str = "", status: int = 200
) -> Response:
    names = await names_of(web_of(request), agent.projects, fresh=status == 200)
    return render(
        request,
        "console/agent.html",
        status=status,
        section="agents",
        agent=agent,
        rows=ROWS,
        grids=_grids(agent, names),
        names=names,
        message=message,
        problem=problem,
    )


async def save_access(request: Request) -> Response:
    person = await require_admin(request)
    form = await check_csrf(request)
    web = web_of(request)
    agent = await _one(request, person)
    if agent.state != "active":
        return await _agent_view(
            request, agent, problem=f"This agent is {agent.state}: its access cannot change.", status=409
        )
    if refused := _beyond_projects(person, agent):
        return await _agent_view(request, agent, problem=refused, status=403)
    project = str(form.get("project") or "")[:200] or None
    if project is not None and project not in agent.projects:
        problem = "That project is not one this agent is limited to."
        return await _agent_view(request, agent, problem=problem, status=400)
    choices = {row.name: str(form.get(row.name)) for row in ROWS if form.get(row.name) is not None}
    # One project's grid, or (without `project`) the same choices on every project the agent has a grid for.
    projects = [project] if project else sorted(agent.project_scopes) if agent.projects else []
    befores = {p: agent.scopes_in(p) for p in projects} if projects else {"": agent.scopes}
    try:
        afters = {p: scopes_for(choices, before) for p, before in befores.items()}
    except GridError as exc:
        return await _agent_view(request, agent, problem=str(exc), status=400)
    beyond = frozenset().union(*(afters[p] - befores[p] for p in afters)) - BUNDLES[person.bundle]
    if beyond:
        return await _agent_view(
            request,
            agent,
            problem=f"You may grant up to the {person.bundle} bundle: {', '.join(sorted(beyond))} is beyond it.",
            status=403,
        )
    changed = {p: c for p in afters if (c := changes(befores[p], afters[p]))}
    if not changed:
        return redirect(request, f"/console/agents/{agent.id}?saved=1")
    details: dict[str, object] = {"agent": agent.name, "id": agent.id}
    if projects:
        details["projects"] = {p: {"changes": c, "scopes": sorted(afters[p])} for p, c in changed.items()}
        if project:
            details["project_id"] = project
            details["changes"] = changed[project]
    else:
        details.update(changes=changed[""], scopes=sorted(afters[""]))
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
        return await _agent_view(
            request, agent, problem="The audit log cannot record this change, so it was not made.", status=503
        )
    try:
        if projects:
            for p in changed:
                await anyio.to_thread.run_sync(
                    ProjectAccess(web.store.tokens).set_project, agent.id, p, afters[p], agent.projects
                )
        else:
            await anyio.to_thread.run_sync(AgentAccess(web.store.tokens).set_scopes, agent.id, afters[""])
    except StoreError:
        return await _agent_view(request, agent, problem="The change could not be stored.", status=503)
    return redirect(request, f"/console/agents/{agent.id}?saved=1")


def _may_revoke(person: Person, agent: Agent) -> str:
    """Why this person may not revoke this agent ('' when they may): their own grant, always; someone else's agent,
    as an admin, under the same project rule as the grid."""
    if agent.person is not None and agent.person == person.name:
        return ""
    return _beyond_projects(person, agent)


async def revoke_confirm(request: Request) -> Response:
    person = await require_person(request)
    agent = await _one(request, person)
    if refused := _may_revoke(person, agent):
        return await _agent_view(request, agent, problem=refused, status=403)
    return render(request, "console/revoke.html", section="agents", agent=agent)


async def revoke(request: Request) -> Response:
    person = await require_person(request)
    form = await check_csrf(request)
    web = web_of(request)
    agent = await _one(request, person)
    if refused := _may_revoke(person, agent):
        return await _agent_view(request, agent, problem=refused, status=403)
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
        return await _agent_view(
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
            names={},
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
            names={},
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
