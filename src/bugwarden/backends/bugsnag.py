"""BugSnag Data Access API v2 adapter: all 34 endpoints, parsed into `model` objects.

Follows the API as observed (see shared/reference/bugsnag-api.md section 10): trends at
`/trend`, `error_ids[]` for bulk updates, filters as ordered `filters[f][][type|value]` pairs,
pagination by following `Link rel="next"` only.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx

from ..config import Settings
from ..model import (
    Collaborator,
    ErrorGroup,
    Event,
    EventField,
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
from . import bugsnag_parse as parse
from .base import Capabilities, ErrorChange, ErrorQuery, Filter
from .errors import InvalidArgument, MalformedResponse, NotFound
from .http import UpstreamClient
from .paths import api_path, check_id

ERROR_SORTS = ("last_seen", "first_seen", "users", "events", "unsorted")
ERROR_OPERATIONS = (
    "override_severity",
    "assign",
    "create_issue",
    "link_issue",
    "unlink_issue",
    "open",
    "snooze",
    "fix",
    "ignore",
    "delete",
    "discard",
    "undiscard",
)
MAX_PER_PAGE = 100
_DASHBOARD_ERROR = re.compile(r"^/([^/]+)/([^/]+)/errors/([^/?#]+)")


def encode_filters(filters: Sequence[Filter]) -> list[tuple[str, str]]:
    """Filters as the API wants them: ordered `filters[f][][type]`, `filters[f][][value]` pairs, never indexed."""
    pairs: list[tuple[str, str]] = []
    for field, kind, value in filters:
        if kind not in ("eq", "ne"):
            raise InvalidArgument(f"filter type {kind!r} for {field!r} must be 'eq' or 'ne'")
        pairs.append((f"filters[{field}][][type]", kind))
        pairs.append((f"filters[{field}][][value]", value))
    return pairs


def parse_dashboard_url(url: str) -> tuple[str, str, str, str | None] | None:
    """`https://app.bugsnag.com/ORG/PROJECT/errors/ID?event_id=E` -> (org slug, project slug, error id, event id)."""
    split = urlsplit(url)
    if split.scheme not in ("http", "https") or not (m := _DASHBOARD_ERROR.match(split.path)):
        return None
    event_id = dict(httpx.QueryParams(split.query)).get("event_id")
    return m.group(1), m.group(2), m.group(3), event_id


def _per_page(limit: int | None, maximum: int = MAX_PER_PAGE) -> str:
    return str(max(1, min(limit or 30, maximum)))


class BugsnagBackend:
    """The BugSnag v2 adapter. Every method raises only `BackendError` subclasses."""

    name = "bugsnag"
    capabilities = Capabilities(
        pivots=True,
        trends=True,
        releases=True,
        organizations=True,
        collaborators=True,
        saved_searches=True,
        event_fields=True,
        delete=True,
    )

    def __init__(self, settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None, **client_kw: Any):
        if not settings.bugsnag_token:
            raise ValueError("BugSnag backend needs BUGSNAG_AUTH_TOKEN")
        token = settings.bugsnag_token.reveal()
        self.http = UpstreamClient.from_settings(
            "bugsnag",
            settings.bugsnag_api_url,
            settings,
            credential=token,
            headers={"Authorization": f"token {token}", "X-Version": "2"},
            error_body=parse.error_body,
            transport=transport,
            **client_kw,
        )
        self.default_project_id = settings.bugsnag_project_id

    async def aclose(self) -> None:
        await self.http.aclose()

    # -- helpers ----------------------------------------------------------------------------------

    async def _object(
        self, path: str, params: Sequence[tuple[str, str]] = (), *, not_found: str, cache: bool = False
    ) -> dict[str, Any]:
        body, _ = await self.http.get_json(path, params, cache=cache, not_found=not_found)
        if not isinstance(body, dict):
            raise MalformedResponse(
                "BugSnag returned an unexpected body; try again", backend="bugsnag", method="GET", path=path
            )
        return body

    async def _page(
        self, path: str, params: Sequence[tuple[str, str]], cursor: str | None, parser: Any, *, not_found: str
    ) -> Page[Any]:
        page = await self.http.get_page(path, params, cursor=cursor, not_found=not_found)
        return Page(tuple(parser(item) for item in page.items if isinstance(item, dict)), page.next_cursor, page.total)

    @staticmethod
    def _nf_project(project_id: str) -> str:
        return f"project {project_id!r} not found or not visible to this token (see list_projects)"

    @staticmethod
    def _nf_error(project_id: str, error_id: str) -> str:
        return f"error {error_id!r} not found in project {project_id!r}, or not visible to this token (see list_errors)"

    # -- organizations (1-4) ----------------------------------------------------------------------

    async def list_organizations(self, *, cursor: str | None = None, limit: int = 30) -> Page[Organization]:
        return await self._page(
            "/user/organizations",
            [("per_page", _per_page(limit))],
            cursor,
            parse.organization,
            not_found="no organizations visible to this token",
        )

    async def get_organization(self, organization_id: str) -> Organization:
        path = api_path("organizations", ("organization_id", organization_id))
        return parse.organization(
            await self._object(path, cache=True, not_found=f"organization {organization_id!r} not found or not visible")
        )

    async def update_organization(self, organization_id: str, fields: dict[str, Any]) -> Organization:
        path = api_path("organizations", ("organization_id", organization_id))
        body, _ = await self.http.send(
            "PATCH",
            path,
            json_body=fields,
            not_found=f"organization {organization_id!r} not found or not visible",
            invalidate=["/user/organizations"],
        )
        return parse.organization(parse.obj(body))

    async def delete_organization(self, organization_id: str) -> None:
        path = api_path("organizations", ("organization_id", organization_id))
        await self.http.send(
            "DELETE",
            path,
            not_found=f"organization {organization_id!r} not found or not visible",
            invalidate=["/user/organizations"],
        )

    # -- projects (5-8) ---------------------------------------------------------------------------

    async def list_org_projects(
        self,
        organization_id: str,
        *,
        q: str | None = None,
        sort: str | None = None,
        direction: str | None = None,
        cursor: str | None = None,
        limit: int = 30,
    ) -> Page[Project]:
        path = api_path("organizations", ("organization_id", organization_id), "projects")
        params = [("per_page", _per_page(limit))]
        params += [(k, v) for k, v in (("q", q), ("sort", sort), ("direction", direction)) if v]
        return await self._page(
            path, params, cursor, parse.project, not_found=f"organization {organization_id!r} not found or not visible"
        )

    async def list_projects(self) -> list[Project]:
        """Every project visible to the token, across its organizations (cached)."""
        orgs_body, _ = await self.http.get_json("/user/organizations", [("per_page", "100")], cache=True)
        projects: list[Project] = []
        for org in parse.objs(orgs_body):
            org_id = check_id(str(org.get("id", "")), "organization_id")
            path = api_path("organizations", ("organization_id", org_id), "projects")
            page = await self.http.get_page(
                path, [("per_page", "100")], cache=True, not_found="organization not visible"
            )
            while True:
                projects.extend(parse.project(p) for p in parse.objs(page.items))
                if not page.next_cursor or len(projects) >= 1000:
                    break
                page = await self.http.get_page(path, cursor=page.next_cursor)
        return projects

    async def create_project(
        self, organization_id: str, name: str, type: str, ignore_old_browsers: bool | None = None
    ) -> Project:
        path = api_path("organizations", ("organization_id", organization_id), "projects")
        body_in: dict[str, Any] = {"name": name, "type": type}
        if ignore_old_browsers is not None:
            body_in["ignore_old_browsers"] = ignore_old_browsers
        body, _ = await self.http.send(
            "POST",
            path,
            json_body=body_in,
            not_found=f"organization {organization_id!r} not found or not visible",
            invalidate=["/organizations/", "/user/organizations"],
        )
        return parse.project(parse.obj(body))

    async def get_project(self, project_id: str) -> Project:
        path = api_path("projects", ("project_id", project_id))
        return parse.project(await self._object(path, cache=True, not_found=self._nf_project(project_id)))

    async def update_project(self, project_id: str, fields: dict[str, Any]) -> Project:
        path = api_path("projects", ("project_id", project_id))
        body, _ = await self.http.send(
            "PATCH", path, json_body=fields, not_found=self._nf_project(project_id), invalidate=["/organizations/"]
        )
        return parse.project(parse.obj(body))

    # -- errors (9-13) ----------------------------------------------------------------------------

    async def list_errors(self, project_id: str, query: ErrorQuery, cursor: str | None = None) -> Page[ErrorGroup]:
        path = api_path("projects", ("project_id", project_id), "errors")
        params = encode_filters(query.filters)
        if query.sort:
            params.append(("sort", query.sort))
        if query.direction:
            params.append(("direction", query.direction))
        params.append(("per_page", _per_page(query.limit)))
        return await self._page(
            path, params, cursor, lambda d: parse.error_group(d, project_id), not_found=self._nf_project(project_id)
        )

    async def get_error(self, project_id: str, error_id: str) -> ErrorGroup:
        path = api_path("projects", ("project_id", project_id), "errors", ("error_id", error_id))
        body = await self._object(path, not_found=self._nf_error(project_id, error_id))
        return parse.error_group(body, project_id)

    async def update_error(self, project_id: str, error_id: str, change: ErrorChange) -> ErrorGroup | None:
        path = api_path("projects", ("project_id", project_id), "errors", ("error_id", error_id))
        body, _ = await self.http.send(
            "PATCH",
            path,
            json_body={"operation": change.operation, **change.fields},
            not_found=self._nf_error(project_id, error_id),
        )
        return parse.error_group(body, project_id) if isinstance(body, dict) else None

    async def bulk_update_errors(
        self, project_id: str, error_ids: Sequence[str], change: ErrorChange
    ) -> dict[str, Any]:
        path = api_path("projects", ("project_id", project_id), "errors")
        params = [("error_ids[]", check_id(e, "error_id")) for e in error_ids]
        body, _ = await self.http.send(
            "PATCH",
            path,
            params,
            json_body={"operation": change.operation, **change.fields},
            not_found=self._nf_project(project_id),
        )
        return parse.obj(body)

    async def delete_error(self, project_id: str, error_id: str) -> None:
        path = api_path("projects", ("project_id", project_id), "errors", ("error_id", error_id))
        await self.http.send("DELETE", path, not_found=self._nf_error(project_id, error_id))

    # -- events (14-18) ---------------------------------------------------------------------------

    async def list_events(
        self,
        project_id: str,
        error_id: str,
        *,
        limit: int = 10,
        cursor: str | None = None,
        filters: Sequence[Filter] = (),
        full: bool = False,
    ) -> Page[Event]:
        path = api_path("projects", ("project_id", project_id), "errors", ("error_id", error_id), "events")
        params = [*encode_filters(filters), ("per_page", _per_page(limit))]
        if full:
            params.append(("full_reports", "true"))
        return await self._page(
            path, params, cursor, lambda d: parse.event(d, project_id), not_found=self._nf_error(project_id, error_id)
        )

    async def get_latest_event(self, project_id: str, error_id: str) -> Event:
        """The newest event of an error. The endpoint is not project-scoped, so the event's project is
        checked: an error from another project is reported as not found."""
        path = api_path("errors", ("error_id", error_id), "latest_event")
        body = await self._object(path, not_found=self._nf_error(project_id, error_id))
        ev = parse.event(body, None)
        if ev.project_id is not None and ev.project_id != project_id:
            raise NotFound(self._nf_error(project_id, error_id), backend="bugsnag", method="GET", path=path, status=404)
        return ev if ev.project_id else parse.event(body, project_id)

    async def list_project_events(
        self,
        project_id: str,
        *,
        limit: int = 10,
        cursor: str | None = None,
        filters: Sequence[Filter] = (),
        full: bool = False,
    ) -> Page[Event]:
        path = api_path("projects", ("project_id", project_id), "events")
        params = [*encode_filters(filters), ("per_page", _per_page(limit))]
        if full:
            params.append(("full_reports", "true"))
        return await self._page(
            path, params, cursor, lambda d: parse.event(d, project_id), not_found=self._nf_project(project_id)
        )

    async def get_event(self, project_id: str, event_id: str) -> Event:
        path = api_path("projects", ("project_id", project_id), "events", ("event_id", event_id))
        body = await self._object(
            path, not_found=f"event {event_id!r} not found in project {project_id!r}, or not visible to this token"
        )
        return parse.event(body, project_id)

    async def delete_event(self, project_id: str, event_id: str) -> None:
        path = api_path("projects", ("project_id", project_id), "events", ("event_id", event_id))
        await self.http.send("DELETE", path, not_found=f"event {event_id!r} not found in project {project_id!r}")

    # -- pivots (19-21) ---------------------------------------------------------------------------

    async def list_pivots(
        self,
        project_id: str,
        error_id: str | None = None,
        *,
        summary_size: int = 5,
        pivots: Sequence[str] = (),
        filters: Sequence[Filter] = (),
    ) -> list[Pivot]:
        parts: list[str | tuple[str, str]] = ["projects", ("project_id", project_id)]
        if error_id:
            parts += ["errors", ("error_id", error_id)]
        path = api_path(*parts, "pivots")
        params = [*encode_filters(filters), ("summary_size", str(summary_size))]
        params += [("pivots[]", check_id(p, "pivot")) for p in pivots]
        params.append(("per_page", "100"))
        nf = self._nf_error(project_id, error_id) if error_id else self._nf_project(project_id)
        body, _ = await self.http.get_json(path, params, not_found=nf)
        return [parse.pivot(p) for p in parse.objs(body)]

    async def list_pivot_values(
        self,
        project_id: str,
        event_field_display_id: str,
        error_id: str | None = None,
        *,
        sort: str | None = None,
        limit: int = 10,
        cursor: str | None = None,
        filters: Sequence[Filter] = (),
    ) -> Page[PivotValue]:
        parts: list[str | tuple[str, str]] = ["projects", ("project_id", project_id)]
        if error_id:
            parts += ["errors", ("error_id", error_id)]
        path = api_path(*parts, "pivots", ("event_field_display_id", event_field_display_id), "values")
        params = [*encode_filters(filters), ("per_page", _per_page(limit))]
        if sort:
            params.append(("sort", sort))
        nf = self._nf_error(project_id, error_id) if error_id else self._nf_project(project_id)
        return await self._page(path, params, cursor, parse.pivot_value, not_found=nf)

    # -- trends (22-23) ---------------------------------------------------------------------------

    async def get_trend(
        self,
        project_id: str,
        error_id: str | None = None,
        *,
        buckets_count: int | None = None,
        resolution: str | None = None,
        filters: Sequence[Filter] = (),
    ) -> list[TrendBucket]:
        parts: list[str | tuple[str, str]] = ["projects", ("project_id", project_id)]
        if error_id:
            parts += ["errors", ("error_id", error_id)]
        path = api_path(*parts, "trend")
        params = encode_filters(filters)
        if resolution:
            params.append(("resolution", resolution))
        else:
            params.append(("buckets_count", str(buckets_count or 14)))
        nf = self._nf_error(project_id, error_id) if error_id else self._nf_project(project_id)
        body, _ = await self.http.get_json(path, params, not_found=nf)
        return [parse.trend_bucket(b) for b in parse.objs(body)]

    # -- releases and stability (24-28) -----------------------------------------------------------

    async def list_releases(
        self,
        project_id: str,
        *,
        release_stage: str | None = None,
        sort: str | None = None,
        limit: int = 5,
        cursor: str | None = None,
    ) -> Page[Release]:
        path = api_path("projects", ("project_id", project_id), "releases")
        params = [("per_page", _per_page(limit, 10))]
        params += [(k, v) for k, v in (("release_stage", release_stage), ("sort", sort)) if v]
        return await self._page(path, params, cursor, parse.release, not_found=self._nf_project(project_id))

    async def get_release(self, project_id: str, release_id: str) -> Release:
        path = api_path("projects", ("project_id", project_id), "releases", ("release_id", release_id))
        return parse.release(
            await self._object(path, not_found=f"release {release_id!r} not found in project {project_id!r}")
        )

    async def list_release_groups(
        self,
        project_id: str,
        release_stage_name: str,
        *,
        top_only: bool = False,
        visible_only: bool = False,
        limit: int = 10,
        cursor: str | None = None,
    ) -> Page[ReleaseGroup]:
        path = api_path("projects", ("project_id", project_id), "release_groups")
        params = [("release_stage_name", release_stage_name), ("per_page", _per_page(limit))]
        if top_only:
            params.append(("top_only", "true"))
        if visible_only:
            params.append(("visible_only", "true"))
        return await self._page(path, params, cursor, parse.release_group, not_found=self._nf_project(project_id))

    async def update_release_group(self, release_group_id: str, visible: bool) -> ReleaseGroup:
        path = api_path("release_groups", ("release_group_id", release_group_id))
        body, _ = await self.http.send(
            "PATCH",
            path,
            json_body={"visible": visible},
            not_found=f"release group {release_group_id!r} not found or not visible",
        )
        return parse.release_group(parse.obj(body))

    async def get_stability_trend(self, project_id: str) -> tuple[str | None, tuple[StabilityPoint, ...]]:
        """(release stage, daily points); no points when the project has no sessions (204)."""
        path = api_path("projects", ("project_id", project_id), "stability_trend")
        body, _ = await self.http.get_json(path, not_found=self._nf_project(project_id))
        return parse.stability_points(parse.obj(body))

    # -- collaborators (29-31) --------------------------------------------------------------------

    async def list_org_collaborators(
        self, organization_id: str, *, q: str | None = None, limit: int = 30, cursor: str | None = None
    ) -> Page[Collaborator]:
        path = api_path("organizations", ("organization_id", organization_id), "collaborators")
        params = [("per_page", _per_page(limit))] + ([("q", q)] if q else [])
        return await self._page(
            path,
            params,
            cursor,
            parse.collaborator,
            not_found=f"organization {organization_id!r} not found or not visible",
        )

    async def get_org_collaborator(self, organization_id: str, collaborator_id: str) -> Collaborator:
        path = api_path(
            "organizations", ("organization_id", organization_id), "collaborators", ("collaborator_id", collaborator_id)
        )
        return parse.collaborator(
            await self._object(
                path, cache=True, not_found=f"collaborator {collaborator_id!r} not found in organization"
            )
        )

    async def list_project_collaborators(
        self, project_id: str, *, limit: int = 30, cursor: str | None = None
    ) -> Page[Collaborator]:
        path = api_path("projects", ("project_id", project_id), "collaborators")
        return await self._page(
            path, [("per_page", _per_page(limit))], cursor, parse.collaborator, not_found=self._nf_project(project_id)
        )

    # -- event fields and saved searches (32-34) --------------------------------------------------

    async def list_event_fields(self, project_id: str) -> list[EventField]:
        path = api_path("projects", ("project_id", project_id), "event_fields")
        body, _ = await self.http.get_json(
            path, [("per_page", "100")], cache=True, not_found=self._nf_project(project_id)
        )
        return [parse.event_field(f) for f in parse.objs(body)]

    async def list_saved_searches(self, project_id: str, *, shared: bool | None = None) -> list[SavedSearch]:
        path = api_path("projects", ("project_id", project_id), "saved_searches")
        params = [("shared", "true" if shared else "false")] if shared is not None else []
        body, _ = await self.http.get_json(path, params, not_found=self._nf_project(project_id))
        return [parse.saved_search(s) for s in parse.objs(body)]

    async def create_saved_search(
        self,
        project_id: str,
        name: str,
        filters: Sequence[Filter],
        *,
        project_default: bool = False,
        sort: str | None = None,
        shared: bool = False,
    ) -> SavedSearch:
        check_id(project_id, "project_id")
        grouped: dict[str, list[dict[str, str]]] = {}
        for field, kind, value in filters:
            grouped.setdefault(field, []).append({"type": kind, "value": value})
        body_in: dict[str, Any] = {
            "project_id": project_id,
            "name": name,
            "filters": grouped,
            "project_default": project_default,
            "shared": shared,
        }
        if sort:
            body_in["sort"] = sort
        body, _ = await self.http.send(
            "POST",
            "/saved_searches",
            json_body=body_in,
            not_found=self._nf_project(project_id),
            invalidate=[api_path("projects", ("project_id", project_id), "saved_searches")],
        )
        return parse.saved_search(parse.obj(body))

    # -- dashboard URLs ---------------------------------------------------------------------------

    async def resolve_dashboard_url(self, url: str) -> tuple[str, str, str | None]:
        """A dashboard error URL -> (project id, error id, event id or None)."""
        parsed = parse_dashboard_url(url)
        if parsed is None:
            raise InvalidArgument(
                "error_id must be an error id or a BugSnag dashboard error URL "
                "(https://app.bugsnag.com/ORG/PROJECT/errors/ID)"
            )
        org_slug, project_slug, error_id, event_id = parsed
        check_id(error_id, "error_id")
        orgs = {o.id: o.slug for o in (await self.list_organizations(limit=100)).items}
        for project in await self.list_projects():
            if project.slug == project_slug and orgs.get(project.organization_id or "") in (org_slug, None):
                return project.id, error_id, event_id
        raise NotFound(f"no visible project matches {org_slug}/{project_slug} from that URL", backend="bugsnag")
