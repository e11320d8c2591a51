"""The `insights` toolset: pivots, trends, stability, releases, project events, event fields, saved searches."""

from __future__ import annotations

from typing import Annotated, Literal

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import Field

from ..backends.errors import InvalidArgument
from ..render import insights as r
from ..render.events import event_summary_line
from ..render.text import NOTICE
from ..runtime import runtime
from .errors import since_value
from .filters import FilterList, checked_filters
from .outputs import Items, Record
from .params import Cursor, Limit, ProjectId
from .registry import tool
from .support import as_items, as_record, event_out, respond

OptionalErrorId = Annotated[
    str | None, Field(description="Error id from list_errors; omit for the whole project.", max_length=200)
]
FieldId = Annotated[
    str,
    Field(
        description="Event field display id, e.g. app.version, os.name, user.id (see list_event_fields).",
        min_length=1,
        max_length=200,
    ),
]
Since = Annotated[str | None, Field(description="Window start: '7d', '24h' or an ISO time ending in Z.", max_length=40)]


@tool(title="List pivots", scope="errors:read", toolset="insights", read_only=True, idempotent=True, needs=("pivots",))
async def list_pivots(
    ctx: Context,
    project_id: ProjectId = None,
    error_id: OptionalErrorId = None,
    pivots: Annotated[
        list[str] | None, Field(description="Only these event fields, e.g. ['os.name'].", max_length=20)
    ] = None,
    summary_size: Annotated[int, Field(ge=1, le=20, description="Top values per field.")] = 5,
    filters: FilterList = None,
) -> Annotated[CallToolResult, Items]:
    """Where errors happen: the top values of releases, OS, browsers, users and other fields, for one error or a
    whole project."""
    assert project_id is not None
    rt = runtime(ctx)
    found = await rt.backend().list_pivots(
        project_id,
        error_id,
        summary_size=summary_size,
        pivots=pivots or (),
        filters=await checked_filters(rt, project_id, filters),
    )
    scope = f"error {error_id}" if error_id else f"project {project_id}"
    return respond(r.pivots_text(found, scope), as_items(found))


@tool(
    title="List pivot values",
    scope="errors:read",
    toolset="insights",
    read_only=True,
    idempotent=True,
    needs=("pivots",),
)
async def list_pivot_values(
    ctx: Context,
    event_field_display_id: FieldId,
    project_id: ProjectId = None,
    error_id: OptionalErrorId = None,
    sort: Annotated[Literal["unsorted"] | None, Field(description="'unsorted' avoids the sorted-results cap.")] = None,
    limit: Limit = 10,
    cursor: Cursor = None,
) -> Annotated[CallToolResult, Items]:
    """All values of one event field with their event counts and share, for one error or a whole project."""
    assert project_id is not None
    page = (
        await runtime(ctx)
        .backend()
        .list_pivot_values(project_id, event_field_display_id, error_id, sort=sort, limit=limit, cursor=cursor)
    )
    return respond(
        r.pivot_values_text(page.items, event_field_display_id, page.total, page.next_cursor),
        as_items(page.items, page.total, page.next_cursor),
    )


@tool(title="Get trend", scope="errors:read", toolset="insights", read_only=True, idempotent=True, needs=("trends",))
async def get_trend(
    ctx: Context,
    project_id: ProjectId = None,
    error_id: OptionalErrorId = None,
    buckets_count: Annotated[int | None, Field(ge=1, le=50, description="Number of buckets (1-50).")] = None,
    resolution: Annotated[
        Literal["1m", "5m", "30m", "2h", "12h"] | None, Field(description="Fixed bucket size instead of buckets_count.")
    ] = None,
    since: Since = None,
) -> Annotated[CallToolResult, Items]:
    """Event counts over time for one error or a whole project: is it rising, falling, or a spike?"""
    assert project_id is not None
    if buckets_count and resolution:
        raise InvalidArgument("pass buckets_count or resolution, not both")
    filters = [("event.since", "eq", since_value(since))] if since else []
    buckets = (
        await runtime(ctx)
        .backend()
        .get_trend(project_id, error_id, buckets_count=buckets_count, resolution=resolution, filters=filters)
    )
    scope = f"error {error_id}" if error_id else f"project {project_id}"
    return respond(r.trend_text(buckets, scope), as_items(buckets))


@tool(
    title="Get stability trend",
    scope="projects:read",
    toolset="insights",
    read_only=True,
    idempotent=True,
    needs=("releases",),
)
async def get_stability_trend(ctx: Context, project_id: ProjectId = None) -> Annotated[CallToolResult, Items]:
    """Daily crash-free session rate of a project's primary release stage over the last 30 days."""
    assert project_id is not None
    stage, points = await runtime(ctx).backend().get_stability_trend(project_id)
    return respond(r.stability_text(stage, points), as_items(points))


@tool(
    title="List releases",
    scope="projects:read",
    toolset="insights",
    read_only=True,
    idempotent=True,
    needs=("releases",),
)
async def list_releases(
    ctx: Context,
    project_id: ProjectId = None,
    release_id: Annotated[
        str | None, Field(description="Show this one release instead of a list.", max_length=200)
    ] = None,
    release_stage: Annotated[str | None, Field(description="Only this release stage.", max_length=100)] = None,
    limit: Annotated[int, Field(ge=1, le=10, description="Releases per page (1-10).")] = 5,
    cursor: Cursor = None,
) -> Annotated[CallToolResult, Items]:
    """Recent releases with errors introduced and seen, and unhandled-session rates; or one release by id."""
    assert project_id is not None
    backend = runtime(ctx).backend()
    if release_id:
        release = await backend.get_release(project_id, release_id)
        return respond(r.releases_text((release,), None, None), as_items([release]))
    page = await backend.list_releases(project_id, release_stage=release_stage, limit=limit, cursor=cursor)
    return respond(
        r.releases_text(page.items, page.total, page.next_cursor), as_items(page.items, page.total, page.next_cursor)
    )


@tool(
    title="List release groups",
    scope="projects:read",
    toolset="insights",
    read_only=True,
    idempotent=True,
    needs=("releases",),
)
async def list_release_groups(
    ctx: Context,
    release_stage_name: Annotated[
        str, Field(description="Release stage, e.g. 'production'.", min_length=1, max_length=100)
    ],
    project_id: ProjectId = None,
    top_only: Annotated[bool, Field(description="Only the top (most used) versions.")] = False,
    visible_only: Annotated[bool, Field(description="Only versions not hidden in the dashboard.")] = False,
    limit: Limit = 10,
    cursor: Cursor = None,
) -> Annotated[CallToolResult, Items]:
    """Versions of a project in one release stage (release groups), with their visibility."""
    assert project_id is not None
    page = (
        await runtime(ctx)
        .backend()
        .list_release_groups(
            project_id, release_stage_name, top_only=top_only, visible_only=visible_only, limit=limit, cursor=cursor
        )
    )
    return respond(r.release_groups_text(page.items, page.next_cursor), as_items(page.items, None, page.next_cursor))


@tool(
    title="List project events",
    scope="errors:read",
    toolset="insights",
    read_only=True,
    idempotent=True,
    needs=("events",),
)
async def list_project_events(
    ctx: Context, project_id: ProjectId = None, filters: FilterList = None, limit: Limit = 10, cursor: Cursor = None
) -> Annotated[CallToolResult, Items]:
    """Recent events across all errors of a project, newest first, optionally filtered (e.g. 'user.id=42')."""
    assert project_id is not None
    rt = runtime(ctx)
    page = await rt.backend().list_project_events(
        project_id, limit=limit, cursor=cursor, filters=await checked_filters(rt, project_id, filters)
    )
    lines = [
        f"# Events in project {project_id} ({len(page.items)}"
        + (f" of {page.total})" if page.total is not None else ")")
    ]
    if page.items:
        lines += [
            NOTICE,
            '<untrusted-data source="events">',
            *(event_summary_line(e) for e in page.items),
            "</untrusted-data>",
        ]
    if page.next_cursor:
        lines.append(f"\nMore: cursor={page.next_cursor}")
    data = Items(
        items=[event_out(e).model_dump(mode="json") for e in page.items], total=page.total, next_cursor=page.next_cursor
    )
    return respond("\n".join(lines), data)


@tool(
    title="List event fields",
    scope="errors:read",
    toolset="insights",
    read_only=True,
    idempotent=True,
    needs=("event_fields",),
)
async def list_event_fields(ctx: Context, project_id: ProjectId = None) -> Annotated[CallToolResult, Items]:
    """The fields this project can filter and pivot on (what `filters` accepts)."""
    assert project_id is not None
    fields = await runtime(ctx).backend().list_event_fields(project_id)
    return respond(r.event_fields_text(fields), as_items(fields))


@tool(
    title="List saved searches",
    scope="errors:read",
    toolset="insights",
    read_only=True,
    idempotent=True,
    needs=("saved_searches",),
)
async def list_saved_searches(
    ctx: Context,
    project_id: ProjectId = None,
    shared: Annotated[bool | None, Field(description="Only shared (true) or only private (false) searches.")] = None,
) -> Annotated[CallToolResult, Items]:
    """The project's saved searches (named filter sets from the dashboard)."""
    assert project_id is not None
    searches = await runtime(ctx).backend().list_saved_searches(project_id, shared=shared)
    return respond(r.saved_searches_text(searches), as_items(searches))


@tool(
    title="Create saved search",
    scope="errors:write",
    toolset="insights",
    read_only=False,
    idempotent=False,
    needs=("saved_searches",),
)
async def create_saved_search(
    ctx: Context,
    name: Annotated[str, Field(min_length=1, max_length=100, description="Name shown in the dashboard.")],
    filters: FilterList,
    project_id: ProjectId = None,
    sort: Annotated[Literal["last_seen", "first_seen", "users", "events"] | None, Field(description="Order.")] = None,
    shared: Annotated[bool, Field(description="Visible to the whole team.")] = False,
    project_default: Annotated[bool, Field(description="Make it the project's default view.")] = False,
) -> Annotated[CallToolResult, Record]:
    """Save a named filter set in the dashboard, for example the query an investigation settled on."""
    assert project_id is not None
    rt = runtime(ctx)
    parsed = await checked_filters(rt, project_id, filters)
    if not parsed:
        raise InvalidArgument("filters must contain at least one 'field=value' condition")
    saved = await rt.backend().create_saved_search(
        project_id, name, parsed, project_default=project_default, sort=sort, shared=shared
    )
    return respond(f"Created saved search {saved.id}.\n\n" + r.saved_searches_text([saved]), as_record(saved))
