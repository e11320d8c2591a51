"""What every backend offers the tools: one Protocol plus capability flags.

Tools call these methods and never build URLs. A backend that cannot serve something says so in
its `capabilities`, and the tools it would need are not offered for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ..model import ErrorGroup, Event, Page, Project

Filter = tuple[str, str, str]
"""One filter condition: (field display id, "eq" | "ne", value)."""


@dataclass(frozen=True, slots=True)
class ErrorQuery:
    """Backend-neutral error list query."""

    filters: tuple[Filter, ...] = ()
    sort: str | None = None
    direction: str | None = None
    limit: int = 20


@dataclass(frozen=True, slots=True)
class ErrorChange:
    """One change to an error: `operation` plus its companions (BugSnag's update body, or BugPort status/severity)."""

    operation: str
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a backend can serve. Tools declare which flags they need."""

    errors: bool = True
    events: bool = True
    update_error: bool = True
    pivots: bool = False
    trends: bool = False
    releases: bool = False
    organizations: bool = False
    collaborators: bool = False
    saved_searches: bool = False
    event_fields: bool = False
    comments: bool = False
    delete: bool = False

    def has(self, name: str) -> bool:
        return bool(getattr(self, name, False))


@runtime_checkable
class Backend(Protocol):
    """The methods the core tools need. Each raises `backends.errors.BackendError` subclasses only."""

    name: str
    capabilities: Capabilities

    async def list_projects(self) -> list[Project]: ...

    async def get_project(self, project_id: str) -> Project: ...

    async def list_errors(self, project_id: str, query: ErrorQuery, cursor: str | None) -> Page[ErrorGroup]: ...

    async def get_error(self, project_id: str, error_id: str) -> ErrorGroup: ...

    async def list_events(self, project_id: str, error_id: str, *, limit: int, cursor: str | None) -> Page[Event]: ...

    async def get_event(self, project_id: str, event_id: str) -> Event: ...

    async def get_latest_event(self, project_id: str, error_id: str) -> Event: ...

    async def update_error(self, project_id: str, error_id: str, change: ErrorChange) -> ErrorGroup | None: ...

    async def aclose(self) -> None: ...
