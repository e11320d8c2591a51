"""Composite tools: everything needed to start fixing, and a brief for a coding agent."""

from __future__ import annotations

from typing import Annotated

from mcp.types import CallToolResult

from ..backends.capabilities import Errors
from ..call.call import ProjectCall
from ..render import context as render
from ..render.outputs import BugContextOut, FixPromptOut
from .params import ErrorId, ProjectId
from .registry import tool
from .support import respond


@tool(title="Get bug context", scope="errors:read", read_only=True, idempotent=True, needs=(Errors,))
async def get_bug_context(
    call: ProjectCall, error_id: ErrorId, project_id: ProjectId = None
) -> Annotated[CallToolResult, BugContextOut]:
    """Everything needed to start fixing one error, in one call: summary, counts, first and last seen, releases,
    latest stack and breadcrumbs, top releases/OS/browsers, and the recent trend."""
    return respond(render.bug_context(await call.target.backend.bug_context(call.target.project_id, error_id)))


@tool(title="Generate fix prompt", scope="errors:read", read_only=True, idempotent=True, needs=(Errors,))
async def generate_fix_prompt(
    call: ProjectCall, error_id: ErrorId, project_id: ProjectId = None
) -> Annotated[CallToolResult, FixPromptOut]:
    """A ready-to-paste brief for a coding agent: what broke, where, how often, reproduction hints, and what to
    verify after the fix."""
    context, notes = await call.target.backend.fix_brief(call.target.project_id, error_id)
    return respond(render.fix_prompt(context, notes))
