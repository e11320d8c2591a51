"""Small helpers tools share: answering with text plus structured content, and model-to-output conversion."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel

from ..model import ErrorGroup, Event
from ..render.text import cap_output
from .outputs import ErrorOut, EventOut, FrameOut, Items, Record

OUTPUT_LIMIT = 16_000
FULL_OUTPUT_LIMIT = 60_000


def respond(text: str, data: BaseModel, *, limit: int = OUTPUT_LIMIT) -> CallToolResult:
    """A successful answer: compact text for the model, structured content for programs."""
    return CallToolResult(
        content=[TextContent(type="text", text=cap_output(text, limit))],
        structured_content=data.model_dump(mode="json"),
    )


def _iso(value: object) -> str | None:
    return value.isoformat() if value is not None else None  # type: ignore[attr-defined]


def error_out(error: ErrorGroup, dashboard_url: str | None = None) -> ErrorOut:
    return ErrorOut(
        id=error.id,
        project_id=error.project_id,
        error_class=error.error_class,
        message=error.message[:500],
        context=error.context,
        status=error.status,
        severity=error.severity,
        events=error.events,
        users=error.users,
        first_seen=_iso(error.first_seen),
        last_seen=_iso(error.last_seen),
        release_stages=list(error.release_stages),
        dashboard_url=dashboard_url,
    )


def event_out(event: Event) -> EventOut:
    first = event.exceptions[0] if event.exceptions else None
    frames = [f for f in (first.frames if first else ()) if f.in_project][:10]
    return EventOut(
        id=event.id,
        error_id=event.error_id,
        project_id=event.project_id,
        received_at=_iso(event.received_at),
        error_class=first.error_class if first else None,
        message=first.message[:500] if first else None,
        severity=event.severity,
        unhandled=event.unhandled,
        release_stage=event.app.get("releaseStage") if isinstance(event.app.get("releaseStage"), str) else None,
        app_version=str(event.app["version"]) if event.app.get("version") is not None else None,
        in_project_frames=[
            FrameOut(file=f.file, method=f.method, line=f.line, in_project=f.in_project) for f in frames
        ],
        frames_total=len(first.frames) if first else 0,
        breadcrumbs_total=len(event.breadcrumbs),
    )


def as_items(records: Iterable[Any], total: int | None = None, next_cursor: str | None = None) -> Items:
    """Domain dataclasses -> the generic structured output."""
    return Items(items=[_jsonable(dataclasses.asdict(r)) for r in records], total=total, next_cursor=next_cursor)


def as_record(record: Any) -> Record:
    return Record(item=_jsonable(dataclasses.asdict(record)))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value
