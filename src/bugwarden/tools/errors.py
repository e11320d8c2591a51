"""Error tools: list, view, resolve, update."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

import anyio
from mcp.server.mcpserver import Context, Elicit
from mcp.server.mcpserver.resolve import Resolve
from mcp.types import CallToolResult
from pydantic import Field

from ..backends.base import ErrorChange, ErrorQuery, Filter
from ..backends.errors import InvalidArgument
from ..model import ErrorGroup, Event
from ..render.bugport import bug_report_sections
from ..render.events import COMPACT, FULL, error_line, error_summary, event_text
from ..render.text import NOTICE
from ..runtime import Runtime, runtime
from .confirm import Answer, Approval, Confirm, Verdict, decide, verdict_of
from .outputs import ErrorChangeOut, ErrorDetail, ErrorList
from .params import AnySeverity, AnyStatus, BugportStatus, Cursor, ErrorId, ErrorSort, Full, Limit, ProjectId
from .registry import tool
from .support import FULL_OUTPUT_LIMIT, OUTPUT_LIMIT, error_out, event_out, respond

BUGPORT_SEVERITIES = ("low", "medium", "high", "critical")
VALUES: dict[str, dict[str, tuple[str, ...]]] = {
    "bugsnag": {
        "status": ("open", "in progress", "for_review", "fixed", "snoozed", "ignored"),
        "severity": ("info", "warning", "error"),
    },
    "bugport": {"status": ("open", "in_progress", "resolved", "closed"), "severity": BUGPORT_SEVERITIES},
}
_SINCE = re.compile(r"^(\d{1,4}[mhd]|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z)$")


def since_value(since: str) -> str:
    if not _SINCE.match(since):
        raise InvalidArgument(
            "since must be relative like '7d', '24h', '30m', or a UTC time like '2026-11-01T00:00:00Z'"
        )
    return since


@tool(title="List errors", scope="errors:read", read_only=True, idempotent=True, needs=("errors",))
async def list_errors(
    ctx: Context,
    project_id: ProjectId = None,
    status: Annotated[
        AnyStatus | None,
        Field(
            description="Only errors with this status (BugSnag: open, in "
            "progress, for_review, fixed, snoozed, ignored; BugPort: open, "
            "in_progress, resolved, closed)."
        ),
    ] = None,
    severity: Annotated[
        AnySeverity | None,
        Field(description="Only this severity (BugSnag: info, warning, error; BugPort: low, medium, high, critical)."),
    ] = None,
    release_stage: Annotated[
        str | None, Field(description="Only errors seen in this release stage, e.g. 'production'.", max_length=100)
    ] = None,
    since: Annotated[
        str | None, Field(description="Only errors seen since: '7d', '24h' or an ISO time ending in Z.", max_length=40)
    ] = None,
    search: Annotated[
        str | None, Field(description="Free text matched against class, message and context.", max_length=200)
    ] = None,
    sort: Annotated[ErrorSort, Field(description="Order; 'unsorted' avoids the sorted-results cap.")] = "last_seen",
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Annotated[CallToolResult, ErrorList]:
    """List a project's errors, most recently seen first, one line each with counts and ids.

    Use it to find what is failing; then get_bug_context on one error id. Returns up to `limit` errors
    and a next_cursor when there are more.
    """
    rt = runtime(ctx)
    assert project_id is not None
    backend = rt.backend_for(project_id)
    allowed = VALUES[backend.name]
    for label, value in (("status", status), ("severity", severity)):
        if value is not None and value not in allowed[label]:
            raise InvalidArgument(
                f"{label} {value!r} does not exist on {backend.name}; use one of {', '.join(allowed[label])}"
            )
    filters: list[Filter] = []
    if status:
        filters.append(("error.status", "eq", status))
    if severity:
        filters.append(("event.severity", "eq", severity))
    if release_stage:
        filters.append(("app.release_stage", "eq", release_stage))
    if since:
        filters.append(("event.since", "eq", since_value(since)))
    if search:
        filters.append(("search", "eq", search))
    page = await backend.list_errors(project_id, ErrorQuery(tuple(filters), sort=sort, limit=limit), cursor)
    shown = f"{len(page.items)}" + (f" of {page.total}" if page.total is not None else "")
    lines = [f"# Errors in project {project_id} ({shown})"]
    if page.items:
        lines += [NOTICE, '<untrusted-data source="errors">', *(error_line(e) for e in page.items), "</untrusted-data>"]
    else:
        lines.append("No errors match these filters." + (" Try a wider 'since' or fewer filters." if filters else ""))
    if page.next_cursor:
        lines.append(f"\nMore: call list_errors again with cursor={page.next_cursor}")
    data = ErrorList(errors=[error_out(e) for e in page.items], total=page.total, next_cursor=page.next_cursor)
    return respond("\n".join(lines), data)


async def error_view(rt: Runtime, project_id: str, error_id: str, full: bool = False) -> tuple[str, ErrorDetail]:
    """The rendering shared by get_error and the error resource: facts plus the latest event (BugSnag), or the
    report with its console, network, page and discussion (BugPort)."""
    backend = rt.backend_for(project_id)
    if backend.name == "bugport":
        bug, report = await backend.get_context(project_id, error_id)
        text = "\n\n".join([f"# Bug report {bug.id}", NOTICE, *bug_report_sections(bug, report)])
        return text, ErrorDetail(error=error_out(bug))
    error: ErrorGroup | None = None
    latest: Event | None = None
    url: str | None = None

    async def load_error() -> None:
        nonlocal error
        error = await backend.get_error(project_id, error_id)

    async def load_latest() -> None:
        nonlocal latest
        latest = await backend.get_latest_event(project_id, error_id)

    async def load_url() -> None:
        nonlocal url
        url = await rt.dashboard_url(project_id, error_id)

    async with anyio.create_task_group() as tg:
        tg.start_soon(load_error)
        tg.start_soon(load_latest)
        tg.start_soon(load_url)
    assert error is not None
    parts = [f"# Error {error.id}", NOTICE, error_summary(error)]
    if url:
        parts.append(f"**Dashboard:** {url}")
    if latest is not None:
        parts.append(
            event_text(latest, FULL if full else COMPACT, title=f"Latest event {latest.id}")
            .replace("# Latest", "## Latest", 1)
            .replace("\n## ", "\n### ")
        )
    data = ErrorDetail(error=error_out(error, url), latest_event=event_out(latest) if latest else None)
    return "\n\n".join(parts), data


@tool(title="Get error", scope="errors:read", read_only=True, idempotent=True, needs=("errors",))
async def get_error(
    ctx: Context, error_id: ErrorId, project_id: ProjectId = None, full: Full = False
) -> Annotated[CallToolResult, ErrorDetail]:
    """Show one error: status, counts, first and last seen, and its latest event's stack and breadcrumbs."""
    assert project_id is not None
    text, data = await error_view(runtime(ctx), project_id, error_id, full)
    return respond(text, data, limit=FULL_OUTPUT_LIMIT if full else OUTPUT_LIMIT)


def describe_change(before: ErrorGroup | None, after: ErrorGroup | None, operation: str) -> dict[str, str | None]:
    fields = ("status", "severity", "assigned_collaborator_id", "discarded", "linked_issues", "reopen_rules")
    if after is None:
        return {"operation": operation}
    changed: dict[str, str | None] = {}
    for name in fields:
        old, new = (getattr(before, name) if before else None), getattr(after, name)
        if old != new:
            changed[name] = (
                None
                if new in (None, ())
                else str(new if not isinstance(new, tuple) else [getattr(i, "url", i) for i in new])
            )
    return changed


async def change_error(ctx: Context, project_id: str, error_id: str, change: ErrorChange, verb: str) -> CallToolResult:
    backend = runtime(ctx).backend_for(project_id)
    before = await backend.get_error(project_id, error_id)
    after = await backend.update_error(project_id, error_id, change)
    changed = describe_change(before, after, change.operation)
    if after is None:
        text = f"Error {error_id} in project {project_id}: {verb} (the API confirmed with no body)."
    elif changed:
        text = f"Error {error_id} in project {project_id}: {verb}.\n" + "\n".join(
            f"- {k}: {getattr(before, k) if not isinstance(getattr(before, k), tuple) else '…'} → {v}"
            for k, v in changed.items()
        )
    else:
        text = f"Error {error_id} in project {project_id}: nothing changed ({verb} was already in effect)."
    data = ErrorChangeOut(
        error_id=error_id,
        project_id=project_id,
        operation=change.operation,
        changed=changed,
        error=error_out(after) if after else None,
    )
    return respond(text, data)


@tool(
    title="Resolve error",
    scope="errors:write",
    read_only=False,
    destructive=False,
    idempotent=True,
    needs=("update_error",),
)
async def resolve_error(
    ctx: Context, error_id: ErrorId, project_id: ProjectId = None
) -> Annotated[CallToolResult, ErrorChangeOut]:
    """Mark an error as fixed. It reopens automatically if it happens again. Use after a fix has shipped."""
    assert project_id is not None
    return await change_error(ctx, project_id, error_id, ErrorChange("fix"), "marked fixed")


Operation = Literal[
    "open",
    "ignore",
    "snooze",
    "override_severity",
    "assign",
    "create_issue",
    "link_issue",
    "unlink_issue",
    "discard",
    "undiscard",
]
ReopenIf = Literal["occurs_after", "n_occurrences_in_m_hours", "n_additional_occurrences", "n_additional_users"]
Seconds = Annotated[
    int | None, Field(ge=1, le=100_000_000, description="For snooze with occurs_after: reopen after this many seconds.")
]
Occurrences = Annotated[
    int | None, Field(ge=1, le=100_000_000, description="For snooze with n_occurrences_in_m_hours: this many events...")
]
Hours = Annotated[int | None, Field(ge=1, le=100_000, description="...within this many hours.")]
AdditionalOccurrences = Annotated[
    int | None,
    Field(ge=1, le=100_000_000, description="For snooze with n_additional_occurrences: this many more events."),
]
AdditionalUsers = Annotated[
    int | None, Field(ge=1, le=100_000, description="For snooze with n_additional_users: this many more users.")
]


def build_change(
    operation: str,
    *,
    severity: str | None,
    assigned_collaborator_id: str | None,
    issue_url: str | None,
    issue_title: str | None,
    reopen_if: str | None,
    seconds: int | None,
    occurrences: int | None,
    hours: int | None,
    additional_occurrences: int | None,
    additional_users: int | None,
) -> ErrorChange:
    """Check that each operation has its companions before any request is made."""
    fields: dict[str, Any] = {}
    if operation == "override_severity":
        if severity is None:
            raise InvalidArgument("override_severity needs severity: info, warning or error")
        fields["severity"] = severity
    elif operation == "assign":
        fields["assigned_collaborator_id"] = assigned_collaborator_id or ""
    elif operation == "link_issue":
        if not issue_url or not issue_url.startswith(("https://", "http://")):
            raise InvalidArgument("link_issue needs issue_url, an http(s) URL of the issue")
        fields["issue_url"] = issue_url
    elif operation == "create_issue" and issue_title:
        fields["issue_title"] = issue_title
    elif operation == "snooze":
        companions = {
            "occurs_after": {"seconds": seconds},
            "n_occurrences_in_m_hours": {"occurrences": occurrences, "hours": hours},
            "n_additional_occurrences": {"additional_occurrences": additional_occurrences},
            "n_additional_users": {"additional_users": additional_users},
        }
        if reopen_if is None:
            raise InvalidArgument(
                "snooze needs reopen_if (occurs_after, n_occurrences_in_m_hours, "
                "n_additional_occurrences or n_additional_users) and its companion values"
            )
        needed = companions[reopen_if]
        if missing := [k for k, v in needed.items() if v is None]:
            raise InvalidArgument(f"snooze with reopen_if={reopen_if} needs {', '.join(missing)}")
        fields["reopen_rules"] = {"reopen_if": reopen_if, **needed}
    return ErrorChange(operation, fields)


async def ask_update_error(
    ctx: Context, error_id: str, operation: str, confirm: str | None = None
) -> Verdict | Elicit[Approval]:
    if operation != "discard":
        return Verdict(True, "not destructive")
    return decide(error_id, confirm, ctx, f"Discard error {error_id}? Its future events will be dropped.")


@tool(
    title="Update error",
    scope="errors:write",
    read_only=False,
    destructive=True,
    idempotent=False,
    needs=("update_error",),
)
async def update_error(
    ctx: Context,
    error_id: ErrorId,
    approval: Annotated[Answer, Resolve(ask_update_error)],
    operation: Annotated[
        Operation | None,
        Field(description="BugSnag: what to do. 'discard' drops all future events (needs the errors:delete scope)."),
    ] = None,
    project_id: ProjectId = None,
    status: Annotated[BugportStatus | None, Field(description="BugPort: the new status.")] = None,
    severity: Annotated[
        AnySeverity | None,
        Field(description="BugSnag override_severity: info, warning, error. BugPort: low, medium, high, critical."),
    ] = None,
    assigned_collaborator_id: Annotated[
        str | None, Field(description="For assign; empty unassigns.", max_length=100)
    ] = None,
    issue_url: Annotated[str | None, Field(description="For link_issue.", max_length=2000)] = None,
    issue_title: Annotated[str | None, Field(description="For create_issue.", max_length=200)] = None,
    reopen_if: Annotated[ReopenIf | None, Field(description="For snooze: when to reopen.")] = None,
    seconds: Seconds = None,
    occurrences: Occurrences = None,
    hours: Hours = None,
    additional_occurrences: AdditionalOccurrences = None,
    additional_users: AdditionalUsers = None,
    confirm: Confirm = None,
) -> Annotated[CallToolResult, ErrorChangeOut]:
    """Change an error: reopen, ignore, snooze (with reopen rules), override severity, assign, link or unlink
    an issue, discard (asks first) or undiscard. For a BugPort bug report, set status and/or severity instead.
    Answers with what changed. To mark fixed use resolve_error."""
    assert project_id is not None
    if runtime(ctx).backend_name(project_id) == "bugport":
        if operation is not None:
            raise InvalidArgument("BugPort bug reports take status and/or severity, not an operation")
        if severity is not None and severity not in BUGPORT_SEVERITIES:
            raise InvalidArgument("BugPort severity must be low, medium, high or critical")
        change = ErrorChange("set", {k: v for k, v in {"status": status, "severity": severity}.items() if v})
        return await change_error(ctx, project_id, error_id, change, "updated")
    if operation is None:
        raise InvalidArgument("operation is required for BugSnag errors (use resolve_error to mark fixed)")
    if status is not None:
        raise InvalidArgument(
            "status applies to BugPort bug reports; for BugSnag use operation open, ignore or snooze, or resolve_error"
        )
    if severity is not None and severity not in ("info", "warning", "error"):
        raise InvalidArgument("BugSnag severity must be info, warning or error")
    verdict = verdict_of(approval)
    if not verdict.approved:
        text = (
            "Not discarded: the user declined."
            if verdict.how == "declined"
            else f"Not discarded yet: discarding error {error_id} drops all its future events. Call again with "
            f"confirm={error_id!r} to proceed."
        )
        return respond(text, ErrorChangeOut(error_id=error_id, project_id=project_id, operation=operation, changed={}))
    change = build_change(
        operation,
        severity=severity,
        assigned_collaborator_id=assigned_collaborator_id,
        issue_url=issue_url,
        issue_title=issue_title,
        reopen_if=reopen_if,
        seconds=seconds,
        occurrences=occurrences,
        hours=hours,
        additional_occurrences=additional_occurrences,
        additional_users=additional_users,
    )
    return await change_error(ctx, project_id, error_id, change, f"{operation} applied")


@tool(title="Add comment", scope="errors:write", read_only=False, idempotent=False, needs=("comments",))
async def add_comment(
    ctx: Context,
    error_id: ErrorId,
    body: Annotated[str, Field(min_length=1, max_length=10_000, description="The comment, in plain text or markdown.")],
    project_id: ProjectId = None,
) -> Annotated[CallToolResult, ErrorChangeOut]:
    """Comment on a BugPort bug report, for example to record what was found or which release fixes it."""
    assert project_id is not None
    comment = await runtime(ctx).backend_for(project_id).add_comment(project_id, error_id, body)
    return respond(
        f"Commented on bug report {error_id} (comment {comment.id}).",
        ErrorChangeOut(error_id=error_id, project_id=project_id, operation="comment", changed={"comment": comment.id}),
    )
