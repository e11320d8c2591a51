"""The `insights` toolset: pivots, trends, stability, releases, project events, event fields, saved searches."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.types import CallToolResult
from pydantic import Field

from ..backends.capabilities import EventFields, Events, Pivots, Releases, SavedSearches, Trends
from ..backends.errors import InvalidArgument
from ..backends.paths import check_id
from ..call.call import ProjectCall
from ..call.target import Target
from ..model import Page
from ..render import events as render_events
from ..render import insights as render
from ..render.outputs import (
    CreatedOut,
    EventFieldList,
    EventList,
    PivotList,
    PivotValueList,
    ReleaseGroupList,
    ReleaseList,
    SavedSearchList,
    StabilityOut,
    TrendOut,
)
from .filters import FilterList, checked_filters, filter_rules
from .params import Cursor, Limit, OptionalErrorId, ProjectId, Since
from .registry import tool
from .support import able, check_since, respond

FieldId = Annotated[
    str,
    Field(
        description="Event field display id, e.g. app.version, os.name, user.id (see list_event_fields).",
        min_length=1,
        max_length=200,
    ),
]


def _scope(project_id: str, error_id: str | None) -> str:
    return f"error {error_id}" if error_id else f"project {project_id}"


@tool(
    title="List pivots",
    scope="errors:read",
    toolset="insights",
    read_only=True,
    idempotent=True,
    needs=(Pivots,),
    rules=filter_rules,
)
async def list_pivots(
    call: ProjectCall,
    project_id: ProjectId = None,
    error_id: OptionalErrorId = None,
    pivots: Annotated[
        list[Annotated[str, Field(max_length=200)]] | None,
        Field(description="Only these event fields, e.g. ['os.name'].", max_length=20),
    ] = None,
    summary_size: Annotated[int, Field(ge=1, le=20, description="Top values per field.")] = 5,
    filters: FilterList = None,
) -> Annotated[CallToolResult, PivotList]:
    """Where errors happen: the top values of releases, OS, browsers, users and other fields, for one error or a
    whole project."""
    backend = able(call.target, Pivots)
    found = await backend.list_pivots(
        call.target.project_id,
        error_id,
        summary_size=summary_size,
        pivots=pivots or (),
        filters=await checked_filters(able(call.target, EventFields), call.target.project_id, filters),
    )
    return respond(render.pivots(found, _scope(call.target.project_id, error_id)))


@tool(
    title="List pivot values",
    scope="errors:read",
    toolset="insights",
    read_only=True,
    idempotent=True,
    needs=(Pivots,),
)
async def list_pivot_values(
    call: ProjectCall,
    event_field_display_id: FieldId,
    project_id: ProjectId = None,
    error_id: OptionalErrorId = None,
    sort: Annotated[Literal["unsorted"] | None, Field(description="'unsorted' avoids the sorted-results cap.")] = None,
    limit: Limit = 10,
    cursor: Cursor = None,
) -> Annotated[CallToolResult, PivotValueList]:
    """All values of one event field with their event counts and share, for one error or a whole project."""
    page = await able(call.target, Pivots).list_pivot_values(
        call.target.project_id, event_field_display_id, error_id, sort=sort, limit=limit, page=call.target.page
    )
    return respond(render.pivot_values(page, event_field_display_id, call.target.cursor(page.next)))


def trend_rules(args: dict[str, Any], target: Target) -> None:
    if args.get("buckets_count") and args.get("resolution"):
        raise InvalidArgument("pass buckets_count or resolution, not both")
    check_since(args.get("since"))


@tool(
    title="Get trend",
    scope="errors:read",
    toolset="insights",
    read_only=True,
    idempotent=True,
    needs=(Trends,),
    rules=trend_rules,
)
async def get_trend(
    call: ProjectCall,
    project_id: ProjectId = None,
    error_id: OptionalErrorId = None,
    buckets_count: Annotated[int | None, Field(ge=1, le=50, description="Number of buckets (1-50).")] = None,
    resolution: Annotated[
        Literal["1m", "5m", "30m", "2h", "12h"] | None, Field(description="Fixed bucket size instead of buckets_count.")
    ] = None,
    since: Since = None,
) -> Annotated[CallToolResult, TrendOut]:
    """Event counts over time for one error or a whole project: is it rising, falling, or a spike?"""
    buckets = await able(call.target, Trends).get_trend(
        call.target.project_id,
        error_id,
        buckets_count=buckets_count,
        resolution=resolution,
        filters=[("event.since", "eq", since)] if since else [],
    )
    return respond(render.trend(buckets, _scope(call.target.project_id, error_id)))


@tool(
    title="Get stability trend",
    scope="projects:read",
    toolset="insights",
    read_only=True,
    idempotent=True,
    needs=(Releases,),
)
async def get_stability_trend(
    call: ProjectCall, project_id: ProjectId = None
) -> Annotated[CallToolResult, StabilityOut]:
    """Daily crash-free session rate of a project's primary release stage over the last 30 days."""
    stage, points = await able(call.target, Releases).get_stability_trend(call.target.project_id)
    return respond(render.stability(stage, points))


@tool(
    title="List releases",
    scope="projects:read",
    toolset="insights",
    read_only=True,
    idempotent=True,
    needs=(Releases,),
)
async def list_releases(
    call: ProjectCall,
    project_id: ProjectId = None,
    release_id: Annotated[
        str | None, Field(description="Show this one release instead of a list.", max_length=200)
    ] = None,
    release_group_id: Annotated[
        str | None,
        Field(description="List the builds of this version (release group, from list_release_groups).", max_length=200),
    ] = None,
    release_stage: Annotated[str | None, Field(description="Only this release stage.", max_length=100)] = None,
    sort: Annotated[
        Literal["timestamp", "percent_of_sessions"] | None,
        Field(description="'percent_of_sessions' puts the most used releases first (default: newest first)."),
    ] = None,
    limit: Annotated[int, Field(ge=1, le=10, description="Releases per page (1-10).")] = 5,
    cursor: Cursor = None,
) -> Annotated[CallToolResult, ReleaseList]:
    """Recent releases with errors introduced and seen, and unhandled-session rates; one release by id; or the
    builds of one version (release_group_id). The errors a release introduced: list_errors with introduced_in."""
    backend = able(call.target, Releases)
    if release_id:
        release = await backend.get_release(call.target.project_id, release_id)
        return respond(render.releases(Page((release,)), None))
    if release_group_id:
        builds = await backend.list_release_group_releases(
            call.target.project_id, check_id(release_group_id, "release_group_id"), limit=limit, page=call.target.page
        )
        return respond(render.releases(builds, call.target.cursor(builds.next)))
    page = await backend.list_releases(
        call.target.project_id, release_stage=release_stage, sort=sort, limit=limit, page=call.target.page
    )
    return respond(render.releases(page, call.target.cursor(page.next)))


@tool(
    title="List release groups",
    scope="projects:read",
    toolset="insights",
    read_only=True,
    idempotent=True,
    needs=(Releases,),
)
async def list_release_groups(
    call: ProjectCall,
    release_stage_name: Annotated[
        str, Field(description="Release stage, e.g. 'production'.", min_length=1, max_length=100)
    ],
    project_id: ProjectId = None,
    top_only: Annotated[bool, Field(description="Only the top (most used) versions.")] = False,
    visible_only: Annotated[bool, Field(description="Only versions not hidden in the dashboard.")] = False,
    limit: Limit = 10,
    cursor: Cursor = None,
) -> Annotated[CallToolResult, ReleaseGroupList]:
    """Versions of a project in one release stage (release groups), with their visibility."""
    page = await able(call.target, Releases).list_release_groups(
        call.target.project_id,
        release_stage_name,
        top_only=top_only,
        visible_only=visible_only,
        limit=limit,
        page=call.target.page,
    )
    return respond(render.release_groups(page, call.target.cursor(page.next)))


@tool(
    title="List project events",
    scope="errors:read",
    toolset="insights",
    read_only=True,
    idempotent=True,
    needs=(Events, EventFields),
    rules=filter_rules,
)
async def list_project_events(
    call: ProjectCall,
    project_id: ProjectId = None,
    filters: FilterList = None,
    limit: Limit = 10,
    cursor: Cursor = None,
) -> Annotated[CallToolResult, EventList]:
    """Recent events across all errors of a project, newest first, optionally filtered (e.g. 'user.id=42')."""
    backend = able(call.target, Events)
    page = await backend.list_project_events(
        call.target.project_id,
        limit=limit,
        page=call.target.page,
        filters=await checked_filters(able(call.target, EventFields), call.target.project_id, filters),
    )
    return respond(
        render_events.event_list(
            page,
            f"Events in project {call.target.project_id}",
            call.target.cursor(page.next),
            "list_project_events",
            "No events match.",
        )
    )


@tool(
    title="List event fields",
    scope="errors:read",
    toolset="insights",
    read_only=True,
    idempotent=True,
    needs=(EventFields,),
)
async def list_event_fields(
    call: ProjectCall, project_id: ProjectId = None
) -> Annotated[CallToolResult, EventFieldList]:
    """The fields this project can filter and pivot on (what `filters` accepts)."""
    return respond(render.event_fields(await able(call.target, EventFields).list_event_fields(call.target.project_id)))


@tool(
    title="List saved searches",
    scope="errors:read",
    toolset="insights",
    read_only=True,
    idempotent=True,
    needs=(SavedSearches,),
)
async def list_saved_searches(
    call: ProjectCall,
    project_id: ProjectId = None,
    shared: Annotated[bool | None, Field(description="Only shared (true) or only private (false) searches.")] = None,
) -> Annotated[CallToolResult, SavedSearchList]:
    """The project's saved searches (named filter sets from the dashboard)."""
    return respond(
        render.saved_searches(
            await able(call.target, SavedSearches).list_saved_searches(call.target.project_id, shared=shared)
        )
    )


def saved_search_rules(args: dict[str, Any], target: Target) -> None:
    filter_rules(args, target)
    if not args.get("filters"):
        raise InvalidArgument("filters must contain at least one 'field=value' condition")


@tool(
    title="Create saved search",
    scope="errors:write",
    toolset="insights",
    read_only=False,
    idempotent=False,
    needs=(SavedSearches,),
    rules=saved_search_rules,
)
async def create_saved_search(
    call: ProjectCall,
    name: Annotated[str, Field(min_length=1, max_length=100, description="Name shown in the dashboard.")],
    filters: FilterList,
    project_id: ProjectId = None,
    sort: Annotated[Literal["last_seen", "first_seen", "users", "events"] | None, Field(description="Order.")] = None,
    shared: Annotated[bool, Field(description="Visible to the whole team.")] = False,
    project_default: Annotated[bool, Field(description="Make it the project's default view.")] = False,
) -> Annotated[CallToolResult, CreatedOut]:
    """Save a named filter set in the dashboard, for example the query an investigation settled on."""
    backend = able(call.target, SavedSearches)
    parsed = await checked_filters(able(call.target, EventFields), call.target.project_id, filters)
    saved = await backend.create_saved_search(
        call.target.project_id, name, parsed, project_default=project_default, sort=sort, shared=shared
    )
    return respond(render.saved_search_created(saved))
