"""Lenient parsing of BugSnag v2 JSON into `model` objects.

Follows the wire as observed, not only the spec: `error_class`/`errorClass`,
`received_at`/`receivedAt`, snake or camel frame keys, nullable `in_project` and
`column_number`, both pivot summary shapes, unknown fields ignored. A value of the wrong type
becomes None rather than an exception; a body that is not an object at all is the caller's
MalformedResponse.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from ..model import (
    Breadcrumb,
    Collaborator,
    ErrorGroup,
    Event,
    EventField,
    ExceptionInfo,
    Frame,
    LinkedIssue,
    Organization,
    Pivot,
    PivotValue,
    Project,
    Release,
    ReleaseGroup,
    SavedSearch,
    StabilityPoint,
    ThreadInfo,
    TrendBucket,
)

_PROJECT_IN_URL = re.compile(r"/projects/([^/?#]+)")


def pick(obj: dict[str, Any], *keys: str) -> Any:
    """First present, non-None value among `keys`."""
    for key in keys:
        value = obj.get(key)
        if value is not None:
            return value
    return None


def text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def integer(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(value) if isinstance(value, str) else None
    except ValueError:
        return None


def boolean(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    return None


def timestamp(value: Any) -> datetime | None:
    """Parse the timestamp formats seen on the wire (`…000Z`, `…Z`, `+00:00`); None if unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def strings(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value if v is not None) if isinstance(value, list) else ()


def obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def objs(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def project_id_from(data: dict[str, Any]) -> str | None:
    if pid := text(data.get("project_id")):
        return pid
    for key in ("project_url", "url"):
        url = data.get(key)
        if isinstance(url, str) and (m := _PROJECT_IN_URL.search(url)):
            return m.group(1)
    return None


def organization(data: dict[str, Any]) -> Organization:
    return Organization(
        id=str(data.get("id", "")),
        name=text(data.get("name")) or "",
        slug=text(data.get("slug")),
        created_at=timestamp(data.get("created_at")),
    )


def project(data: dict[str, Any]) -> Project:
    return Project(
        id=str(data.get("id", "")),
        name=text(data.get("name")) or "",
        organization_id=text(data.get("organization_id")),
        type=text(data.get("type")),
        language=text(data.get("language")),
        slug=text(data.get("slug")),
        release_stages=strings(data.get("release_stages")),
        open_error_count=integer(data.get("open_error_count")),
        html_url=text(data.get("html_url")),
        created_at=timestamp(data.get("created_at")),
    )


def error_group(data: dict[str, Any], project_id: str | None = None) -> ErrorGroup:
    issues = tuple(
        LinkedIssue(url=text(i.get("url")) or "", key=text(i.get("key")), type=text(i.get("type")))
        for i in objs(data.get("linked_issues"))
    )
    introduced = tuple(
        text(pick(r, "build_label", "release_id")) or "" for r in objs(data.get("introduced_in_releases"))
    )
    return ErrorGroup(
        id=str(data.get("id", "")),
        project_id=project_id_from(data) or project_id or "",
        error_class=text(pick(data, "error_class", "errorClass")) or "(unknown class)",
        message=text(data.get("message")) or "",
        context=text(data.get("context")),
        severity=text(data.get("severity")),
        status=text(data.get("status")),
        events=integer(data.get("events")),
        users=integer(data.get("users")),
        first_seen=timestamp(pick(data, "first_seen", "first_seen_unfiltered")),
        last_seen=timestamp(pick(data, "last_seen", "last_seen_unfiltered")),
        release_stages=strings(data.get("release_stages")),
        assigned_collaborator_id=text(data.get("assigned_collaborator_id")),
        overridden_severity=text(data.get("overridden_severity")),
        linked_issues=issues,
        comment_count=integer(data.get("comment_count")),
        discarded=bool(data.get("discarded")),
        reopen_rules=data.get("reopen_rules") if isinstance(data.get("reopen_rules"), dict) else None,
        introduced_in=tuple(i for i in introduced if i),
        url=text(data.get("url")),
    )


def frame(data: dict[str, Any]) -> Frame:
    code: dict[int, str] = {}
    for line, source in obj(data.get("code")).items():
        if (n := integer(line)) is not None and isinstance(source, str):
            code[n] = source
    return Frame(
        file=text(pick(data, "file", "filename")),
        method=text(pick(data, "method", "function")),
        line=integer(pick(data, "line_number", "lineNumber")),
        column=integer(pick(data, "column_number", "columnNumber")),
        in_project=boolean(pick(data, "in_project", "inProject")),
        code=code,
    )


def exception(data: dict[str, Any]) -> ExceptionInfo:
    return ExceptionInfo(
        error_class=text(pick(data, "error_class", "errorClass")) or "(unknown class)",
        message=text(data.get("message")) or "",
        frames=tuple(frame(f) for f in objs(data.get("stacktrace"))),
        type=text(data.get("type")),
    )


def event(data: dict[str, Any], project_id: str | None = None) -> Event:
    full = bool(data.get("is_full_report", "breadcrumbs" in data or "metaData" in data))
    crumbs = tuple(
        Breadcrumb(
            timestamp=timestamp(c.get("timestamp")),
            name=text(c.get("name")) or "",
            type=text(c.get("type")),
            metadata=obj(pick(c, "metaData", "metadata")),
        )
        for c in objs(data.get("breadcrumbs"))
    )
    threads = tuple(
        ThreadInfo(
            id=str(t.get("id", "")),
            name=text(t.get("name")),
            error_reporting=bool(pick(t, "error_reporting_thread", "errorReportingThread")),
            frames=tuple(frame(f) for f in objs(t.get("stacktrace"))),
        )
        for t in objs(data.get("threads"))
    )
    return Event(
        id=str(data.get("id", "")),
        error_id=text(data.get("error_id")),
        project_id=project_id_from(data) or project_id,
        received_at=timestamp(pick(data, "received_at", "receivedAt")),
        exceptions=tuple(exception(e) for e in objs(data.get("exceptions"))),
        severity=text(data.get("severity")),
        unhandled=boolean(data.get("unhandled")),
        context=text(data.get("context")),
        breadcrumbs=crumbs,
        threads=threads,
        request=obj(data.get("request")),
        app=obj(data.get("app")),
        device=obj(data.get("device")),
        user=obj(data.get("user")),
        metadata=obj(pick(data, "metaData", "meta_data", "metadata")),
        url=text(data.get("url")),
        is_full=full,
    )


def pivot(data: dict[str, Any]) -> Pivot:
    summary = obj(data.get("summary")) or data  # real: nested under "summary"; spec: top level
    values = tuple(
        PivotValue(value=text(pick(v, "value", "event_field_value")) or "", events=integer(v.get("events")))
        for v in objs(summary.get("list"))
    )
    return Pivot(
        field=text(data.get("event_field_display_id")) or "",
        name=text(data.get("name")),
        cardinality=integer(data.get("cardinality")),
        values=values,
        other=integer(summary.get("other")),
        no_value=integer(summary.get("no_value")),
    )


def pivot_value(data: dict[str, Any]) -> PivotValue:
    return PivotValue(
        value=text(pick(data, "event_field_value", "value")) or "",
        events=integer(data.get("events")),
        proportion=number(data.get("proportion")),
    )


def trend_bucket(data: dict[str, Any]) -> TrendBucket:
    return TrendBucket(
        start=timestamp(data.get("from")),
        end=timestamp(data.get("to")),
        events=integer(pick(data, "events_count", "events")) or 0,
    )


def release(data: dict[str, Any]) -> Release:
    return Release(
        id=str(data.get("id", "")),
        app_version=text(data.get("app_version")) or None,
        release_stage=text(obj(data.get("release_stage")).get("name")) or text(data.get("release_stage_name")),
        release_time=timestamp(data.get("release_time")),
        build_label=text(data.get("build_label")) or None,
        errors_introduced=integer(data.get("errors_introduced_count")),
        errors_seen=integer(data.get("errors_seen_count")),
        total_sessions=integer(data.get("total_sessions_count")),
        unhandled_sessions=integer(data.get("unhandled_sessions_count")),
        release_group_id=text(data.get("release_group_id")),
    )


def release_group(data: dict[str, Any]) -> ReleaseGroup:
    return ReleaseGroup(
        id=str(data.get("id", "")),
        app_version=text(data.get("app_version")),
        release_stage=text(data.get("release_stage_name")),
        releases_count=integer(data.get("releases_count")),
        visible=boolean(data.get("visible")),
        first_released_at=timestamp(data.get("first_released_at")),
    )


def stability_points(data: dict[str, Any]) -> tuple[str | None, tuple[StabilityPoint, ...]]:
    points = tuple(
        StabilityPoint(
            start=timestamp(p.get("bucket_start")),
            sessions=integer(p.get("total_sessions_count")),
            unhandled_sessions=integer(p.get("unhandled_sessions_count")),
            unhandled_rate=number(p.get("unhandled_rate")),
        )
        for p in objs(data.get("timeline_points"))
    )
    return text(data.get("release_stage_name")), points


def collaborator(data: dict[str, Any]) -> Collaborator:
    return Collaborator(
        id=str(data.get("id", "")),
        name=text(data.get("name")),
        email=text(data.get("email")),
        is_admin=boolean(data.get("is_admin")),
        pending_invitation=boolean(data.get("pending_invitation")),
        last_request_at=timestamp(data.get("last_request_at")),
    )


def event_field(data: dict[str, Any]) -> EventField:
    return EventField(
        display_id=text(data.get("display_id")) or "",
        name=text(obj(data.get("filter_options")).get("name")),
        custom=bool(data.get("custom")),
        match_types=strings(data.get("match_types")),
    )


def saved_search(data: dict[str, Any]) -> SavedSearch:
    return SavedSearch(
        id=str(data.get("id", "")),
        name=text(data.get("name")) or "",
        project_id=text(data.get("project_id")),
        filters=obj(data.get("filters")),
        sort=text(data.get("sort")),
        shared=boolean(data.get("shared")),
    )


def error_body(body: Any) -> tuple[int | None, str | None]:
    """`{"errors": [...], "code": N}` -> (code, first message reduced to safe words)."""
    from .http import safe_detail

    if not isinstance(body, dict):
        return None, None
    errors = body.get("errors")
    first = errors[0] if isinstance(errors, list) and errors else errors
    return integer(body.get("code")), safe_detail(first)
