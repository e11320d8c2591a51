"""What every backend offers the tools: one Protocol for the core, its vocabulary, and typed requests.

Tools call these methods and never build URLs. What a backend can do beyond the core is one small interface per
capability (backends/capabilities.py), checked with `isinstance`; the checkpoint refuses the tools that need one a
backend lacks before any request is made.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from ..model import BugContext, ErrorGroup, Page, Project
from .call_context import CallContext

Filter = tuple[str, str, str]
"""One event filter condition: (field display id, "eq" | "ne", value)."""


@dataclass(frozen=True, slots=True)
class ErrorQuery:
    """A list of errors, in the backend-neutral vocabulary; each adapter encodes it for its API."""

    status: tuple[str, ...] = ()
    """Any of these statuses (empty: any status)."""
    severity: str | None = None
    release_stage: str | None = None
    since: str | None = None
    """'7d', '24h', '30m', or an ISO time ending in Z."""
    search: str | None = None
    sort: str = "last_seen"
    limit: int = 20
    before: str | None = None
    """Only events before this time (same forms as `since`)."""
    user: str | None = None
    """A user id, or an email (contains '@')."""
    assigned_to: str | None = None
    """'me', 'anyone', a collaborator id or email."""
    introduced_in: str | None = None
    """Errors first seen in this release (build label or app version; '*' wildcards)."""
    app_version: str | None = None
    """Errors seen in this app version ('*' wildcards)."""
    error_class: str | None = None
    os: str | None = None
    direction: str | None = None
    extra: tuple[Filter, ...] = ()
    """Further conditions in the tracker's own filter vocabulary (a saved search's, or free-form ones)."""

    NAMES: ClassVar[tuple[str, ...]] = (
        "status",
        "severity",
        "release_stage",
        "since",
        "search",
        "before",
        "user",
        "assigned_to",
        "introduced_in",
        "app_version",
        "error_class",
        "os",
        "direction",
        "extra",
    )

    def __post_init__(self) -> None:
        if isinstance(self.status, str):  # one status, as callers wrote before several were possible
            object.__setattr__(self, "status", (self.status,))

    def given(self) -> list[str]:
        """The names of the filters set (for messages and capability checks)."""
        return [n for n in self.NAMES if getattr(self, n) not in (None, ())]


@dataclass(frozen=True, slots=True)
class ErrorChange:
    """One change to an error: a BugSnag-style `operation` with its companions, or `set` with status/severity."""

    operation: str
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """The words a backend's errors use, and which `list_errors` filters and sorts it applies. What a backend can
    do beyond that is a type question (backends/capabilities.py)."""

    statuses: tuple[str, ...] = ()
    """Error statuses that exist (list filters; `update_error` status changes where `operations` is empty)."""
    severities: tuple[str, ...] = ()
    operations: tuple[str, ...] = ()
    """`update_error` operations; empty when errors change by setting status and/or severity instead."""
    filters: tuple[str, ...] = ("status", "severity", "release_stage", "since", "search")
    """Which `ErrorQuery` filters `list_errors` can apply."""
    several_statuses: bool = False
    """Whether `list_errors` can match any of several statuses at once."""
    sorts: tuple[str, ...] = ("last_seen",)


@dataclass(frozen=True, slots=True)
class Location:
    """Where an id or URL that names its own backend points: the project and error (and event) it names."""

    project_id: str
    error_id: str
    event_id: str | None = None


class Backend(Protocol):
    """The methods the core tools need. Each raises `backends.errors.BackendError` subclasses only."""

    name: str
    """Stable machine name ('bugsnag', 'bugport'): audit records and routing."""
    label: str
    """How agents and operators read it ('BugSnag', 'BugPort')."""

    @property
    def vocabulary(self) -> Vocabulary: ...

    def permits(self, capability: type[Any]) -> bool:
        """Whether the configured credential lets this backend use `capability` (one of backends/capabilities.py),
        as far as discovery learnt (BugPort's bridge grants reads and writes per token)."""
        ...

    def owns_project(self, project_id: str) -> bool:
        """Whether a project id belongs to this backend (by its shape or prefix, without a request)."""
        ...

    async def locate(self, reference: str) -> Location | None:
        """The target an error reference names by itself (a dashboard URL, a prefixed id), or None when the
        reference is not this backend's."""
        ...

    async def discover(self) -> None:
        """Learn what the configured credential may do (once); a no-op where nothing needs learning."""
        ...

    async def list_projects(self) -> list[Project]: ...

    async def dashboard_url(self, project_id: str, error_id: str) -> str | None:
        """The error's page in the tracker's dashboard, where one is known."""
        ...

    async def get_project(self, project_id: str) -> Project: ...

    async def list_errors(self, project_id: str, query: ErrorQuery, page: str | None = None) -> Page[ErrorGroup]: ...

    async def get_error(self, project_id: str, error_id: str) -> ErrorGroup: ...

    async def error_detail(self, project_id: str, error_id: str) -> BugContext:
        """The error with its latest event (or report) and dashboard link; parts other than the error that fail
        are named in `missing`."""
        ...

    async def bug_context(self, project_id: str, error_id: str) -> BugContext:
        """Everything needed to start fixing one error, fetched concurrently where the API allows."""
        ...

    async def fix_brief(self, project_id: str, error_id: str) -> tuple[BugContext, str | None]:
        """The bug context and the tracker's own fix notes, if it has any."""
        ...

    def bound(self, context: CallContext) -> Backend:
        """This backend, making its upstream requests for one call: charged to the call's budget, within its
        deadline, heard by its listener and recorded in it (the checkpoint binds the backends of every call)."""
        ...

    async def aclose(self) -> None: ...
