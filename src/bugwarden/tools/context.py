"""Composite tools: everything needed to start fixing, and a prompt for a coding agent."""

from __future__ import annotations

import logging
from typing import Annotated, Any

import anyio
from mcp.server.mcpserver import Context
from mcp.types import CallToolResult

from ..backends.errors import BackendError
from ..render.context import BugContext, bug_context_text, fix_prompt_text
from ..runtime import Runtime, runtime
from .outputs import BugContextOut, FixPromptOut
from .params import ErrorId, ProjectId
from .registry import tool
from .support import error_out, event_out, respond

log = logging.getLogger("bugwarden.tools")
PIVOT_FIELDS = ("app.release_stage", "app.version", "os.name", "browser.name")


async def gather_context(rt: Runtime, project_id: str, error_id: str) -> BugContext:
    """Fetch error, latest event, pivots, trend and dashboard URL concurrently. Only the error itself is
    required; any other part that fails is listed in `missing`. BugPort: the bridge's context route."""
    backend = rt.backend_for(project_id)
    if backend.name == "bugport":
        bug, report = await backend.get_context(project_id, error_id)
        return BugContext(error=bug, report=report)
    results: dict[str, Any] = {}
    missing: list[str] = []

    async def fetch(name: str, call: Any) -> None:
        try:
            results[name] = await call()
        except BackendError as exc:
            if name == "error":
                results["error_exc"] = exc
            else:
                log.info("bug context part %s failed: %r", name, exc)
                missing.append(name.replace("_", " "))

    async with anyio.create_task_group() as tg:
        tg.start_soon(fetch, "error", lambda: backend.get_error(project_id, error_id))
        tg.start_soon(fetch, "latest_event", lambda: backend.get_latest_event(project_id, error_id))
        tg.start_soon(
            fetch, "pivots", lambda: backend.list_pivots(project_id, error_id, summary_size=3, pivots=PIVOT_FIELDS)
        )
        tg.start_soon(fetch, "trend", lambda: backend.get_trend(project_id, error_id, buckets_count=14))
        tg.start_soon(fetch, "dashboard_url", lambda: rt.dashboard_url(project_id, error_id))
    if "error_exc" in results:
        raise results["error_exc"]
    return BugContext(
        error=results["error"],
        latest=results.get("latest_event"),
        pivots=tuple(results.get("pivots", ())),
        trend=tuple(results.get("trend", ())),
        dashboard_url=results.get("dashboard_url"),
        missing=tuple(sorted(missing)),
    )


@tool(title="Get bug context", scope="errors:read", read_only=True, idempotent=True, needs=("errors",))
async def get_bug_context(
    ctx: Context, error_id: ErrorId, project_id: ProjectId = None
) -> Annotated[CallToolResult, BugContextOut]:
    """Everything needed to start fixing one error, in one call: summary, counts, first and last seen, releases,
    latest stack and breadcrumbs, top releases/OS/browsers, and the recent trend."""
    assert project_id is not None
    bug = await gather_context(runtime(ctx), project_id, error_id)
    data = BugContextOut(
        error=error_out(bug.error, bug.dashboard_url),
        latest_event=event_out(bug.latest) if bug.latest else None,
        top_values={p.field: [v.value for v in p.values] for p in bug.pivots if p.values},
        trend=[b.events for b in bug.trend],
        missing=list(bug.missing),
    )
    return respond(bug_context_text(bug), data)


@tool(title="Generate fix prompt", scope="errors:read", read_only=True, idempotent=True, needs=("errors",))
async def generate_fix_prompt(
    ctx: Context, error_id: ErrorId, project_id: ProjectId = None
) -> Annotated[CallToolResult, FixPromptOut]:
    """A ready-to-paste brief for a coding agent: what broke, where, how often, reproduction hints, and what to
    verify after the fix."""
    assert project_id is not None
    rt = runtime(ctx)
    bug = await gather_context(rt, project_id, error_id)
    upstream = None
    if bug.report is not None:
        upstream = await rt.backend_for(project_id).fix_prompt(project_id, error_id)
    prompt = fix_prompt_text(bug, upstream_prompt=upstream)
    return respond(prompt, FixPromptOut(error_id=error_id, project_id=project_id, prompt=prompt))
