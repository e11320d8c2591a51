"""Parameter types shared by tools, each declared and described once."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

from pydantic import Field

from .operations import ReopenIf

ProjectId = Annotated[
    str | None,
    Field(
        description="Project id from list_projects. Optional when error_id names its project (a dashboard URL or "
        "a bugport: id), a default project is configured, or only one project is visible.",
        max_length=200,
    ),
]
ErrorId = Annotated[
    str,
    Field(
        description="Error id from list_errors ('bugport:…' for BugPort bug reports), or a BugSnag dashboard error "
        "URL; the project then comes from the id or URL.",
        min_length=1,
        max_length=2000,
    ),
]
OptionalErrorId = Annotated[
    str | None, Field(description="Error id from list_errors; omit for the whole project.", max_length=200)
]
EventId = Annotated[
    str, Field(description="Event id from list_events or an error's latest event.", min_length=1, max_length=200)
]
OrganizationId = Annotated[
    str, Field(description="Organization id from list_organizations.", min_length=1, max_length=200)
]
Cursor = Annotated[
    str | None,
    Field(description="next_cursor from the previous page of the same tool with the same arguments.", max_length=4000),
]
Confirm = Annotated[
    str | None,
    Field(
        description="Only for clients that cannot ask their user: the confirmation code from this call's preview "
        "(call once without it to see what would change).",
        max_length=200,
    ),
]
Full = Annotated[bool, Field(description="Show every frame and breadcrumb, and more metadata (larger output).")]
Limit = Annotated[int, Field(ge=1, le=100, description="How many to return (1-100).")]
Since = Annotated[
    str | None, Field(description="Only since: '7d', '24h', '30m' or an ISO time ending in Z.", max_length=40)
]
Status = Literal[
    "open", "in progress", "for_review", "fixed", "snoozed", "ignored", "in_progress", "resolved", "closed"
]
Severity = Literal["info", "warning", "error", "low", "medium", "high", "critical"]
ErrorSort = Literal["last_seen", "first_seen", "users", "events", "unsorted"]
ReopenRule = Annotated[ReopenIf | None, Field(description="For snooze: when to reopen.")]
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
SNOOZE_RULE: dict[str, Any] = {
    "reopen_if": ReopenRule,
    "seconds": Seconds,
    "occurrences": Occurrences,
    "hours": Hours,
    "additional_occurrences": AdditionalOccurrences,
    "additional_users": AdditionalUsers,
}
"""A snooze rule's parameters: `reopen_if` and every rule's companions (operations.SNOOZE_COMPANIONS)."""

Tool = TypeVar("Tool", bound=Callable[..., Any])


def with_snooze_rule(fn: Tool) -> Tool:
    """Give a tool the parameters of a snooze rule (SNOOZE_RULE, each optional), so that every tool that snoozes
    offers them alike: they take the place of the tool's `**rule` (which receives them) in the signature the SDK
    reads, before its `confirm`."""
    signature = inspect.signature(fn, eval_str=True)
    kept = [p for p in signature.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    at = next((i for i, p in enumerate(kept) if p.name == "confirm"), len(kept))
    rule = [
        inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None, annotation=t)
        for n, t in SNOOZE_RULE.items()
    ]
    fn.__signature__ = signature.replace(parameters=[*kept[:at], *rule, *kept[at:]])  # type: ignore[attr-defined]
    fn.__annotations__ = {**{k: v for k, v in fn.__annotations__.items() if k != "rule"}, **SNOOZE_RULE}
    return fn


CollaboratorId = Annotated[
    str | None,
    Field(description="For assign: the collaborator's id or email; empty unassigns.", max_length=200),
]
TeamId = Annotated[
    str | None,
    Field(
        description="For assign: the team instead of a collaborator: its BugSnag id, or its name (e.g. 'Payments'; "
        "looked up, which BugSnag allows an organization admin).",
        max_length=100,
    ),
]
NotificationId = Annotated[
    str | None,
    Field(
        description="For create_issue or link_issue: which issue tracker: its notification id, or its integration key "
        "(e.g. 'jira', 'github') or tracker project, looked up among the project's trackers.",
        max_length=100,
    ),
]
