"""Event tools: list an error's events, view one, view the latest."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult

from ..model import Event
from ..render.events import COMPACT, FULL, event_summary_line, event_text
from ..render.text import NOTICE
from ..runtime import Runtime, runtime
from .outputs import EventList, EventOut
from .params import Cursor, ErrorId, EventId, Full, Limit, ProjectId
from .registry import tool
from .support import FULL_OUTPUT_LIMIT, OUTPUT_LIMIT, event_out, respond


async def dashboard_line(rt: Runtime, project_id: str, event: Event) -> str:
    """`Dashboard: <url>` for an event (the project list is cached, so this costs no request after the first)."""
    if not event.error_id:
        return ""
    url = await rt.dashboard_url(project_id, event.error_id)
    return f"\n\n**Dashboard:** {url}?event_id={event.id}" if url else ""


@tool(title="List events", scope="errors:read", read_only=True, idempotent=True, needs=("events",))
async def list_events(
    ctx: Context, error_id: ErrorId, project_id: ProjectId = None, limit: Limit = 10, cursor: Cursor = None
) -> Annotated[CallToolResult, EventList]:
    """List an error's occurrences, newest first, one line each. Use get_event for one event's detail."""
    assert project_id is not None
    page = await runtime(ctx).backend_for(project_id).list_events(project_id, error_id, limit=limit, cursor=cursor)
    shown = f"{len(page.items)}" + (f" of {page.total}" if page.total is not None else "")
    lines = [f"# Events of error {error_id} ({shown})"]
    if page.items:
        lines += [
            NOTICE,
            '<untrusted-data source="events">',
            *(event_summary_line(e) for e in page.items),
            "</untrusted-data>",
        ]
    else:
        lines.append("This error has no stored events.")
    if page.next_cursor:
        lines.append(f"\nMore: call list_events again with cursor={page.next_cursor}")
    return respond(
        "\n".join(lines),
        EventList(events=[event_out(e) for e in page.items], total=page.total, next_cursor=page.next_cursor),
    )


@tool(title="Get event", scope="errors:read", read_only=True, idempotent=True, needs=("events",))
async def get_event(
    ctx: Context, event_id: EventId, project_id: ProjectId = None, full: Full = False
) -> Annotated[CallToolResult, EventOut]:
    """Show one event: exception chain and stack (in-project frames first), breadcrumbs, request, app, device,
    user and metadata. Pass full=true for every frame and more metadata."""
    assert project_id is not None
    rt = runtime(ctx)
    event = await rt.backend_for(project_id).get_event(project_id, event_id)
    text = NOTICE + "\n\n" + event_text(event, FULL if full else COMPACT) + await dashboard_line(rt, project_id, event)
    return respond(text, event_out(event), limit=FULL_OUTPUT_LIMIT if full else OUTPUT_LIMIT)


@tool(title="Get latest event", scope="errors:read", read_only=True, idempotent=True, needs=("events",))
async def get_latest_event(
    ctx: Context, error_id: ErrorId, project_id: ProjectId = None, full: Full = False
) -> Annotated[CallToolResult, EventOut]:
    """Show the most recent occurrence of an error, rendered like get_event."""
    assert project_id is not None
    rt = runtime(ctx)
    event = await rt.backend_for(project_id).get_latest_event(project_id, error_id)
    text = NOTICE + "\n\n" + event_text(event, FULL if full else COMPACT, title=f"Latest event of error {error_id}")
    text += await dashboard_line(rt, project_id, event)
    return respond(text, event_out(event), limit=FULL_OUTPUT_LIMIT if full else OUTPUT_LIMIT)
