"""What one call acts on: resolved once by the checkpoint from validated arguments, typed, and carrying its backend
(bound to the call: its requests draw on the call's budget and deadline).

A tool reads its target from the `Call` it receives (`call.target`); its registration's `reach` says which kind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from ..backends.errors import BackendError
from ..model import Page, Project, Signal, SignalQuery
from .principal import Principal

if TYPE_CHECKING:
    from ..backends.base import Backend


@dataclass(frozen=True, slots=True, kw_only=True)
class Target:
    """Common to every target: the decoded cursor of this call, and how to mint the next one."""

    page: str | None = None
    """Where the caller's `cursor` points (decoded and verified), or None for the first page."""
    encode_cursor: Callable[[str], str] = field(default=lambda position: position, repr=False)

    def cursor(self, position: str | None) -> str | None:
        """The opaque cursor an agent passes back for `position` (bound to this principal, tool and target)."""
        return self.encode_cursor(position) if position is not None else None

    def ids(self) -> dict[str, str]:
        return {}


@dataclass(frozen=True, slots=True, kw_only=True)
class ProjectTarget(Target):
    """One project on one backend."""

    backend: Backend
    project_id: str
    error_id: str | None = None
    event_id: str | None = None

    def ids(self) -> dict[str, str]:
        found = {"project_id": self.project_id, "error_id": self.error_id, "event_id": self.event_id}
        return {k: v for k, v in found.items() if v is not None}


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountTarget(Target):
    """The whole upstream account (organizations, and what is not inside one project)."""

    backend: Backend
    organization_id: str | None = None

    def ids(self) -> dict[str, str]:
        return {"organization_id": self.organization_id} if self.organization_id else {}


@dataclass(frozen=True, slots=True, kw_only=True)
class Listing(Target):
    """Every configured backend, for tools that list across them (and show only what the principal may see)."""

    backends: tuple[Backend, ...]
    principal: Principal
    default_project_id: str | None = None
    """The configured default project, when the principal may see it."""


async def projects_of(
    backends: tuple[Backend, ...] | list[Backend],
) -> tuple[list[Project], list[tuple[Backend, BackendError]]]:
    """Every project the backends list, and the backends that could not list theirs (with the error). With one
    backend, its failure is the answer and is raised."""

    projects: list[Project] = []
    failed: list[tuple[Backend, BackendError]] = []
    for backend in backends:
        try:
            projects += await backend.list_projects()
        except BackendError as exc:
            if len(backends) == 1:
                raise
            failed.append((backend, exc))
    return projects, failed


class SignalReader(Protocol):
    """Where signals (webhook deliveries) are read from: the store, never an upstream."""

    def signals(self, query: SignalQuery, before: int | None) -> Page[Signal]:
        """Newest first; `Page.next` is the position of the next page (pass it back as `before`)."""
        ...

    def configured(self) -> bool:
        """Whether any webhook feeds this store (so that an empty answer can say why)."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Feed(Target):
    """The signals this principal may read: of one project (`project_id`), or of every project it may see."""

    principal: Principal
    reader: SignalReader | None
    """None when this server keeps no signals."""
    project_id: str | None = None

    def ids(self) -> dict[str, str]:
        return {"project_id": self.project_id} if self.project_id else {}

    def query(self, **filters: Any) -> SignalQuery:
        """The query for this principal: one project, or the projects its grant is limited to (if any)."""
        return SignalQuery(projects=self.principal.projects, project_id=self.project_id, **filters)
