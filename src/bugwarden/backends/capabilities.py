"""One small interface per thing a tracker may be able to do beyond the core (`base.Backend`), checked with
`isinstance`: "this backend cannot" is a type question, never a flag and never a method that only raises.

A tool names the interfaces it needs in its registration (`needs=(Pivots,)`); the guard offers and allows it only
where a configured backend is an instance of each and `permits` it with its credential (BugPort's bridge grants
writes per token), and the tool reaches the methods through `able(target, Pivots)`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from ..model import (
    Collaborator,
    Comment,
    DataDeletion,
    ErrorGroup,
    Event,
    EventField,
    FeatureFlag,
    Organization,
    Page,
    Pivot,
    PivotValue,
    Project,
    Release,
    ReleaseGroup,
    SavedSearch,
    StabilityPoint,
    TrendBucket,
)
from .base import ErrorChange, ErrorQuery, Filter


@runtime_checkable
class Errors(Protocol):
    """Errors are read (every tracker's core, also in `Backend`; named apart so that a credential that cannot read
    them, a BugPort token without bugs:read, can withhold it: `permits`)."""

    async def list_errors(self, project_id: str, query: ErrorQuery, page: str | None = None) -> Page[ErrorGroup]: ...

    async def get_error(self, project_id: str, error_id: str) -> ErrorGroup: ...


@runtime_checkable
class Events(Protocol):
    """Each error's occurrences, one by one."""

    async def list_events(
        self,
        project_id: str,
        error_id: str,
        *,
        limit: int = 10,
        page: str | None = None,
        filters: Sequence[Filter] = (),
        direction: str | None = None,
    ) -> Page[Event]: ...

    async def get_event(self, project_id: str, event_id: str) -> Event: ...

    async def get_latest_event(self, project_id: str, error_id: str) -> Event: ...

    async def list_project_events(
        self, project_id: str, *, limit: int = 10, page: str | None = None, filters: Sequence[Filter] = ()
    ) -> Page[Event]: ...


@runtime_checkable
class ErrorChanges(Protocol):
    """Errors change (status, severity, assignment, ...)."""

    async def update_error(self, project_id: str, error_id: str, change: ErrorChange) -> ErrorGroup | None: ...


@runtime_checkable
class BulkChanges(Protocol):
    """Several errors change in one request."""

    async def bulk_update_errors(
        self, project_id: str, error_ids: Sequence[str], change: ErrorChange
    ) -> dict[str, str | None]: ...


@runtime_checkable
class Comments(Protocol):
    """Errors carry comments."""

    async def add_comment(self, project_id: str, error_id: str, body: str) -> Comment: ...

    async def list_comments(self, project_id: str, error_id: str, *, limit: int = 30) -> list[Comment]: ...


@runtime_checkable
class CommentEdits(Protocol):
    """Comments are edited and deleted by id."""

    async def update_comment(self, project_id: str, error_id: str, comment_id: str, body: str) -> Comment: ...

    async def delete_comment(self, project_id: str, error_id: str, comment_id: str) -> None: ...


@runtime_checkable
class Deletes(Protocol):
    """Errors and events are deleted."""

    async def delete_error(self, project_id: str, error_id: str) -> None: ...

    async def delete_event(self, project_id: str, event_id: str) -> None: ...


@runtime_checkable
class FeatureFlags(Protocol):
    async def list_feature_flags(
        self,
        project_id: str,
        release_stage_name: str,
        *,
        q: str | None = None,
        limit: int = 30,
        page: str | None = None,
    ) -> Page[FeatureFlag]: ...


@runtime_checkable
class DataDeletions(Protocol):
    """Events matching filters are deleted in bulk (a data-deletion request)."""

    async def request_data_deletion(self, project_id: str, filters: Sequence[Filter]) -> DataDeletion: ...

    async def get_data_deletion(self, project_id: str, deletion_id: str) -> DataDeletion: ...


@runtime_checkable
class Pivots(Protocol):
    """Breakdowns of events by a field's values."""

    async def list_pivots(
        self,
        project_id: str,
        error_id: str | None = None,
        *,
        summary_size: int = 5,
        pivots: Sequence[str] = (),
        filters: Sequence[Filter] = (),
    ) -> list[Pivot]: ...

    async def list_pivot_values(
        self,
        project_id: str,
        event_field_display_id: str,
        error_id: str | None = None,
        *,
        sort: str | None = None,
        limit: int = 10,
        page: str | None = None,
    ) -> Page[PivotValue]: ...


@runtime_checkable
class Trends(Protocol):
    async def get_trend(
        self,
        project_id: str,
        error_id: str | None = None,
        *,
        buckets_count: int | None = None,
        resolution: str | None = None,
        filters: Sequence[Filter] = (),
    ) -> list[TrendBucket]: ...


@runtime_checkable
class Releases(Protocol):
    async def list_releases(
        self,
        project_id: str,
        *,
        release_stage: str | None = None,
        sort: str | None = None,
        limit: int = 5,
        page: str | None = None,
    ) -> Page[Release]: ...

    async def list_release_group_releases(
        self, project_id: str, release_group_id: str, *, limit: int = 10, page: str | None = None
    ) -> Page[Release]: ...

    async def get_release(self, project_id: str, release_id: str) -> Release: ...

    async def list_release_groups(
        self,
        project_id: str,
        release_stage_name: str,
        *,
        top_only: bool = False,
        visible_only: bool = False,
        limit: int = 10,
        page: str | None = None,
    ) -> Page[ReleaseGroup]: ...

    async def update_release_group(self, release_group_id: str, visible: bool) -> ReleaseGroup: ...

    async def get_stability_trend(self, project_id: str) -> tuple[str | None, tuple[StabilityPoint, ...]]: ...


@runtime_checkable
class Organizations(Protocol):
    """The account's organizations, and projects managed through them."""

    async def list_organizations(self, *, page: str | None = None, limit: int = 30) -> Page[Organization]: ...

    async def get_organization(self, organization_id: str) -> Organization: ...

    async def update_organization(self, organization_id: str, fields: dict[str, Any]) -> Organization: ...

    async def delete_organization(self, organization_id: str) -> None: ...

    async def list_org_projects(
        self, organization_id: str, *, q: str | None = None, page: str | None = None, limit: int = 30
    ) -> Page[Project]: ...

    async def create_project(self, organization_id: str, name: str, type: str) -> Project: ...

    async def update_project(self, project_id: str, fields: dict[str, Any]) -> Project: ...


@runtime_checkable
class Collaborators(Protocol):
    async def list_org_collaborators(
        self, organization_id: str, *, q: str | None = None, limit: int = 30, page: str | None = None
    ) -> Page[Collaborator]: ...

    async def get_org_collaborator(self, organization_id: str, collaborator_id: str) -> Collaborator: ...

    async def list_project_collaborators(
        self, project_id: str, *, limit: int = 30, page: str | None = None
    ) -> Page[Collaborator]: ...


@runtime_checkable
class EventFields(Protocol):
    """The fields events can be filtered and pivoted by."""

    async def list_event_fields(self, project_id: str) -> list[EventField]: ...


@runtime_checkable
class SavedSearches(Protocol):
    async def list_saved_searches(self, project_id: str, *, shared: bool | None = None) -> list[SavedSearch]: ...

    async def create_saved_search(
        self,
        project_id: str,
        name: str,
        filters: Sequence[Filter],
        *,
        project_default: bool = False,
        sort: str | None = None,
        shared: bool = False,
    ) -> SavedSearch: ...

    async def get_saved_search(self, project_id: str, saved_search_id: str) -> SavedSearch: ...

    async def update_saved_search(
        self, project_id: str, saved_search_id: str, fields: dict[str, Any]
    ) -> SavedSearch: ...

    async def delete_saved_search(self, project_id: str, saved_search_id: str) -> None: ...


Capability = type[Any]
"""One of the interfaces above (a runtime-checkable Protocol)."""

SAID: dict[Capability, str] = {
    Errors: "errors",
    Events: "events (each bug report is one occurrence): use get_error or get_bug_context",
    ErrorChanges: "write access with the configured upstream token",
    Comments: "comments through their API",
    BulkChanges: "bulk changes",
    CommentEdits: "comment edits",
    Deletes: "delete",
    FeatureFlags: "feature flags",
    DataDeletions: "data deletion",
    Pivots: "pivots",
    Trends: "trends",
    Releases: "releases",
    Organizations: "organizations",
    Collaborators: "collaborators",
    EventFields: "event fields",
    SavedSearches: "saved searches",
}
"""What a backend without the capability lacks, in the words of a refusal ("... have no saved searches")."""


def has(backend: object, capability: Capability) -> bool:
    """Whether `backend` can do it (an instance of the interface) and its credential lets it (`permits`)."""
    permits = getattr(backend, "permits", None)
    return isinstance(backend, capability) and (permits is None or bool(permits(capability)))
