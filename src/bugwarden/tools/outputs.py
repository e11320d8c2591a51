"""Structured output models (outputSchema) for programs; the text content is for models to read."""

from __future__ import annotations

from pydantic import BaseModel


class ProjectOut(BaseModel):
    id: str
    name: str
    backend: str
    organization_id: str | None = None
    type: str | None = None
    open_errors: int | None = None


class ProjectList(BaseModel):
    projects: list[ProjectOut]
    default_project_id: str | None = None


class ErrorOut(BaseModel):
    id: str
    project_id: str
    error_class: str
    message: str
    context: str | None = None
    status: str | None = None
    severity: str | None = None
    events: int | None = None
    users: int | None = None
    first_seen: str | None = None
    last_seen: str | None = None
    release_stages: list[str] = []
    dashboard_url: str | None = None


class ErrorList(BaseModel):
    errors: list[ErrorOut]
    total: int | None = None
    next_cursor: str | None = None


class FrameOut(BaseModel):
    file: str | None = None
    method: str | None = None
    line: int | None = None
    in_project: bool | None = None


class EventOut(BaseModel):
    id: str
    error_id: str | None = None
    project_id: str | None = None
    received_at: str | None = None
    error_class: str | None = None
    message: str | None = None
    severity: str | None = None
    unhandled: bool | None = None
    release_stage: str | None = None
    app_version: str | None = None
    in_project_frames: list[FrameOut] = []
    frames_total: int = 0
    breadcrumbs_total: int = 0


class EventList(BaseModel):
    events: list[EventOut]
    total: int | None = None
    next_cursor: str | None = None


class ErrorDetail(BaseModel):
    error: ErrorOut
    latest_event: EventOut | None = None


class ErrorChangeOut(BaseModel):
    error_id: str
    project_id: str
    operation: str
    changed: dict[str, str | None]
    error: ErrorOut | None = None


class BugContextOut(BaseModel):
    error: ErrorOut
    latest_event: EventOut | None = None
    top_values: dict[str, list[str]] = {}
    trend: list[int] = []
    missing: list[str] = []


class FixPromptOut(BaseModel):
    error_id: str
    project_id: str
    prompt: str


class Items(BaseModel):
    """A page of backend records, field names as in the domain model."""

    items: list[dict[str, object]]
    total: int | None = None
    next_cursor: str | None = None


class Record(BaseModel):
    """One backend record, field names as in the domain model."""

    item: dict[str, object]
