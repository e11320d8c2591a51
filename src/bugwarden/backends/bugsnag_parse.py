"""Lenient parsing of BugSnag v2 JSON into `model` objects.

Follows the wire as observed, not only the spec: `error_class`/`errorClass`,
`received_at`/`receivedAt`, snake or camel frame keys, nullable `in_project` and
`column_number`, both pivot summary shapes, unknown fields ignored. A value of the wrong type
becomes None rather than an exception; an object without a usable id parses to None (lists drop
it); a body that is not an object at all is the caller's MalformedResponse.
"""

from __future__ import annotations

import re
from typing import Any

from ..model import (
    AppInfo,
    Breadcrumb,
    Collaborator,
    Comment,
    DataDeletion,
    DeviceInfo,
    ErrorGroup,
    Event,
    EventField,
    ExceptionInfo,
    FeatureFlag,
    Frame,
    LinkedIssue,
    Organization,
    Pivot,
    PivotValue,
    Project,
    Release,
    ReleaseGroup,
    ReopenRule,
    RequestInfo,
    SavedSearch,
    StabilityPoint,
    TrendBucket,
)
from .coerce import boolean, ident, integer, number, obj, objs, pick, strings, text, timestamp, word

_PROJECT_IN_URL = re.compile(r"/projects/([^/?#]+)")


def project_id_from(data: dict[str, Any]) -> str | None:
    if pid := ident(data.get("project_id")):
        return pid
    for key in ("project_url", "url"):
        url = data.get(key)
        if isinstance(url, str) and (m := _PROJECT_IN_URL.search(url)):
            return ident(m.group(1))
    return None


_PAGE = re.compile(r"^https://[A-Za-z0-9.-]+(?::\d+)?(?:/[A-Za-z0-9._~-]+)*$")


def page_url(value: Any) -> str | None:
    """A dashboard URL we may show and extend: https, a host, plain path segments; nothing else."""
    return value if isinstance(value, str) and _PAGE.match(value) else None


def organization(data: dict[str, Any]) -> Organization | None:
    if (oid := ident(data.get("id"))) is None:
        return None
    return Organization(
        id=oid,
        name=text(data.get("name")) or "",
        slug=text(data.get("slug")),
        created_at=timestamp(data.get("created_at")),
    )


def project(data: dict[str, Any]) -> Project | None:
    if (pid := ident(data.get("id"))) is None:
        return None
    return Project(
        id=pid,
        name=text(data.get("name")) or "",
        organization_id=ident(data.get("organization_id")),
        type=word(data.get("type")),
        language=word(data.get("language")),
        slug=text(data.get("slug")),
        release_stages=strings(data.get("release_stages")),
        open_error_count=integer(data.get("open_error_count")),
        html_url=page_url(data.get("html_url")),
        created_at=timestamp(data.get("created_at")),
    )


def error_group(data: dict[str, Any], project_id: str | None = None) -> ErrorGroup | None:
    issues = tuple(
        LinkedIssue(url=text(i.get("url")) or "", key=text(i.get("key")), type=text(i.get("type")))
        for i in objs(data.get("linked_issues"))
    )
    introduced = tuple(
        text(pick(r, "build_label", "release_id")) or "" for r in objs(data.get("introduced_in_releases"))
    )
    if (eid := ident(data.get("id"))) is None:
        return None
    return ErrorGroup(
        id=eid,
        project_id=project_id_from(data) or project_id or "",
        error_class=text(pick(data, "error_class", "errorClass")) or "",
        message=text(data.get("message")) or "",
        context=text(data.get("context")),
        severity=word(data.get("severity")),
        status=word(data.get("status")),
        events=integer(data.get("events")),
        users=integer(data.get("users")),
        first_seen=timestamp(pick(data, "first_seen", "first_seen_unfiltered")),
        last_seen=timestamp(pick(data, "last_seen", "last_seen_unfiltered")),
        release_stages=strings(data.get("release_stages")),
        assigned_collaborator_id=ident(data.get("assigned_collaborator_id")),
        overridden_severity=word(data.get("overridden_severity")),
        linked_issues=issues,
        discarded=bool(data.get("discarded")),
        reopen_rule=reopen_rule(data.get("reopen_rules")),
        introduced_in=tuple(i for i in introduced if i),
        url=text(data.get("url")),
    )


def reopen_rule(data: Any) -> ReopenRule | None:
    if not isinstance(data, dict) or (kind := word(data.get("reopen_if"))) is None:
        return None
    return ReopenRule(
        kind=kind,
        seconds=integer(data.get("seconds")),
        occurrences=integer(data.get("occurrences")),
        hours=integer(data.get("hours")),
        additional_occurrences=integer(data.get("additional_occurrences")),
        additional_users=integer(data.get("additional_users")),
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
        error_class=text(pick(data, "error_class", "errorClass")) or "",
        message=text(data.get("message")) or "",
        frames=tuple(frame(f) for f in objs(data.get("stacktrace"))),
        type=text(data.get("type")),
    )


def app_info(data: dict[str, Any]) -> AppInfo:
    return AppInfo(
        release_stage=text(pick(data, "releaseStage", "release_stage")),
        version=text(data.get("version")),
        type=text(data.get("type")),
        in_foreground=boolean(pick(data, "inForeground", "in_foreground")),
    )


def device_info(data: dict[str, Any]) -> DeviceInfo:
    return DeviceInfo(
        os_name=text(pick(data, "osName", "os_name")),
        os_version=text(pick(data, "osVersion", "os_version")),
        browser_name=text(pick(data, "browserName", "browser_name")),
        browser_version=text(pick(data, "browserVersion", "browser_version")),
        model=text(data.get("model")),
        hostname=text(data.get("hostname")),
        locale=text(data.get("locale")),
    )


def request_info(data: dict[str, Any]) -> RequestInfo:
    headers = obj(data.get("headers"))
    return RequestInfo(
        method=text(pick(data, "httpMethod", "http_method", "method")),
        url=text(data.get("url")),
        header_names=tuple(str(h) for h in list(headers)[:50]),
    )


def event(data: dict[str, Any], project_id: str | None = None) -> Event | None:
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
    if (event_id := ident(data.get("id"))) is None:
        return None
    return Event(
        id=event_id,
        error_id=ident(data.get("error_id")),
        project_id=project_id_from(data) or project_id,
        received_at=timestamp(pick(data, "received_at", "receivedAt")),
        exceptions=tuple(exception(e) for e in objs(data.get("exceptions"))),
        severity=word(data.get("severity")),
        unhandled=boolean(data.get("unhandled")),
        context=text(data.get("context")),
        breadcrumbs=crumbs,
        request=request_info(obj(data.get("request"))),
        app=app_info(obj(data.get("app"))),
        device=device_info(obj(data.get("device"))),
        user_id=text(obj(data.get("user")).get("id")),
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
        field=ident(data.get("event_field_display_id")) or "",
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


def release(data: dict[str, Any]) -> Release | None:
    if (rid := ident(data.get("id"))) is None:
        return None
    return Release(
        id=rid,
        app_version=text(data.get("app_version")) or None,
        release_stage=text(obj(data.get("release_stage")).get("name")) or text(data.get("release_stage_name")),
        release_time=timestamp(data.get("release_time")),
        build_label=text(data.get("build_label")) or None,
        errors_introduced=integer(data.get("errors_introduced_count")),
        errors_seen=integer(data.get("errors_seen_count")),
        total_sessions=integer(data.get("total_sessions_count")),
        unhandled_sessions=integer(data.get("unhandled_sessions_count")),
        release_group_id=ident(data.get("release_group_id")),
    )


def release_group(data: dict[str, Any]) -> ReleaseGroup | None:
    if (gid := ident(data.get("id"))) is None:
        return None
    return ReleaseGroup(
        id=gid,
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


def collaborator(data: dict[str, Any]) -> Collaborator | None:
    if (cid := ident(data.get("id"))) is None:
        return None
    return Collaborator(
        id=cid,
        name=text(data.get("name")),
        email=text(data.get("email")),
        is_admin=boolean(data.get("is_admin")),
        pending_invitation=boolean(data.get("pending_invitation")),
    )


def event_field(data: dict[str, Any]) -> EventField | None:
    if (display_id := ident(data.get("display_id"))) is None:
        return None
    return EventField(
        display_id=display_id,
        name=text(obj(data.get("filter_options")).get("name")),
        custom=bool(data.get("custom")),
    )


def saved_search(data: dict[str, Any]) -> SavedSearch | None:
    if (sid := ident(data.get("id"))) is None:
        return None
    return SavedSearch(
        id=sid,
        name=text(data.get("name")) or "",
        project_id=ident(data.get("project_id")),
        filters=obj(data.get("filters")),
        sort=word(data.get("sort")),
        shared=boolean(data.get("shared")),
        project_default=boolean(data.get("project_default")),
    )


def error_body(body: Any) -> tuple[int | None, Any]:
    """`{"errors": [...], "code": N}` -> (code, the first message as sent: untrusted)."""
    if not isinstance(body, dict):
        return None, None
    errors = body.get("errors")
    first = errors[0] if isinstance(errors, list) and errors else errors
    return integer(body.get("code")), first


def comment(data: dict[str, Any]) -> Comment | None:
    """A BugSnag error comment: `{id, message, collaborator: {id, name, email}, created_at}`."""
    if (cid := ident(data.get("id"))) is None:
        return None
    person = obj(data.get("collaborator"))
    return Comment(
        id=cid,
        author=text(person.get("name")) or text(person.get("email")),
        body=text(data.get("message")) or "",
        created_at=timestamp(data.get("created_at")),
    )


def feature_flag(data: dict[str, Any]) -> FeatureFlag | None:
    if (fid := ident(data.get("id"))) is None:
        return None
    return FeatureFlag(
        id=fid,
        name=text(data.get("name")) or "",
        first_seen=timestamp(data.get("first_seen")),
        active=boolean(data.get("is_active")),
    )


def data_deletion(data: dict[str, Any]) -> DataDeletion | None:
    if (did := ident(data.get("id"))) is None:
        return None
    return DataDeletion(
        id=did,
        status=word(data.get("status")),
        total=integer(data.get("total")),
        created_at=timestamp(data.get("created_at")),
        completed_at=timestamp(data.get("completed_at")),
    )
