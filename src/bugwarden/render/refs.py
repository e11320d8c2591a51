"""Domain objects as the small typed records of structured content (see `outputs`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..model import ErrorGroup, Event, Project
from . import vocab
from .outputs import ErrorRef, EventRef, ProjectRef, Untrusted
from .text import code_line, inline

UNTRUSTED_LIMIT = 500


def untrusted(**fields: Any) -> Untrusted:
    """Cleaned, capped upstream text under the names given; unknown (None, empty) fields left out."""
    kept: dict[str, Any] = {}
    for name, value in fields.items():
        if value is None or value == "" or value == [] or value == ():
            continue
        if isinstance(value, list | tuple):
            kept[name] = [v if isinstance(v, dict) else inline(v, UNTRUSTED_LIMIT) for v in value]
        else:
            kept[name] = inline(value, UNTRUSTED_LIMIT)
    return Untrusted(**kept)


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def project_ref(project: Project) -> ProjectRef:
    return ProjectRef(
        id=project.id,
        backend=project.backend,
        organization_id=project.organization_id,
        type=vocab.known(project.type, vocab.PROJECT_TYPES),
        open_errors=project.open_error_count,
        untrusted=untrusted(
            name=project.name,
            release_stages=list(project.release_stages),
            **vocab.stray(type=(project.type, vocab.PROJECT_TYPES)),
        ),
    )


def error_ref(error: ErrorGroup, dashboard_url: str | None = None) -> ErrorRef:
    return ErrorRef(
        id=error.id,
        project_id=error.project_id,
        kind=error.kind,
        status=vocab.known(error.status, vocab.STATUSES),
        severity=vocab.known(error.severity, vocab.SEVERITIES),
        events=error.events,
        users=error.users,
        first_seen=iso(error.first_seen),
        last_seen=iso(error.last_seen),
        dashboard_url=dashboard_url,
        untrusted=untrusted(
            error_class=error.error_class,
            message=error.message,
            context=error.context,
            release_stages=list(error.release_stages),
            **vocab.stray(status=(error.status, vocab.STATUSES), severity=(error.severity, vocab.SEVERITIES)),
        ),
    )


def event_ref(event: Event) -> EventRef:
    first = event.exceptions[0] if event.exceptions else None
    frames = first.frames if first else ()
    in_project = [f for f in frames if f.in_project]
    return EventRef(
        id=event.id,
        error_id=event.error_id,
        project_id=event.project_id,
        received_at=iso(event.received_at),
        severity=vocab.known(event.severity, vocab.SEVERITIES),
        unhandled=event.unhandled,
        frames_total=len(frames),
        in_project_frames_total=len(in_project),
        breadcrumbs_total=len(event.breadcrumbs),
        untrusted=untrusted(
            error_class=first.error_class if first else None,
            message=first.message if first else None,
            release_stage=event.app.release_stage,
            **vocab.stray(severity=(event.severity, vocab.SEVERITIES)),
            app_version=event.app.version,
            in_project_frames=[
                {
                    "file": code_line(f.file or "", 200),
                    "method": code_line(f.method or "", 120),
                    **({"line": f.line} if f.line is not None else {}),
                }
                for f in in_project[:10]
            ],
        ),
    )
