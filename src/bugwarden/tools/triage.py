"""Triage beyond one error's status: comments, feature flags, saved-search upkeep, data-deletion requests."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.types import CallToolResult
from pydantic import Field

from ..backends.capabilities import (
    CommentEdits,
    Comments,
    DataDeletions,
    EventFields,
    Events,
    FeatureFlags,
    SavedSearches,
)
from ..backends.errors import InvalidArgument
from ..backends.paths import check_id
from ..call.call import ProjectCall
from ..call.consent import Consent
from ..call.target import Target
from ..render import insights as render_insights
from ..render import triage as render
from ..render.answer import Answer
from ..render.outputs import (
    CommentList,
    CommentOut,
    DataDeletionOut,
    DeletionOut,
    FeatureFlagList,
    SavedSearchList,
)
from .confirm import delete_after_consent
from .filters import FilterList, checked_filters, filter_rules, parse_filter
from .params import Confirm, Cursor, ErrorId, Limit, ProjectId
from .registry import tool
from .support import able, respond

CommentId = Annotated[str, Field(description="Comment id from list_comments.", min_length=1, max_length=200)]
SavedSearchId = Annotated[
    str, Field(description="Saved search id from list_saved_searches.", min_length=1, max_length=200)
]
Body = Annotated[str, Field(min_length=1, max_length=10_000, description="The comment, in plain text or markdown.")]


@tool(
    title="List comments",
    scope="errors:read",
    toolset="insights",
    read_only=True,
    idempotent=True,
    needs=(Comments,),
)
async def list_comments(
    call: ProjectCall, error_id: ErrorId, project_id: ProjectId = None, limit: Limit = 30
) -> Annotated[CallToolResult, CommentList]:
    """The discussion on an error (BugSnag) or bug report (BugPort), oldest first, with each comment's id.

    Use this when you want what the team already found before investigating, or a comment id to edit."""
    found = await able(call.target, Comments).list_comments(call.target.project_id, error_id, limit=limit)
    return respond(render.comments(error_id, found))


@tool(
    title="Edit comment",
    scope="errors:write",
    toolset="admin",
    read_only=False,
    idempotent=True,
    needs=(CommentEdits,),
)
async def update_comment(
    call: ProjectCall, comment_id: CommentId, body: Body, error_id: ErrorId, project_id: ProjectId = None
) -> Annotated[CallToolResult, CommentOut]:
    """Replace the text of a BugSnag comment (one this account wrote), e.g. to correct a finding."""
    changed = await able(call.target, CommentEdits).update_comment(
        call.target.project_id, error_id, check_id(comment_id, "comment_id"), body
    )
    return respond(render.comment_changed(call.target.project_id, error_id, changed))


@tool(
    title="Delete comment",
    scope="errors:write",
    toolset="destructive",
    read_only=False,
    destructive=True,
    idempotent=True,
    needs=(CommentEdits,),
    ask=lambda args: f"Delete comment {args['comment_id']} on error {args['error_id']}?",
)
async def delete_comment(
    call: ProjectCall,
    comment_id: CommentId,
    error_id: ErrorId,
    consent: Consent,
    project_id: ProjectId = None,
    confirm: Confirm = None,
) -> Annotated[CallToolResult, DeletionOut]:
    """Delete a BugSnag comment. Asks first."""
    backend = able(call.target, CommentEdits)
    cid = check_id(comment_id, "comment_id")

    async def preview() -> str:
        shown = [
            c
            for c in await able(call.target, Comments).list_comments(call.target.project_id, error_id, limit=100)
            if c.id == cid
        ]
        return render.comment_preview(shown[0]) if shown else f"(comment {cid} is not among this error's)"

    return await delete_after_consent(
        "comment", cid, consent, preview, lambda: backend.delete_comment(call.target.project_id, error_id, cid)
    )


@tool(
    title="List feature flags",
    scope="errors:read",
    toolset="insights",
    read_only=True,
    idempotent=True,
    needs=(FeatureFlags,),
)
async def list_feature_flags(
    call: ProjectCall,
    release_stage_name: Annotated[
        str, Field(description="Release stage, e.g. 'production'.", min_length=1, max_length=100)
    ],
    project_id: ProjectId = None,
    q: Annotated[str | None, Field(description="Only flags whose name contains this.", max_length=100)] = None,
    limit: Limit = 30,
    cursor: Cursor = None,
) -> Annotated[CallToolResult, FeatureFlagList]:
    """Feature flags seen in a release stage. Use this when an error may depend on a flag: then list_errors with
    filters ['feature_flag.seen_in=<name>']."""
    page = await able(call.target, FeatureFlags).list_feature_flags(
        call.target.project_id, release_stage_name, q=q, limit=limit, page=call.target.page
    )
    return respond(render.feature_flags(page, release_stage_name, call.target.cursor(page.next)))


def saved_search_change_rules(args: dict[str, Any], target: Target) -> None:
    filter_rules(args, target)
    if not any(args.get(k) is not None for k in ("name", "filters", "sort", "shared", "project_default")):
        raise InvalidArgument("nothing to change: pass name, filters, sort, shared or project_default")
    if args.get("filters") == []:
        raise InvalidArgument("filters must contain at least one 'field=value' condition")


@tool(
    title="Update saved search",
    scope="errors:write",
    toolset="insights",
    read_only=False,
    idempotent=True,
    needs=(SavedSearches,),
    rules=saved_search_change_rules,
)
async def update_saved_search(
    call: ProjectCall,
    saved_search_id: SavedSearchId,
    project_id: ProjectId = None,
    name: Annotated[str | None, Field(min_length=1, max_length=100, description="New name.")] = None,
    filters: FilterList = None,
    sort: Annotated[Literal["last_seen", "first_seen", "users", "events"] | None, Field(description="Order.")] = None,
    shared: Annotated[bool | None, Field(description="Visible to the whole team.")] = None,
    project_default: Annotated[bool | None, Field(description="The project's default view.")] = None,
) -> Annotated[CallToolResult, SavedSearchList]:
    """Rename a saved search or change its filters (replaced, not merged), sort or sharing."""
    backend = able(call.target, SavedSearches)
    fields: dict[str, Any] = {
        k: v
        for k, v in (("name", name), ("sort", sort), ("shared", shared), ("project_default", project_default))
        if v is not None
    }
    if filters is not None:
        fields["filters"] = await checked_filters(able(call.target, EventFields), call.target.project_id, filters)
    changed = await backend.update_saved_search(
        call.target.project_id, check_id(saved_search_id, "saved_search_id"), fields
    )
    listed = render_insights.saved_searches([changed])
    return respond(Answer(f"Updated saved search {changed.id}.\n\n" + listed.text, listed.data))


@tool(
    title="Delete saved search",
    scope="errors:write",
    toolset="destructive",
    read_only=False,
    destructive=True,
    idempotent=True,
    needs=(SavedSearches,),
    ask=lambda args: f"Delete saved search {args['saved_search_id']}?",
)
async def delete_saved_search(
    call: ProjectCall,
    saved_search_id: SavedSearchId,
    consent: Consent,
    project_id: ProjectId = None,
    confirm: Confirm = None,
) -> Annotated[CallToolResult, DeletionOut]:
    """Delete a saved search from the dashboard (the errors it finds stay). Asks first."""
    backend = able(call.target, SavedSearches)
    sid = check_id(saved_search_id, "saved_search_id")

    async def preview() -> str:
        return render.saved_search_preview(await backend.get_saved_search(call.target.project_id, sid))

    return await delete_after_consent(
        "saved search", sid, consent, preview, lambda: backend.delete_saved_search(call.target.project_id, sid)
    )


def deletion_rules(args: dict[str, Any], target: Target) -> None:
    filter_rules(args, target)
    if not args.get("filters"):
        raise InvalidArgument("filters must name the events to delete, e.g. ['user.email=ann@example.com']")


@tool(
    title="Delete event data",
    scope="errors:delete",
    toolset="destructive",
    read_only=False,
    destructive=True,
    idempotent=False,
    needs=(DataDeletions,),
    rules=deletion_rules,
    ask=lambda args: (
        f"Permanently delete every event of project {args.get('project_id')} matching "
        + ", ".join(str(f) for f in args.get("filters") or [])
        + "?"
    ),
)
async def delete_event_data(
    call: ProjectCall,
    filters: FilterList,
    consent: Consent,
    project_id: ProjectId = None,
    confirm: Confirm = None,
) -> Annotated[CallToolResult, DataDeletionOut]:
    """Request deletion of every event matching filters, e.g. one user's data (['user.id=42']) for a privacy
    request. Asks first, showing how many events match; BugSnag then deletes them in the background."""
    backend = able(call.target, DataDeletions)
    parsed = await checked_filters(able(call.target, EventFields), call.target.project_id, filters)
    if not consent.given:
        matching = None
        if consent.how == "preview":
            matching = (
                await able(call.target, Events).list_project_events(call.target.project_id, limit=1, filters=parsed)
            ).total
        words = [f"{f} {'is' if k == 'eq' else 'is not'} {v}" for f, k, v in (parse_filter(t) for t in filters or [])]
        return respond(
            render.deletion_pending(
                call.target.project_id, words, matching, consent.how, consent.code, consent.approval, consent.approve_at
            )
        )
    found = await backend.request_data_deletion(call.target.project_id, parsed)
    return respond(render.deletion(call.target.project_id, found, consent.how))


@tool(
    title="Get event data deletion",
    scope="errors:read",
    toolset="destructive",
    read_only=True,
    idempotent=True,
    needs=(DataDeletions,),
)
async def get_event_data_deletion(
    call: ProjectCall,
    deletion_id: Annotated[str, Field(description="Id from delete_event_data.", min_length=1, max_length=200)],
    project_id: ProjectId = None,
) -> Annotated[CallToolResult, DataDeletionOut]:
    """Where a data-deletion request stands (status, how many events, when completed)."""
    found = await able(call.target, DataDeletions).get_data_deletion(
        call.target.project_id, check_id(deletion_id, "deletion_id")
    )
    return respond(render.deletion(call.target.project_id, found))
