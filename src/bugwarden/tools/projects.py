"""Project tools."""

from __future__ import annotations

import logging
from typing import Annotated

from mcp.types import CallToolResult

from ..backends.errors import failure_words
from ..call.call import ListingCall, ProjectCall
from ..call.target import projects_of
from ..render import projects as render
from ..render.outputs import ProjectDetail, ProjectList
from .params import ProjectId
from .registry import tool
from .support import respond

log = logging.getLogger("bugwarden.tools")


@tool(title="List projects", scope="projects:read", read_only=True, idempotent=True, reach="listing")
async def list_projects(call: ListingCall) -> Annotated[CallToolResult, ProjectList]:
    """List the projects this agent may see, with their ids and tracker (BugSnag, or BugPort with ids starting
    'bugport:'). Start here to find a project_id."""
    projects, failed = await projects_of(call.target.backends)
    unavailable: list[str] = []
    for backend, exc in failed:
        log.warning("%s could not list projects: %r", backend.label, exc)
        await call.notice("warning", f"{backend.label} {failure_words(exc)}: its projects are left out")
        unavailable.append(backend.label)
    visible = [p for p in projects if call.target.principal.allows_project(p.id)]
    default = call.target.default_project_id or (visible[0].id if len(visible) == 1 else None)
    return respond(render.project_list(visible, default, unavailable))


@tool(title="Get project", scope="projects:read", toolset="admin", read_only=True, idempotent=True)
async def get_project(call: ProjectCall, project_id: ProjectId = None) -> Annotated[CallToolResult, ProjectDetail]:
    """One project's settings summary: type, language, release stages, open errors, dashboard link."""
    return respond(render.project_detail(await call.target.backend.get_project(call.target.project_id)))
