"""Event tools: list an error's events, view one, view the latest."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.types import CallToolResult
from pydantic import Field

from ..backends.capabilities import EventFields, Events
from ..backends.errors import BackendError, failure_words
from ..call.call import ProjectCall
from ..call.target import Target
from ..render import events as render
from ..render.outputs import EventList, EventRef
from .filters import FilterList, checked_filters, filter_rules
from .params import Cursor, ErrorId, EventId, Full, Limit, ProjectId, Since
from .registry import tool
from .support import able, check_since, respond


async def dashboard(call: ProjectCall, error_id: str | None) -> str | None:
    """The error's dashboard page, where the backend has one (the project list is cached: no extra request). The
    link is an extra: when the project list cannot be read, the answer goes without it and says so."""
    if not error_id:
        return None
    try:
        return await call.target.backend.dashboard_url(call.target.project_id, error_id)
    except BackendError as exc:
        call.caveat(f"The dashboard link is left out: the project list could not be read ({failure_words(exc)}).")
        return None


def list_rules(args: dict[str, Any], target: Target) -> None:
    filter_rules(args, target)
    check_since(args.get("since"))
    check_since(args.get("before"), "before")


@tool(title="List events", scope="errors:read", read_only=True, idempotent=True, needs=(Events,), rules=list_rules)
async def list_events(
    call: ProjectCall,
    error_id: ErrorId,
    project_id: ProjectId = None,
    since: Since = None,
    before: Annotated[
        str | None, Field(description="Only before: '7d', '24h' or an ISO time ending in Z.", max_length=40)
    ] = None,
    filters: FilterList = None,
    direction: Annotated[Literal["asc", "desc"] | None, Field(description="'asc' for the oldest first.")] = None,
    limit: Limit = 10,
    cursor: Cursor = None,
) -> Annotated[CallToolResult, EventList]:
    """List an error's occurrences, newest first, one line each. Use get_event for one event's detail.

    Use this when you need particular occurrences: one user's (filters ['user.id=42']), one browser's
    (['browser.name=Safari']), the first ones (direction='asc'), or those of the last hour (since='1h')."""
    conditions = [("event.since", "eq", since)] if since else []
    conditions += [("event.before", "eq", before)] if before else []
    if filters:
        conditions += await checked_filters(able(call.target, EventFields), call.target.project_id, filters)
    page = await able(call.target, Events).list_events(
        call.target.project_id, error_id, limit=limit, page=call.target.page, filters=conditions, direction=direction
    )
    return respond(
        render.event_list(
            page,
            f"Events of error {error_id}",
            call.target.cursor(page.next),
            "list_events",
            "This error has no stored events.",
        )
    )


@tool(title="Get event", scope="errors:read", read_only=True, idempotent=True, needs=(Events,))
async def get_event(
    call: ProjectCall, event_id: EventId, project_id: ProjectId = None, full: Full = False
) -> Annotated[CallToolResult, EventRef]:
    """Show one event: exception chain and stack (in-project frames first), breadcrumbs, request, app, device,
    user and metadata. Pass full=true for every frame and more metadata."""
    event = await able(call.target, Events).get_event(call.target.project_id, event_id)
    url = await dashboard(call, event.error_id)
    return respond(render.event_view(event, full=full, title=f"Event {event.id}", dashboard_url=url))


@tool(title="Get latest event", scope="errors:read", read_only=True, idempotent=True, needs=(Events,))
async def get_latest_event(
    call: ProjectCall, error_id: ErrorId, project_id: ProjectId = None, full: Full = False
) -> Annotated[CallToolResult, EventRef]:
    """Show the most recent occurrence of an error, rendered like get_event."""
    event = await able(call.target, Events).get_latest_event(call.target.project_id, error_id)
    url = await dashboard(call, error_id)
    return respond(render.event_view(event, full=full, title=f"Latest event of error {error_id}", dashboard_url=url))
