"""Error tools: list, view, resolve, update, comment."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from mcp.types import CallToolResult
from pydantic import BeforeValidator, Field

from ..backends.base import ErrorChange, ErrorQuery, Filter
from ..backends.capabilities import Comments, ErrorChanges, Errors, EventFields, SavedSearches
from ..backends.errors import InvalidArgument
from ..backends.paths import check_id
from ..call.call import ProjectCall
from ..call.consent import Consent
from ..call.target import Target
from ..render import confirm as render_confirm
from ..render import errors as render
from ..render.outputs import CommentOut, ErrorChangeOut, ErrorDetail, ErrorList
from .filters import FilterList, checked_filters, filter_rules
from .operations import BUGPORT_FIELDS, SNOOZE_COMPANIONS, UpdateOperation, chosen, operation_takes, refuse_foreign
from .params import (
    CollaboratorId,
    Confirm,
    Cursor,
    ErrorId,
    ErrorSort,
    Full,
    Limit,
    NotificationId,
    ProjectId,
    Severity,
    Since,
    Status,
    TeamId,
    with_snooze_rule,
)
from .registry import tool
from .support import able, backend_of, check_since, check_vocabulary, respond


def _statuses(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def list_rules(args: dict[str, Any], target: Target) -> None:
    backend = backend_of(target)
    capabilities = backend.vocabulary
    statuses = _statuses(args.get("status"))
    for status in statuses:
        check_vocabulary(target, {"status": status}, "status")
    if len(statuses) > 1 and not capabilities.several_statuses:
        raise InvalidArgument(f"{backend.label} filters by one status at a time")
    check_vocabulary(target, args, "severity")
    check_since(args.get("since"))
    check_since(args.get("before"), "before")
    given = [n for n in LIST_FILTERS if args.get(n) not in (None, [], "")]
    given += ["extra"] if args.get("filters") or args.get("saved_search_id") else []
    if unsupported := [n for n in given if n not in capabilities.filters]:
        words = [{"extra": "filters or saved_search_id"}.get(n, n) for n in unsupported]
        raise InvalidArgument(
            f"{backend.label} cannot filter by {', '.join(words)}; it filters by "
            + ", ".join(n for n in capabilities.filters if n != "extra")
        )
    if args.get("sort") not in capabilities.sorts:
        raise InvalidArgument(f"{backend.label} sorts only by {', '.join(capabilities.sorts)}")
    if args.get("saved_search_id") is not None:
        check_id(args["saved_search_id"], "saved_search_id")
    filter_rules(args, target)


_NAME = re.compile(r"[^\x00-\x1f\x7f]{1,100}")


def id_or_name(value: object, what: str) -> str:
    """A team or issue tracker as given: an id (`check_id`), or a name the backend looks up (one line of printable
    characters, never put in a path)."""
    if isinstance(value, str) and _NAME.fullmatch(value) and value.strip():
        return value.strip()
    return check_id(value, what)


LIST_FILTERS = tuple(n for n in ErrorQuery.NAMES if n != "extra")
"""The typed filters of `list_errors` (free-form and saved-search filters arrive as `extra`)."""
Text = Annotated[str | None, Field(max_length=200)]


@tool(title="List errors", scope="errors:read", read_only=True, idempotent=True, needs=(Errors,), rules=list_rules)
async def list_errors(
    call: ProjectCall,
    project_id: ProjectId = None,
    status: Annotated[
        Annotated[list[Status], Field(max_length=6)] | None,
        BeforeValidator(lambda v: [v] if isinstance(v, str) else v),
        Field(
            description="Only errors with any of these statuses (BugSnag: open, in progress, for_review, fixed, "
            "snoozed, ignored; BugPort, one only: open, in_progress, resolved, closed)."
        ),
    ] = None,
    severity: Annotated[
        Severity | None,
        Field(description="Only this severity (BugSnag: info, warning, error; BugPort: low, medium, high, critical)."),
    ] = None,
    release_stage: Annotated[
        str | None, Field(description="Only errors seen in this release stage, e.g. 'production'.", max_length=100)
    ] = None,
    since: Since = None,
    before: Annotated[
        str | None, Field(description="Only events before: '7d', '24h' or an ISO time ending in Z.", max_length=40)
    ] = None,
    search: Annotated[
        str | None, Field(description="Free text matched against class, message and context.", max_length=200)
    ] = None,
    introduced_in: Annotated[
        str | None,
        Field(
            description="BugSnag: errors this release introduced (first seen in it): a build label or app version, "
            "'*' wildcards, e.g. '3.7.0'.",
            max_length=100,
        ),
    ] = None,
    app_version: Annotated[
        str | None, Field(description="BugSnag: errors seen in this app version ('*' wildcards).", max_length=100)
    ] = None,
    user: Annotated[
        str | None, Field(description="BugSnag: errors that hit this user (an id, or an email).", max_length=200)
    ] = None,
    assigned_to: Annotated[
        str | None,
        Field(description="BugSnag: 'me', 'anyone', a collaborator id or email (list_collaborators).", max_length=200),
    ] = None,
    error_class: Annotated[
        str | None, Field(description="BugSnag: class contains this, e.g. 'TimeoutError'.", max_length=200)
    ] = None,
    os: Annotated[str | None, Field(description="BugSnag: OS name, e.g. 'Android', 'iOS'.", max_length=100)] = None,
    filters: FilterList = None,
    saved_search_id: Annotated[
        str | None,
        Field(
            description="BugSnag: apply a saved search's filters (and its sort) from list_saved_searches.",
            max_length=200,
        ),
    ] = None,
    sort: Annotated[
        ErrorSort, Field(description="Order; 'unsorted' avoids BugSnag's sorted-results cap.")
    ] = "last_seen",
    direction: Annotated[
        Literal["asc", "desc"] | None, Field(description="BugSnag: 'asc' for oldest or fewest first.")
    ] = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Annotated[CallToolResult, ErrorList]:
    """List a project's errors, most recently seen first, one line each with counts and the error id the other
    tools take.

    Use this when you need error ids: what is failing now (status=['open'], since='24h'); which errors a release
    introduced (introduced_in='3.7.0'); what hit a user (user='ann@example.com'); what is assigned to someone
    (assigned_to='me'); one class on one OS (error_class='TimeoutError', os='Android'). More conditions: filters
    (['browser.name=Chrome']), or a saved search's (saved_search_id). Then get_bug_context on one error id.
    Returns up to `limit` errors and a next_cursor when there are more.
    """
    extra: list[Filter] = []
    order: str = sort
    if filters or saved_search_id:
        extra = await checked_filters(able(call.target, EventFields), call.target.project_id, filters)
        if saved_search_id:
            saved = await able(call.target, SavedSearches).get_saved_search(call.target.project_id, saved_search_id)
            extra += list(saved.conditions)
            order = saved.sort if saved.sort in ("first_seen", "users", "events") and sort == "last_seen" else sort
    query = ErrorQuery(
        status=tuple(status or ()),
        severity=severity,
        release_stage=release_stage,
        since=since,
        search=search,
        sort=order,
        limit=limit,
        before=before,
        user=user,
        assigned_to=assigned_to,
        introduced_in=introduced_in,
        app_version=app_version,
        error_class=error_class,
        os=os,
        direction=direction,
        extra=tuple(extra),
    )
    page = await call.target.backend.list_errors(call.target.project_id, query, call.target.page)
    stages: tuple[str, ...] | None = None
    if not page.items and release_stage and call.target.page is None:
        stages = (await call.target.backend.get_project(call.target.project_id)).release_stages
    return respond(
        render.error_list(
            page, call.target.project_id, call.target.cursor(page.next), bool(query.given()), release_stage, stages
        )
    )


@tool(title="Get error", scope="errors:read", read_only=True, idempotent=True, needs=(Errors,))
async def get_error(
    call: ProjectCall, error_id: ErrorId, project_id: ProjectId = None, full: Full = False
) -> Annotated[CallToolResult, ErrorDetail]:
    """Show one error: status, counts, first and last seen, and its latest event's stack and breadcrumbs (or, for
    a BugPort bug report, the report with its console, network requests and discussion)."""
    return respond(
        render.error_detail(await call.target.backend.error_detail(call.target.project_id, error_id), full=full)
    )


async def apply_change(call: ProjectCall, error_id: str, change: ErrorChange, what: str) -> CallToolResult:
    before = await call.target.backend.get_error(call.target.project_id, error_id)
    call.name_target("error", f"{before.error_class}: {before.message}" if before.message else before.error_class)
    after = await able(call.target, ErrorChanges).update_error(call.target.project_id, error_id, change)
    return respond(render.change_made(before, after, change.operation, what))


@tool(
    title="Resolve error",
    scope="errors:write",
    read_only=False,
    destructive=False,
    idempotent=True,
    needs=(ErrorChanges,),
)
async def resolve_error(
    call: ProjectCall, error_id: ErrorId, project_id: ProjectId = None
) -> Annotated[CallToolResult, ErrorChangeOut]:
    """Mark an error as fixed (a BugPort bug report as resolved). A BugSnag error reopens automatically if it
    happens again. Use after a fix has shipped."""
    return await apply_change(call, error_id, ErrorChange("fix"), "resolved")


def error_change(target: Target, args: dict[str, Any]) -> ErrorChange:
    """The change an update asks for, checked against what the target's backend accepts (raises InvalidArgument).
    Used by the checkpoint (before any intent is recorded) and by the tool itself."""
    backend = backend_of(target)
    capabilities = backend.vocabulary
    operation = args.get("operation")
    if not capabilities.operations:
        if operation is not None:
            raise InvalidArgument(f"{backend.label} bug reports take status and/or severity, not an operation")
        refuse_foreign(args, BUGPORT_FIELDS, f"a {backend.label} bug report update")
        check_vocabulary(target, args, "status", "severity")
        fields = {k: args[k] for k in ("status", "severity") if args.get(k) is not None}
        if not fields:
            raise InvalidArgument(f"pass status and/or severity for a {backend.label} bug report")
        return ErrorChange("set", fields)
    if operation is None:
        raise InvalidArgument("operation is required for BugSnag errors (use resolve_error to mark fixed)")
    if operation not in capabilities.operations:
        raise InvalidArgument(f"{backend.label} has no operation {operation!r}")
    if args.get("status") is not None:
        raise InvalidArgument(
            "status applies to BugPort bug reports; for BugSnag use operation open, ignore or snooze, or resolve_error"
        )
    return bugsnag_change(target, operation, args)


def bugsnag_change(target: Target, operation: str, args: dict[str, Any]) -> ErrorChange:
    """Check that each BugSnag operation has its companions, and nothing that belongs to another operation,
    before any request is made."""
    if args.get("severity") is not None and operation != "override_severity":
        raise InvalidArgument("severity goes with operation override_severity only")
    if operation == "snooze" and args.get("reopen_if") is None:
        *others, last = SNOOZE_COMPANIONS
        raise InvalidArgument(f"snooze needs reopen_if ({', '.join(others)} or {last}) and its companion values")
    refuse_foreign(args, operation_takes(operation, args), f"operation {operation}")
    fields: dict[str, Any] = {}
    if operation == "override_severity":
        check_vocabulary(target, args, "severity")
        if args.get("severity") is None:
            raise InvalidArgument("override_severity needs severity: info, warning or error")
        fields["severity"] = args["severity"]
    if args.get("notification_id") is not None:
        fields["notification_id"] = id_or_name(args["notification_id"], "notification_id")
    if operation == "assign":
        team = args.get("assigned_team_id")
        if team and args.get("assigned_collaborator_id"):
            raise InvalidArgument("assign to a collaborator or to a team, not both")
        if team:
            fields["assigned_team_id"] = id_or_name(team, "assigned_team_id")
        else:
            fields["assigned_collaborator_id"] = args.get("assigned_collaborator_id") or ""
    elif operation == "link_issue":
        url = args.get("issue_url")
        if not url or not str(url).startswith(("https://", "http://")):
            raise InvalidArgument("link_issue needs issue_url, an http(s) URL of the issue")
        fields["issue_url"] = url
    elif operation == "create_issue" and args.get("issue_title"):
        fields["issue_title"] = args["issue_title"]
    elif operation == "snooze":
        reopen_if = args["reopen_if"]
        needed = SNOOZE_COMPANIONS[reopen_if]
        if missing := [k for k in needed if args.get(k) is None]:
            raise InvalidArgument(f"snooze with reopen_if={reopen_if} needs {', '.join(missing)}")
        fields["reopen_rules"] = {"reopen_if": reopen_if, **{k: args[k] for k in needed}}
    return ErrorChange(operation, fields)


def update_rules(args: dict[str, Any], target: Target) -> None:
    error_change(target, args)


def ask_before_discard(args: dict[str, Any]) -> str | None:
    if args.get("operation") != "discard":
        return None
    return f"Discard error {args['error_id']}? Its future events will be dropped."


@tool(
    title="Update error",
    scope="errors:write",
    read_only=False,
    destructive=True,
    idempotent=False,
    needs=(ErrorChanges,),
    rules=update_rules,
    ask=ask_before_discard,
)
@with_snooze_rule
async def update_error(
    call: ProjectCall,
    error_id: ErrorId,
    consent: Consent,
    operation: Annotated[
        UpdateOperation | None,
        Field(description="BugSnag: what to do. 'discard' drops all future events (needs the errors:delete scope)."),
    ] = None,
    project_id: ProjectId = None,
    status: Annotated[
        Literal["open", "in_progress", "resolved", "closed"] | None, Field(description="BugPort: the new status.")
    ] = None,
    severity: Annotated[
        Severity | None,
        Field(description="BugSnag override_severity: info, warning, error. BugPort: low, medium, high, critical."),
    ] = None,
    assigned_collaborator_id: CollaboratorId = None,
    assigned_team_id: TeamId = None,
    notification_id: NotificationId = None,
    issue_url: Annotated[str | None, Field(description="For link_issue.", max_length=2000)] = None,
    issue_title: Annotated[str | None, Field(description="For create_issue.", max_length=200)] = None,
    confirm: Confirm = None,
    **rule: Any,
) -> Annotated[CallToolResult, ErrorChangeOut]:
    """Change an error: reopen, ignore, snooze (with reopen rules), override severity, assign (to a collaborator or
    a team), create, link or unlink an issue, discard (asks first) or undiscard. For a BugPort bug report, set
    status and/or severity instead. Answers with what changed. To mark fixed use resolve_error."""
    args = chosen(call.arguments)
    if not consent.given:
        return respond(
            render_confirm.discard_pending(
                error_id, call.target.project_id, consent.how, consent.code, consent.approval, consent.approve_at
            )
        )
    change = error_change(call.target, args)
    return await apply_change(call, error_id, change, "updated" if operation is None else f"{operation} applied")


@tool(title="Add comment", scope="errors:write", read_only=False, idempotent=False, needs=(Comments,))
async def add_comment(
    call: ProjectCall,
    error_id: ErrorId,
    body: Annotated[str, Field(min_length=1, max_length=10_000, description="The comment, in plain text or markdown.")],
    project_id: ProjectId = None,
) -> Annotated[CallToolResult, CommentOut]:
    """Comment on a BugSnag error or a BugPort bug report, for example to record what was found or which release
    fixes it. list_comments shows the discussion."""
    comment = await able(call.target, Comments).add_comment(call.target.project_id, error_id, body)
    return respond(render.comment_added(call.target.project_id, error_id, comment))
