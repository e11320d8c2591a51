"""Backend-neutral domain objects.

Every backend adapter parses upstream JSON into these and nothing else; `render/` turns them
into text. No HTTP, no formatting, no imports from `backends/`, `render/` or `tools/`.

Text fields that come from end users' devices (messages, breadcrumbs, metadata, request data,
BugPort reports) are kept verbatim here: neutralising them is the renderer's job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

T = TypeVar("T")


_FILTER_FIELD = re.compile(r"^[A-Za-z0-9_.:-]{1,120}$")


@dataclass(frozen=True, slots=True)
class Organization:
    id: str
    name: str
    slug: str | None = None
    created_at: datetime | None = None
    backend: str = "bugsnag"


@dataclass(frozen=True, slots=True)
class Project:
    id: str
    name: str
    organization_id: str | None = None
    type: str | None = None
    language: str | None = None
    slug: str | None = None
    release_stages: tuple[str, ...] = ()
    open_error_count: int | None = None
    html_url: str | None = None
    created_at: datetime | None = None
    backend: str = "bugsnag"


@dataclass(frozen=True, slots=True)
class LinkedIssue:
    url: str
    key: str | None = None
    type: str | None = None


@dataclass(frozen=True, slots=True)
class ReopenRule:
    """When a snoozed error reopens: `kind` is BugSnag's `reopen_if`, with the counts it uses."""

    kind: str
    seconds: int | None = None
    occurrences: int | None = None
    hours: int | None = None
    additional_occurrences: int | None = None
    additional_users: int | None = None


@dataclass(frozen=True, slots=True)
class ErrorGroup:
    """One grouped error (BugSnag), or one bug report (BugPort: `kind` "bug_report", its title in `message`)."""

    id: str
    project_id: str
    error_class: str
    message: str
    kind: str = "error"
    source: str | None = None
    """Bug reports: how it was filed (extension, widget, api, mcp)."""
    context: str | None = None
    severity: str | None = None
    status: str | None = None
    events: int | None = None
    users: int | None = None
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    release_stages: tuple[str, ...] = ()
    assigned_collaborator_id: str | None = None
    overridden_severity: str | None = None
    linked_issues: tuple[LinkedIssue, ...] = ()
    discarded: bool = False
    reopen_rule: ReopenRule | None = None
    introduced_in: tuple[str, ...] = ()
    url: str | None = None
    backend: str = "bugsnag"


@dataclass(frozen=True, slots=True)
class Frame:
    file: str | None
    method: str | None
    line: int | None = None
    column: int | None = None
    in_project: bool | None = None
    code: dict[int, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ExceptionInfo:
    error_class: str
    message: str
    frames: tuple[Frame, ...] = ()
    type: str | None = None


@dataclass(frozen=True, slots=True)
class Breadcrumb:
    timestamp: datetime | None
    name: str
    type: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ConsoleLog:
    level: str
    message: str
    timestamp: datetime | None = None
    source: str | None = None


@dataclass(frozen=True, slots=True)
class NetworkRequest:
    method: str
    url: str
    status: int | None = None
    duration_ms: float | None = None
    response_body: str | None = None


@dataclass(frozen=True, slots=True)
class Comment:
    id: str
    author: str | None
    body: str
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class FeatureFlag:
    id: str
    name: str
    first_seen: datetime | None = None
    active: bool | None = None


@dataclass(frozen=True, slots=True)
class DataDeletion:
    """A request to delete the events matching some filters (BugSnag processes it in the background)."""

    id: str
    status: str | None = None
    total: int | None = None
    """How many events it covers."""
    created_at: datetime | None = None
    completed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Activity:
    type: str
    actor: str | None = None
    at: datetime | None = None
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class AppInfo:
    release_stage: str | None = None
    version: str | None = None
    type: str | None = None
    in_foreground: bool | None = None


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    os_name: str | None = None
    os_version: str | None = None
    browser_name: str | None = None
    browser_version: str | None = None
    model: str | None = None
    hostname: str | None = None
    locale: str | None = None


@dataclass(frozen=True, slots=True)
class RequestInfo:
    method: str | None = None
    url: str | None = None
    header_names: tuple[str, ...] = ()
    """Names only: header values (cookies, tokens) are never kept."""


@dataclass(frozen=True, slots=True)
class Event:
    """One occurrence. `is_full` is False for list summaries (no stack, no breadcrumbs)."""

    id: str
    error_id: str | None
    project_id: str | None
    received_at: datetime | None
    exceptions: tuple[ExceptionInfo, ...] = ()
    severity: str | None = None
    unhandled: bool | None = None
    context: str | None = None
    breadcrumbs: tuple[Breadcrumb, ...] = ()
    request: RequestInfo = field(default_factory=RequestInfo)
    app: AppInfo = field(default_factory=AppInfo)
    device: DeviceInfo = field(default_factory=DeviceInfo)
    user_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    url: str | None = None
    is_full: bool = True
    backend: str = "bugsnag"


@dataclass(frozen=True, slots=True)
class PivotValue:
    value: str
    events: int | None = None
    proportion: float | None = None


@dataclass(frozen=True, slots=True)
class Pivot:
    field: str
    name: str | None
    cardinality: int | None = None
    values: tuple[PivotValue, ...] = ()
    other: int | None = None
    no_value: int | None = None


@dataclass(frozen=True, slots=True)
class TrendBucket:
    start: datetime | None
    end: datetime | None
    events: int


@dataclass(frozen=True, slots=True)
class Release:
    id: str
    app_version: str | None
    release_stage: str | None = None
    release_time: datetime | None = None
    build_label: str | None = None
    errors_introduced: int | None = None
    errors_seen: int | None = None
    total_sessions: int | None = None
    unhandled_sessions: int | None = None
    release_group_id: str | None = None


@dataclass(frozen=True, slots=True)
class ReleaseGroup:
    id: str
    app_version: str | None
    release_stage: str | None = None
    releases_count: int | None = None
    visible: bool | None = None
    first_released_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class StabilityPoint:
    start: datetime | None
    sessions: int | None
    unhandled_sessions: int | None
    unhandled_rate: float | None = None


@dataclass(frozen=True, slots=True)
class Collaborator:
    id: str
    name: str | None
    email: str | None
    is_admin: bool | None = None
    pending_invitation: bool | None = None


@dataclass(frozen=True, slots=True)
class EventField:
    display_id: str
    name: str | None = None
    custom: bool = False


@dataclass(frozen=True, slots=True)
class SavedSearch:
    id: str
    name: str
    project_id: str | None = None
    filters: dict[str, Any] = field(default_factory=dict)
    sort: str | None = None
    shared: bool | None = None
    project_default: bool | None = None

    @property
    def conditions(self) -> tuple[tuple[str, str, str], ...]:
        """The filters as (field, "eq" | "ne", value) conditions, in order; conditions of another shape are left
        out (see `unusable`)."""
        found = []
        for name, conditions in self.filters.items():
            for c in conditions if isinstance(conditions, list) else []:
                if (
                    isinstance(c, dict)
                    and c.get("type") in ("eq", "ne")
                    and isinstance(c.get("value"), str | int | float | bool)
                    and _FILTER_FIELD.match(name)
                ):
                    value = c["value"]
                    found.append((name, c["type"], str(value).lower() if isinstance(value, bool) else str(value)))
        return tuple(found)

    @property
    def unusable(self) -> int:
        """How many of the filters' conditions `conditions` leaves out."""
        listed = sum(len(c) if isinstance(c, list) else 1 for c in self.filters.values())
        return listed - len(self.conditions)


@dataclass(frozen=True, slots=True)
class BugReportDetail:
    """What BugPort's context endpoint adds to an ErrorGroup."""

    description: str | None = None
    page: dict[str, Any] = field(default_factory=dict)
    console_logs: tuple[ConsoleLog, ...] = ()
    network: tuple[NetworkRequest, ...] = ()
    comments: tuple[Comment, ...] = ()
    activity: tuple[Activity, ...] = ()
    source: str | None = None


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """A page of results. `next` is the backend's position of the next page (never shown to agents as is: the
    checkpoint signs it into a cursor); `total` is upstream's count if known."""

    items: tuple[T, ...]
    next: str | None = None
    total: int | None = None


@dataclass(frozen=True, slots=True)
class BugContext:
    """Everything gathered for one error. Parts that failed upstream are named in `missing`."""

    error: ErrorGroup
    latest: Event | None = None
    pivots: tuple[Pivot, ...] = ()
    trend: tuple[TrendBucket, ...] = ()
    dashboard_url: str | None = None
    missing: tuple[str, ...] = ()
    report: BugReportDetail | None = None
    """BugPort: the bug report's console, network, page and discussion."""


@dataclass(frozen=True, slots=True)
class Signal:
    """What a tracker pushed about a project (a BugSnag webhook delivery), as stored: a hint that something
    happened, to be confirmed by reading the error itself. Text fields are the sender's, verbatim."""

    seq: int
    project_id: str
    trigger: str
    """The most telling trigger merged into this signal (e.g. `firstException` over `exception`)."""
    triggers: tuple[str, ...]
    received_at: datetime
    source: str = "bugsnag"
    trigger_message: str | None = None
    error_id: str | None = None
    event_id: str | None = None
    error_class: str | None = None
    message: str | None = None
    context: str | None = None
    release_stage: str | None = None
    app_version: str | None = None
    severity: str | None = None
    unhandled: bool | None = None
    status: str | None = None
    occurrences: int | None = None
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    dashboard_url: str | None = None
    detail: dict[str, str] = field(default_factory=dict)
    """Trigger-specific facts: release version, state change, comment, who acted."""
    test: bool = False
    """BugSnag's "Test error" delivery: placeholder ids that resolve to nothing."""


@dataclass(frozen=True, slots=True)
class SignalQuery:
    """Which signals to list: `projects` (non-empty) bounds what may be shown at all."""

    projects: frozenset[str] = frozenset()
    project_id: str | None = None
    trigger: str | None = None
    release_stage: str | None = None
    since: datetime | None = None
    limit: int = 20
