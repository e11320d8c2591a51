"""The per-process state tools work with: settings, backends, project routing and defaults."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from mcp.server.mcpserver import Context

from .backends.base import Capabilities
from .backends.bugport import PREFIX as BUGPORT_PREFIX
from .backends.bugport import BugportBackend
from .backends.bugsnag import BugsnagBackend
from .backends.errors import BackendError, InvalidArgument
from .config import Settings
from .model import Project

log = logging.getLogger("bugwarden")


@dataclass
class Runtime:
    """Built once by `build_server`; reached from a tool through `runtime(ctx)`.

    Routing: project ids starting with `bugport:` belong to BugPort, every other id to BugSnag.
    """

    settings: Settings
    bugsnag: BugsnagBackend | None = None
    bugport: BugportBackend | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def backends(self) -> list[BugsnagBackend | BugportBackend]:
        return [b for b in (self.bugsnag, self.bugport) if b is not None]

    def backend(self) -> BugsnagBackend:
        """The BugSnag backend (for tools that only BugSnag serves)."""
        if self.bugsnag is None:
            raise InvalidArgument("no BugSnag account is configured: set BUGSNAG_AUTH_TOKEN")
        return self.bugsnag

    def backend_for(self, project_id: str | None) -> Any:
        """The backend a project id belongs to."""
        if project_id is not None and project_id.startswith(BUGPORT_PREFIX):
            if self.bugport is None:
                raise InvalidArgument("no BugPort workspace is configured: set BUGPORT_TOKEN")
            return self.bugport
        if self.bugsnag is None:
            if self.bugport is not None:
                raise InvalidArgument(
                    f"project_id {project_id!r} is not a BugPort id (they start with "
                    f"'{BUGPORT_PREFIX}'): see list_projects"
                )
            raise InvalidArgument("no tracker is configured")
        return self.bugsnag

    def backend_name(self, project_id: str | None) -> str:
        if project_id is not None and project_id.startswith(BUGPORT_PREFIX):
            return "bugport"
        return "bugsnag" if self.bugsnag is not None else "bugport"

    async def discover(self) -> None:
        """Ask BugPort's bridge what this token may do (once). A failure leaves BugPort read-only for now."""
        if self.bugport is not None and self.bugport.bridge is None:
            try:
                await self.bugport.discover()
            except BackendError as exc:
                log.warning("BugPort bridge discovery failed (%s); offering read tools only", exc)

    def capabilities(self) -> list[Capabilities]:
        return [b.capabilities for b in self.backends]

    async def all_projects(self) -> list[Project]:
        projects: list[Project] = []
        for backend in self.backends:
            projects += await backend.list_projects()
        return projects

    async def default_project(self, allowed: frozenset[str] = frozenset()) -> str:
        """BUGSNAG_PROJECT_ID, else the only project visible (and allowed, when the caller is limited);
        otherwise ask the caller to choose."""
        if self.settings.bugsnag_project_id:
            return self.settings.bugsnag_project_id
        if len(allowed) == 1:
            return next(iter(allowed))
        projects = [p for p in await self.all_projects() if not allowed or p.id in allowed]
        if len(projects) == 1:
            return projects[0].id
        names = ", ".join(f"{p.name} ({p.id})" for p in projects[:10])
        raise InvalidArgument(
            f"project_id is required: {len(projects)} projects are visible ({names}). "
            "Pass one, or set BUGSNAG_PROJECT_ID for a default."
        )

    async def project(self, project_id: str) -> Project | None:
        for project in await self.backend_for(project_id).list_projects():
            if project.id == project_id:
                return project
        return None

    async def dashboard_url(self, project_id: str, error_id: str) -> str | None:
        project = await self.project(project_id)
        if project is None or not project.html_url:
            return None
        return f"{project.html_url}/errors/{error_id}"

    async def aclose(self) -> None:
        for backend in self.backends:
            await backend.aclose()


def runtime(ctx: Context) -> Runtime:
    """The Runtime a tool runs with (the server's lifespan context)."""
    state = ctx.request_context.lifespan_context
    assert isinstance(state, Runtime)
    return state
