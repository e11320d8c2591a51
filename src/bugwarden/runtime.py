"""The per-process state tools work with: settings, backends, and project resolution."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mcp.server.mcpserver import Context

from .backends.bugsnag import BugsnagBackend
from .backends.errors import InvalidArgument
from .config import Settings
from .model import Project


@dataclass
class Runtime:
    """Built once by `build_server`; reached from a tool through `runtime(ctx)`."""

    settings: Settings
    bugsnag: BugsnagBackend | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    def backend(self) -> BugsnagBackend:
        if self.bugsnag is None:
            raise InvalidArgument("no BugSnag account is configured: set BUGSNAG_AUTH_TOKEN")
        return self.bugsnag

    async def default_project(self, allowed: frozenset[str] = frozenset()) -> str:
        """BUGSNAG_PROJECT_ID, else the only project visible (and allowed, when the caller is limited);
        otherwise ask the caller to choose."""
        if self.settings.bugsnag_project_id:
            return self.settings.bugsnag_project_id
        if len(allowed) == 1:
            return next(iter(allowed))
        projects = [p for p in await self.backend().list_projects() if not allowed or p.id in allowed]
        if len(projects) == 1:
            return projects[0].id
        names = ", ".join(f"{p.name} ({p.id})" for p in projects[:10])
        raise InvalidArgument(
            f"project_id is required: {len(projects)} projects are visible ({names}). "
            "Pass one, or set BUGSNAG_PROJECT_ID for a default."
        )

    async def project(self, project_id: str) -> Project | None:
        for project in await self.backend().list_projects():
            if project.id == project_id:
                return project
        return None

    async def dashboard_url(self, project_id: str, error_id: str) -> str | None:
        project = await self.project(project_id)
        if project is None or not project.html_url:
            return None
        return f"{project.html_url}/errors/{error_id}"

    async def aclose(self) -> None:
        if self.bugsnag is not None:
            await self.bugsnag.aclose()


def runtime(ctx: Context) -> Runtime:
    return ctx.request_context.lifespan_context  # type: ignore[no-any-return]
