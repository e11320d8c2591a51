"""Project tools."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult

from ..render.text import inline
from ..runtime import runtime
from .outputs import ProjectList, ProjectOut
from .registry import tool
from .support import respond


@tool(title="List projects", scope="projects:read", read_only=True, idempotent=True, project_scoped=False)
async def list_projects(ctx: Context) -> Annotated[CallToolResult, ProjectList]:
    """List the projects this agent may see, with their ids and backend (BugSnag, or BugPort with ids starting
    'bugport:'). Start here to find a project_id."""
    rt = runtime(ctx)
    principal = rt.extras["principal_of"](ctx)
    projects = [p for p in await rt.all_projects() if principal.allows_project(p.id)]
    default = rt.settings.bugsnag_project_id or (projects[0].id if len(projects) == 1 else None)
    lines = [f"# Projects ({len(projects)})"]
    for p in projects:
        mark = " (default)" if p.id == default else ""
        lines.append(
            f"- {p.id} · {inline(p.name, 60)} · {p.backend} · {inline(p.type or '?', 20)} · "
            f"{p.open_error_count if p.open_error_count is not None else '?'} open errors{mark}"
        )
    if not projects:
        lines.append("No projects are visible to this token.")
    lines.append("\nNext: `list_errors` with a project_id.")
    data = ProjectList(
        projects=[
            ProjectOut(
                id=p.id,
                name=p.name,
                backend=p.backend,
                organization_id=p.organization_id,
                type=p.type,
                open_errors=p.open_error_count,
            )
            for p in projects
        ],
        default_project_id=default,
    )
    return respond("\n".join(lines), data)
