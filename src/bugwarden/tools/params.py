"""Parameter types shared by tools, each described once."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

ProjectId = Annotated[
    str | None,
    Field(
        description="Project id from list_projects. Optional when a default project is configured or only one "
        "project is visible.",
        max_length=200,
    ),
]
ErrorId = Annotated[
    str,
    Field(
        description="Error id from list_errors, or a dashboard error URL (the project is then taken from the URL).",
        min_length=1,
        max_length=2000,
    ),
]
EventId = Annotated[
    str, Field(description="Event id from list_events or an error's latest event.", min_length=1, max_length=200)
]
Cursor = Annotated[
    str | None,
    Field(description="next_cursor from the previous page of the same tool with the same arguments.", max_length=4000),
]
Full = Annotated[bool, Field(description="Show every frame, more breadcrumbs and metadata (larger output).")]
Limit = Annotated[int, Field(ge=1, le=100, description="How many to return (1-100).")]
ErrorStatus = Literal["open", "in progress", "for_review", "fixed", "snoozed", "ignored"]
Severity = Literal["info", "warning", "error"]
BugportStatus = Literal["open", "in_progress", "resolved", "closed"]
BugportSeverity = Literal["low", "medium", "high", "critical"]
AnyStatus = Literal[
    "open", "in progress", "for_review", "fixed", "snoozed", "ignored", "in_progress", "resolved", "closed"
]
AnySeverity = Literal["info", "warning", "error", "low", "medium", "high", "critical"]
ErrorSort = Literal["last_seen", "first_seen", "users", "events", "unsorted"]
