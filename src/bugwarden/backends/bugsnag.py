"""BugSnag Data Access API v2 adapter: all 34 endpoints, parsed into `model` objects.

Follows the API as observed (see shared/reference/bugsnag-api.md section 10): trends at
`/trend`, `error_ids[]` for bulk updates, filters as ordered `filters[f][][type|value]` pairs,
pagination by following `Link rel="next"` only, 404 (never 403) for what the token cannot see.
"""

from __future__ import annotations

import base64
import copy
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit

import anyio
import httpx

from ..config import Settings
from ..model import (
    BugContext,
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
from . import bugsnag_parse as parse
from .base import ErrorChange, ErrorQuery, Filter, Location, Vocabulary
from .call_context import CallContext
from .coerce import ident, obj, objs
from .errors import (
    AccountRestricted,
    BackendError,
    Forbidden,
    InvalidArgument,
    MalformedResponse,
    NotFound,
    ResultsCapped,
    UpstreamError,
    failure_words,
)
from .http import configured_client, error_for_status, parse_retry_after
from .paths import api_path, check_id
from .quota import QuotaLedger

log = logging.getLogger("bugwarden.bugsnag")
MAX_PER_PAGE = 100
PIVOT_FIELDS = ("app.release_stage", "app.version", "os.name", "browser.name")
_DASHBOARD_ERROR = re.compile(r"^/([^/]+)/([^/]+)/errors/([^/?#]+)")
T = TypeVar("T")
RESTRICTIONS = {
    30000: "a lapsed payment",
    31000: "an expired trial or invalid subscription",
    32000: "no available seats for this user",
}


def classify(status: int, body: Any, headers: httpx.Headers, where: dict[str, Any]) -> UpstreamError:
    """BugSnag's failures: its category codes first (billing 30000-32000, role 40000, capped sorts 60000)."""
    code, message = parse.error_body(body)
    info = {**where, "status": status, "code": code}
    if code in RESTRICTIONS:
        return AccountRestricted(
            f"BugSnag API access is restricted by {RESTRICTIONS[code]}: an account owner must fix billing; "
            "retrying will not help",
            **info,
        )
    if code == 40000:
        return Forbidden(
            "the BugSnag user behind this token lacks the project role for this action (code 40000): a project "
            "owner or organization admin must do it, or grant the role",
            **info,
        )
    if code == 60000:
        return ResultsCapped(
            "BugSnag cannot return complete sorted results for this query (code 60000): retry with "
            "sort=unsorted, or add filters (for example a shorter 'since') to narrow it",
            **info,
        )
    return error_for_status(
        status,
        **where,
        code=code,
        detail=message,
        retry_after=parse_retry_after(headers.get("retry-after")),
    )


def auth_headers(settings: Settings) -> tuple[dict[str, str], str]:
    """The headers that sign requests in, and the credential that names the quota they share. A personal auth
    token (`Authorization: token …`), or on-premise a user's email and password over HTTP Basic with
    `X-Bugsnag-API: true`, as the vendor documents it."""
    if settings.bugsnag_token:
        token = settings.bugsnag_token.reveal()
        return {"Authorization": f"token {token}"}, token
    if settings.bugsnag_user_email and settings.bugsnag_password:
        pair = f"{settings.bugsnag_user_email}:{settings.bugsnag_password.reveal()}"
        basic = base64.b64encode(pair.encode()).decode()
        return {"Authorization": f"Basic {basic}", "X-Bugsnag-API": "true"}, pair
    raise ValueError("BugSnag backend needs BUGSNAG_AUTH_TOKEN, or BUGSNAG_USER_EMAIL and BUGSNAG_PASSWORD")


def encode_filters(filters: Sequence[Filter]) -> list[tuple[str, str]]:
    """Filters as the API wants them: ordered `filters[f][][type]`, `filters[f][][value]` pairs, never indexed."""
    pairs: list[tuple[str, str]] = []
    for field, kind, value in filters:
        if kind not in ("eq", "ne"):
            raise InvalidArgument(f"filter type {kind!r} for {field!r} must be 'eq' or 'ne'")
        pairs.append((f"filters[{field}][][type]", kind))
        pairs.append((f"filters[{field}][][value]", value))
    return pairs


QUERY_FIELDS = (
    ("severity", "event.severity"),
    ("release_stage", "app.release_stage"),
    ("since", "event.since"),
    ("before", "event.before"),
    ("search", "search"),
    ("assigned_to", "error.assigned_to"),
    ("introduced_in", "release.introduced_in"),
    ("app_version", "version.seen_in"),
    ("error_class", "event.class"),
    ("os", "os.name"),
)
"""ErrorQuery fields and the filter each becomes (bugsnag-api.md 5.3: `error.class` and `app.version` are silently
ignored by the real API, so the class and version filters use `event.class` and `version.seen_in`)."""


def filters_object(filters: Sequence[Filter]) -> dict[str, list[dict[str, str]]]:
    """Conditions in the JSON form saved searches and data requests take: `{field: [{type, value}, ...]}`."""
    grouped: dict[str, list[dict[str, str]]] = {}
    for field, kind, value in filters:
        grouped.setdefault(field, []).append({"type": kind, "value": value})
    return grouped


def query_filters(query: ErrorQuery) -> list[Filter]:
    """An error query in BugSnag's filter vocabulary."""
    found: list[Filter] = [("error.status", "eq", s) for s in query.status]
    for name, field in QUERY_FIELDS:
        value = getattr(query, name)
        if value is not None:
            found.append((field, "eq", value))
    if query.user is not None:
        found.append(("user.email" if "@" in query.user else "user.id", "eq", query.user))
    return found + list(query.extra)


def parse_dashboard_url(url: str) -> tuple[str, str, str, str | None] | None:
    """`https://app.bugsnag.com/ORG/PROJECT/errors/ID?event_id=E` -> (org slug, project slug, error id, event id)."""
    try:
        split = urlsplit(url)
    except ValueError:
        raise InvalidArgument(
            "error_id looks like a URL but cannot be read as one: pass the error's id, or its dashboard URL "
            "exactly as the browser shows it"
        ) from None
    if split.scheme not in ("http", "https") or not (m := _DASHBOARD_ERROR.match(split.path)):
        return None
    event_id = dict(httpx.QueryParams(split.query)).get("event_id")
    return m.group(1), m.group(2), m.group(3), event_id


def _per_page(limit: int | None, maximum: int = MAX_PER_PAGE) -> str:
    return str(max(1, min(limit or 30, maximum)))


def _one(value: T | None, path: str) -> T:
    if value is None:
        raise MalformedResponse(
            "BugSnag returned an object without a usable id; try again", backend="BugSnag", method="GET", path=path
        )
    return value


class BugsnagBackend:
    """The BugSnag v2 adapter. Every method raises only `BackendError` subclasses."""

    name = "bugsnag"
    label = "BugSnag"
    vocabulary = Vocabulary(
        statuses=("open", "in progress", "for_review", "fixed", "snoozed", "ignored"),
        severities=("info", "warning", "error"),
        operations=(
            "open",
            "ignore",
            "snooze",
            "override_severity",
            "assign",
            "create_issue",
            "link_issue",
            "unlink_issue",
            "discard",
            "undiscard",
        ),
        sorts=("last_seen", "first_seen", "users", "events", "unsorted"),
        filters=ErrorQuery.NAMES,
        several_statuses=True,
    )

    def __init__(
        self,
        settings: Settings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        quota: QuotaLedger | None = None,
        **client_kw: Any,
    ):
        headers, credential = auth_headers(settings)
        self.auth = settings.bugsnag_auth
        self.http = configured_client(
            self.name,
            self.label,
            settings,
            settings.bugsnag_api_url,
            credential,
            {**headers, "X-Version": "2"},
            classify=classify,
            quota=quota,
            transport=transport,
            **client_kw,
        )
        self._pages: dict[str, str] = {}
        """Project id -> its dashboard page (https only), from project listings."""

    def permits(self, capability: type[Any]) -> bool:
        """The BugSnag token's role is learnt from each answer (a 403 says what it may not do): nothing withheld."""
        return True

    def bound(self, context: CallContext) -> BugsnagBackend:
        """This backend, making its requests for one call (see `UpstreamClient.bound`); its caches are shared."""
        view = copy.copy(self)
        view.http = self.http.bound(context)
        return view

    async def aclose(self) -> None:
        await self.http.aclose()

    # -- helpers ----------------------------------------------------------------------------------

    async def _object(
        self, path: str, params: Sequence[tuple[str, str]] = (), *, not_found: str, cache: bool = False
    ) -> dict[str, Any]:
        body, _ = await self.http.get_json(path, params, cache=cache, not_found=not_found)
        if not isinstance(body, dict):
            raise MalformedResponse(
                "BugSnag returned an unexpected body; try again", backend=self.label, method="GET", path=path
            )
        return body

    async def _page(
        self,
        path: str,
        params: Sequence[tuple[str, str]],
        page: str | None,
        parser: Callable[[dict[str, Any]], T | None],
        *,
        not_found: str,
    ) -> Page[T]:
        found = await self.http.get_page(path, params, paging=self.http.link_paging, page=page, not_found=not_found)
        items = tuple(x for x in (parser(i) for i in objs(found.items)) if x is not None)
        return Page(items, found.next, found.total)

    @staticmethod
    def _nf_project(project_id: str) -> str:
        return f"project {project_id!r} not found or not visible to this token (see list_projects)"

    @staticmethod
    def _nf_error(project_id: str, error_id: str) -> str:
        return f"error {error_id!r} not found in project {project_id!r}, or not visible to this token (see list_errors)"

    @staticmethod
    def _nf_org(organization_id: str) -> str:
        return f"organization {organization_id!r} not found or not visible to this token (see list_organizations)"

    # -- routing ----------------------------------------------------------------------------------

    def owns_project(self, project_id: str) -> bool:
        return ":" not in project_id

    async def discover(self) -> None:
        return None

    async def locate(self, reference: str) -> Location | None:
        """A dashboard error URL -> its project, error and event (None for anything else)."""
        if not reference.startswith(("http://", "https://")):
            return None
        parsed = parse_dashboard_url(reference)
        if parsed is None:
            raise InvalidArgument(
                "error_id must be an error id or a BugSnag dashboard error URL "
                "(https://app.bugsnag.com/ORG/PROJECT/errors/ID)"
            )
        org_slug, project_slug, error_id, event_id = parsed
        check_id(error_id, "error_id")
        if event_id is not None:
            check_id(event_id, "event_id")
        orgs = {o.id: o.slug for o in (await self.list_organizations(limit=100)).items}
        for project in await self.list_projects():
            if project.slug == project_slug and orgs.get(project.organization_id or "") in (org_slug, None):
                return Location(project.id, error_id, event_id)
        raise NotFound("no project visible to this token matches that dashboard URL", backend=self.label)

    async def dashboard_url(self, project_id: str, error_id: str) -> str | None:
        """The dashboard page of an error. Project pages do not move, so they are remembered from any project
        listing (an error write drops the cached listing for its counts, not these)."""
        if project_id not in self._pages:
            await self.list_projects()
        page = self._pages.get(project_id)
        return f"{page}/errors/{error_id}" if page else None

    def _counts_changed(self, project_id: str) -> list[str]:
        """What an error write makes stale: project listings and the project (their open-error counts)."""
        project = api_path("projects", ("project_id", project_id))
        return ["/organizations/", project + "?", project + "/errors?", project + "/events?"]

    # -- organizations (1-4) ----------------------------------------------------------------------

    async def list_organizations(self, *, page: str | None = None, limit: int = 30) -> Page[Organization]:
        return await self._page(
            "/user/organizations",
            [("per_page", _per_page(limit))],
            page,
            parse.organization,
            not_found="no organizations visible to this token",
        )

    async def get_organization(self, organization_id: str) -> Organization:
        path = api_path("organizations", ("organization_id", organization_id))
        body = await self._object(path, cache=True, not_found=self._nf_org(organization_id))
        return _one(parse.organization(body), path)

    async def update_organization(self, organization_id: str, fields: dict[str, Any]) -> Organization:
        """Change an organization's settings. BugSnag requires `name` and `auto_upgrade` in every update, so the
        ones not being changed are sent as they are now (read from the organization, verbatim)."""
        path = api_path("organizations", ("organization_id", organization_id))
        body_in = dict(fields)
        if missing := [k for k in ("name", "auto_upgrade") if k not in body_in]:
            current = await self._object(path, not_found=self._nf_org(organization_id))
            for key in missing:
                value = current.get(key)
                if not isinstance(value, str if key == "name" else bool):
                    raise MalformedResponse(
                        f"BugSnag did not say the organization's current {key.replace('_', ' ')}, which every update "
                        "must repeat; pass it explicitly",
                        backend=self.label,
                        method="GET",
                        path=path,
                    )
                body_in[key] = value
        body, _ = await self.http.send(
            "PATCH",
            path,
            json_body=body_in,
            not_found=self._nf_org(organization_id),
            invalidate=["/user/organizations"],
        )
        return _one(parse.organization(obj(body)), path)

    async def delete_organization(self, organization_id: str) -> None:
        path = api_path("organizations", ("organization_id", organization_id))
        await self.http.send(
            "DELETE", path, not_found=self._nf_org(organization_id), invalidate=["/user/organizations"]
        )

    # -- projects (5-8) ---------------------------------------------------------------------------

    async def list_org_projects(
        self, organization_id: str, *, q: str | None = None, page: str | None = None, limit: int = 30
    ) -> Page[Project]:
        path = api_path("organizations", ("organization_id", organization_id), "projects")
        params = [("per_page", _per_page(limit))] + ([("q", q)] if q else [])
        return await self._page(path, params, page, parse.project, not_found=self._nf_org(organization_id))

    async def list_projects(self) -> list[Project]:
        """Every project visible to the token, across its organizations (cached)."""
        orgs_body, _ = await self.http.get_json("/user/organizations", [("per_page", "100")], cache=True)
        projects: list[Project] = []
        for org in objs(orgs_body):
            if (org_id := parse.organization(org)) is None:
                continue
            path = api_path("organizations", ("organization_id", org_id.id), "projects")
            found = await self.http.follow(
                path,
                [("per_page", "100")],
                paging=self.http.link_paging,
                what="the project listing of one organization",
                cache=True,
                not_found="organization",
            )
            projects.extend(p for p in (parse.project(i) for i in objs(found.items)) if p is not None)
        self._pages.update({p.id: p.html_url for p in projects if p.html_url})
        return projects

    async def create_project(self, organization_id: str, name: str, type: str) -> Project:
        path = api_path("organizations", ("organization_id", organization_id), "projects")
        body, _ = await self.http.send(
            "POST",
            path,
            json_body={"name": name, "type": type},
            not_found=self._nf_org(organization_id),
            invalidate=["/organizations/", "/user/organizations"],
        )
        return _one(parse.project(obj(body)), path)

    async def get_project(self, project_id: str) -> Project:
        path = api_path("projects", ("project_id", project_id))
        return _one(parse.project(await self._object(path, cache=True, not_found=self._nf_project(project_id))), path)

    async def update_project(self, project_id: str, fields: dict[str, Any]) -> Project:
        path = api_path("projects", ("project_id", project_id))
        body, _ = await self.http.send(
            "PATCH", path, json_body=fields, not_found=self._nf_project(project_id), invalidate=["/organizations/"]
        )
        return _one(parse.project(obj(body)), path)

    # -- errors (9-13) ----------------------------------------------------------------------------

    async def list_errors(self, project_id: str, query: ErrorQuery, page: str | None = None) -> Page[ErrorGroup]:
        path = api_path("projects", ("project_id", project_id), "errors")
        params = encode_filters(query_filters(query))
        params += [("sort", query.sort)] + ([("direction", query.direction)] if query.direction else [])
        params.append(("per_page", _per_page(query.limit)))
        return await self._page(
            path, params, page, lambda d: parse.error_group(d, project_id), not_found=self._nf_project(project_id)
        )

    async def get_error(self, project_id: str, error_id: str) -> ErrorGroup:
        path = api_path("projects", ("project_id", project_id), "errors", ("error_id", error_id))
        body = await self._object(path, not_found=self._nf_error(project_id, error_id))
        return _one(parse.error_group(body, project_id), path)

    async def _with_assignee_id(self, project_id: str, change: ErrorChange) -> ErrorChange:
        """An assignment to a collaborator named by email, turned into the id BugSnag takes (one request: the
        project's collaborators, which any member may read)."""
        who = change.fields.get("assigned_collaborator_id")
        if change.operation != "assign" or not isinstance(who, str) or "@" not in who:
            return change
        people = await self.list_project_collaborators(project_id, limit=100)
        found = [p.id for p in people.items if (p.email or "").lower() == who.strip().lower()]
        if not found:
            raise NotFound(
                f"no collaborator of project {project_id!r} has that email (see list_collaborators); nothing was "
                "changed",
                backend=self.label,
                method="GET",
                path=api_path("projects", ("project_id", project_id), "collaborators"),
                status=404,
            )
        return ErrorChange(change.operation, {**change.fields, "assigned_collaborator_id": found[0]})

    async def update_error(self, project_id: str, error_id: str, change: ErrorChange) -> ErrorGroup | None:
        path = api_path("projects", ("project_id", project_id), "errors", ("error_id", error_id))
        change = await self._with_assignee_id(project_id, change)
        body, _ = await self.http.send(
            "PATCH",
            path,
            json_body={"operation": change.operation, **change.fields},
            not_found=self._nf_error(project_id, error_id),
            invalidate=self._counts_changed(project_id),
            expect=(200, 204),
        )
        return parse.error_group(body, project_id) if isinstance(body, dict) else None

    async def bulk_update_errors(
        self, project_id: str, error_ids: Sequence[str], change: ErrorChange
    ) -> dict[str, str | None]:
        """One change to many errors; returns each error id's new status (None where BugSnag did not say)."""
        path = api_path("projects", ("project_id", project_id), "errors")
        params = [("error_ids[]", check_id(e, "error_id")) for e in error_ids]
        change = await self._with_assignee_id(project_id, change)
        try:
            body, _ = await self.http.send(
                "PATCH",
                path,
                params,
                json_body={"operation": change.operation, **change.fields},
                not_found=f"one or more of those error ids are not errors of project {project_id!r} (see "
                "list_errors); nothing was changed",
                invalidate=self._counts_changed(project_id),
            )
        except NotFound as exc:
            raise await self._which_unknown(project_id, error_ids, exc) from None
        if change.operation in ("delete", "discard", "undiscard"):  # no status changes: each was done, or none
            return dict.fromkeys(dict.fromkeys(error_ids))
        results: dict[str, str | None] = {}
        for key, value in obj(body).items():
            if isinstance(value, dict) and (eid := ident(key)) is not None:
                group = parse.error_group({"id": eid, **obj(value)}, project_id)
                results[eid] = group.status if group else None
        return results

    async def _which_unknown(self, project_id: str, error_ids: Sequence[str], refusal: NotFound) -> NotFound:
        """The refusal of a bulk change, naming the ids that are not this project's errors (one listing request,
        filtered by those ids); the original refusal if that cannot be told."""
        wanted = list(dict.fromkeys(error_ids))
        path = api_path("projects", ("project_id", project_id), "errors")
        try:
            found = await self.http.get_page(
                path,
                [*encode_filters([("error.id", "eq", e) for e in wanted]), ("sort", "unsorted"), ("per_page", "100")],
                paging=self.http.link_paging,
                not_found=self._nf_project(project_id),
            )
        except BackendError:
            return refusal
        known = {i for i in (ident(item.get("id")) for item in objs(found.items)) if i}
        unknown = [e for e in wanted if e not in known]
        if not unknown or found.next:
            return refusal
        return NotFound(
            f"not errors of project {project_id!r} (see list_errors): {', '.join(unknown)}; nothing was changed",
            backend=self.label,
            method="PATCH",
            path=path,
            status=404,
        )

    async def delete_error(self, project_id: str, error_id: str) -> None:
        path = api_path("projects", ("project_id", project_id), "errors", ("error_id", error_id))
        await self.http.send(
            "DELETE",
            path,
            not_found=self._nf_error(project_id, error_id),
            invalidate=self._counts_changed(project_id),
            expect=(204,),
        )

    # -- comments -----------------------------------------------------------------------------------

    def _comments_path(self, project_id: str, error_id: str) -> str:
        return api_path("projects", ("project_id", project_id), "errors", ("error_id", error_id), "comments")

    async def add_comment(self, project_id: str, error_id: str, body: str) -> Comment:
        path = self._comments_path(project_id, error_id)
        created, _ = await self.http.send(
            "POST",
            path,
            json_body={"message": body},
            not_found=self._nf_error(project_id, error_id),
            invalidate=[path, *self._counts_changed(project_id)],
        )
        return parse.comment(obj(created)) or Comment(id="", author=None, body=body)

    async def list_comments(self, project_id: str, error_id: str, *, limit: int = 30) -> list[Comment]:
        """An error's comments, oldest first."""
        path = self._comments_path(project_id, error_id)
        page = await self._page(
            path,
            [("sort", "created_at"), ("direction", "asc"), ("per_page", _per_page(limit))],
            None,
            parse.comment,
            not_found=self._nf_error(project_id, error_id),
        )
        return list(page.items)

    async def _own_comment(self, project_id: str, error_id: str, comment_id: str) -> None:
        """Comments are addressed by id alone: make sure this one is on the error (so in the project) the caller
        named, whose project the guard has checked, before changing it."""
        if comment_id not in {c.id for c in await self.list_comments(project_id, error_id, limit=100)}:
            raise NotFound(
                f"comment {comment_id!r} is not on error {error_id!r} (see list_comments)",
                backend=self.label,
                method="GET",
                path=self._comments_path(project_id, error_id),
                status=404,
            )

    async def update_comment(self, project_id: str, error_id: str, comment_id: str, body: str) -> Comment:
        await self._own_comment(project_id, error_id, comment_id)
        path = api_path("comments", ("comment_id", comment_id))
        changed, _ = await self.http.send(
            "PATCH",
            path,
            json_body={"message": body},
            not_found=f"comment {comment_id!r} not found, or not one this token may edit (see list_comments)",
            invalidate=["/projects/"],
        )
        return _one(parse.comment(obj(changed)), path)

    async def delete_comment(self, project_id: str, error_id: str, comment_id: str) -> None:
        await self._own_comment(project_id, error_id, comment_id)
        await self.http.send(
            "DELETE",
            api_path("comments", ("comment_id", comment_id)),
            not_found=f"comment {comment_id!r} not found, or not one this token may delete (see list_comments)",
            invalidate=["/projects/"],
        )

    # -- feature flags and data deletion ----------------------------------------------------------------

    async def list_feature_flags(
        self,
        project_id: str,
        release_stage_name: str,
        *,
        q: str | None = None,
        limit: int = 30,
        page: str | None = None,
    ) -> Page[FeatureFlag]:
        path = api_path("projects", ("project_id", project_id), "feature_flags")
        params = [("release_stage_name", release_stage_name)] + ([("q", q)] if q else [])
        params.append(("per_page", _per_page(limit)))
        return await self._page(path, params, page, parse.feature_flag, not_found=self._nf_project(project_id))

    async def request_data_deletion(self, project_id: str, filters: Sequence[Filter]) -> DataDeletion:
        """Ask BugSnag to delete every event matching `filters`, already confirmed (the person was asked here)."""
        path = api_path("projects", ("project_id", project_id), "event_data_deletions")
        body, _ = await self.http.send(
            "POST",
            path,
            json_body={"filters": filters_object(filters), "skip_confirmation": True},
            not_found=self._nf_project(project_id),
            invalidate=[api_path("projects", ("project_id", project_id))],
        )
        return _one(parse.data_deletion(obj(body)), path)

    async def get_data_deletion(self, project_id: str, deletion_id: str) -> DataDeletion:
        path = api_path("projects", ("project_id", project_id), "event_data_deletions", ("deletion_id", deletion_id))
        body = await self._object(path, not_found=f"data deletion {deletion_id!r} not found in project {project_id!r}")
        return _one(parse.data_deletion(body), path)

    # -- composites -------------------------------------------------------------------------------

    async def _gather(self, calls: dict[str, Callable[[], Awaitable[Any]]]) -> tuple[dict[str, Any], list[str]]:
        """Run `calls` concurrently; the first one ('error') is required, any other that fails is named in the
        second result."""
        results: dict[str, Any] = {}
        missing: list[str] = []
        required = next(iter(calls))
        failure: list[BackendError] = []

        async def fetch(name: str, call: Callable[[], Awaitable[Any]]) -> None:
            try:
                results[name] = await call()
            except BackendError as exc:
                if name == required:
                    failure.append(exc)
                else:
                    log.info("part %s failed: %r", name, exc)
                    missing.append(name.replace("_", " "))
                    await self.http.context.notice(
                        "warning", f"answering without the {name.replace('_', ' ')}: {failure_words(exc)}"
                    )

        async with anyio.create_task_group() as tg:
            for name, call in calls.items():
                tg.start_soon(fetch, name, call)
        if failure:
            raise failure[0]
        return results, sorted(missing)

    async def error_detail(self, project_id: str, error_id: str) -> BugContext:
        found, missing = await self._gather(
            {
                "error": lambda: self.get_error(project_id, error_id),
                "latest_event": lambda: self.get_latest_event(project_id, error_id),
                "dashboard_url": lambda: self.dashboard_url(project_id, error_id),
            }
        )
        return BugContext(
            error=found["error"],
            latest=found.get("latest_event"),
            dashboard_url=found.get("dashboard_url"),
            missing=tuple(m for m in missing if m != "dashboard url"),
        )

    async def bug_context(self, project_id: str, error_id: str) -> BugContext:
        found, missing = await self._gather(
            {
                "error": lambda: self.get_error(project_id, error_id),
                "latest_event": lambda: self.get_latest_event(project_id, error_id),
                "pivots": lambda: self.list_pivots(project_id, error_id, summary_size=5, pivots=PIVOT_FIELDS),
                "trend": lambda: self.get_trend(project_id, error_id, buckets_count=14),
                "dashboard_url": lambda: self.dashboard_url(project_id, error_id),
            }
        )
        return BugContext(
            error=found["error"],
            latest=found.get("latest_event"),
            pivots=tuple(found.get("pivots", ())),
            trend=tuple(found.get("trend", ())),
            dashboard_url=found.get("dashboard_url"),
            missing=tuple(m for m in missing if m != "dashboard url"),
        )

    async def fix_brief(self, project_id: str, error_id: str) -> tuple[BugContext, str | None]:
        return await self.bug_context(project_id, error_id), None

    # -- events (14-18) ---------------------------------------------------------------------------

    async def list_events(
        self,
        project_id: str,
        error_id: str,
        *,
        limit: int = 10,
        page: str | None = None,
        filters: Sequence[Filter] = (),
        direction: str | None = None,
    ) -> Page[Event]:
        path = api_path("projects", ("project_id", project_id), "errors", ("error_id", error_id), "events")
        params = encode_filters(filters) + ([("direction", direction)] if direction else [])
        return await self._page(
            path,
            [*params, ("per_page", _per_page(limit))],
            page,
            lambda d: parse.event(d, project_id),
            not_found=self._nf_error(project_id, error_id),
        )

    async def get_latest_event(self, project_id: str, error_id: str) -> Event:
        """The newest event of an error, from the project-scoped events list (`full_reports=true`, newest first).
        BugSnag's `/errors/{id}/latest_event` is not project-scoped: using it would read another project's event
        before finding out that the error is not this project's."""
        path = api_path("projects", ("project_id", project_id), "errors", ("error_id", error_id), "events")
        found = await self.http.get_page(
            path,
            [("per_page", "1"), ("full_reports", "true")],
            paging=self.http.link_paging,
            not_found=self._nf_error(project_id, error_id),
        )
        for item in objs(found.items):
            if (event := parse.event(item, project_id)) is not None:
                return event
        raise NotFound(
            f"error {error_id!r} in project {project_id!r} has no stored events (retention may have dropped them)",
            backend=self.label,
            method="GET",
            path=path,
            status=404,
        )

    async def list_project_events(
        self, project_id: str, *, limit: int = 10, page: str | None = None, filters: Sequence[Filter] = ()
    ) -> Page[Event]:
        path = api_path("projects", ("project_id", project_id), "events")
        params = [*encode_filters(filters), ("per_page", _per_page(limit))]
        return await self._page(
            path, params, page, lambda d: parse.event(d, project_id), not_found=self._nf_project(project_id)
        )

    async def get_event(self, project_id: str, event_id: str) -> Event:
        path = api_path("projects", ("project_id", project_id), "events", ("event_id", event_id))
        body = await self._object(
            path, not_found=f"event {event_id!r} not found in project {project_id!r}, or not visible to this token"
        )
        return _one(parse.event(body, project_id), path)

    async def delete_event(self, project_id: str, event_id: str) -> None:
        path = api_path("projects", ("project_id", project_id), "events", ("event_id", event_id))
        await self.http.send(
            "DELETE", path, not_found=f"event {event_id!r} not found in project {project_id!r}", expect=(204,)
        )

    # -- pivots (19-21) ---------------------------------------------------------------------------

    @staticmethod
    def _scope(project_id: str, error_id: str | None) -> list[str | tuple[str, str]]:
        parts: list[str | tuple[str, str]] = ["projects", ("project_id", project_id)]
        return [*parts, "errors", ("error_id", error_id)] if error_id else parts

    def _nf_scope(self, project_id: str, error_id: str | None) -> str:
        return self._nf_error(project_id, error_id) if error_id else self._nf_project(project_id)

    async def list_pivots(
        self,
        project_id: str,
        error_id: str | None = None,
        *,
        summary_size: int = 5,
        pivots: Sequence[str] = (),
        filters: Sequence[Filter] = (),
    ) -> list[Pivot]:
        path = api_path(*self._scope(project_id, error_id), "pivots")
        params = [*encode_filters(filters), ("summary_size", str(summary_size))]
        params += [("pivots[]", check_id(p, "pivot")) for p in pivots]
        if error_id:  # the project-wide listing takes no per_page
            params.append(("per_page", "100"))
        body, _ = await self.http.get_json(path, params, not_found=self._nf_scope(project_id, error_id))
        return [parse.pivot(p) for p in objs(body)]

    async def list_pivot_values(
        self,
        project_id: str,
        event_field_display_id: str,
        error_id: str | None = None,
        *,
        sort: str | None = None,
        limit: int = 10,
        page: str | None = None,
    ) -> Page[PivotValue]:
        path = api_path(
            *self._scope(project_id, error_id), "pivots", ("event_field_display_id", event_field_display_id), "values"
        )
        params = [("per_page", _per_page(limit))] + ([("sort", sort)] if sort else [])
        where = f"error {error_id!r}" if error_id else f"project {project_id!r}"
        nf = (
            f"no values of that event field for {where}: the field may not exist there (see list_event_fields), "
            "or the id is wrong; the id given follows"
        )
        try:
            return await self._page(path, params, page, parse.pivot_value, not_found=nf)
        except NotFound as exc:
            raise exc.quoting(event_field_display_id, "argument") from None

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
        path = api_path(*self._scope(project_id, error_id), "trend")
        params = encode_filters(filters)
        if resolution:
            params.append(("resolution", resolution))
        else:
            params.append(("buckets_count", str(buckets_count or 14)))
        body, _ = await self.http.get_json(path, params, not_found=self._nf_scope(project_id, error_id))
        return [parse.trend_bucket(b) for b in objs(body)]

    # -- releases and stability (24-28) -----------------------------------------------------------

    async def list_releases(
        self,
        project_id: str,
        *,
        release_stage: str | None = None,
        sort: str | None = None,
        limit: int = 5,
        page: str | None = None,
    ) -> Page[Release]:
        path = api_path("projects", ("project_id", project_id), "releases")
        params = [("per_page", _per_page(limit, 10))] + ([("release_stage", release_stage)] if release_stage else [])
        params += [("sort", sort)] if sort else []
        return await self._page(path, params, page, parse.release, not_found=self._nf_project(project_id))

    async def list_release_group_releases(
        self, project_id: str, release_group_id: str, *, limit: int = 10, page: str | None = None
    ) -> Page[Release]:
        """The builds (releases) of one version (release group); the group must be this project's."""
        path = api_path("release_groups", ("release_group_id", release_group_id), "releases")
        nf = f"release group {release_group_id!r} not found in project {project_id!r} (see list_release_groups)"
        found = await self.http.get_page(
            path, [("per_page", _per_page(limit))], paging=self.http.link_paging, page=page, not_found=nf
        )
        raw = objs(found.items)
        if any(ident(r.get("project_id")) != project_id for r in raw):
            raise NotFound(nf, backend=self.label, method="GET", path=path, status=404)
        return Page(tuple(x for x in (parse.release(r) for r in raw) if x is not None), found.next, found.total)

    async def get_release(self, project_id: str, release_id: str) -> Release:
        path = api_path("projects", ("project_id", project_id), "releases", ("release_id", release_id))
        body = await self._object(path, not_found=f"release {release_id!r} not found in project {project_id!r}")
        return _one(parse.release(body), path)

    async def list_release_groups(
        self,
        project_id: str,
        release_stage_name: str,
        *,
        top_only: bool = False,
        visible_only: bool = False,
        limit: int = 10,
        page: str | None = None,
    ) -> Page[ReleaseGroup]:
        path = api_path("projects", ("project_id", project_id), "release_groups")
        params = [("release_stage_name", release_stage_name), ("per_page", _per_page(limit))]
        params += [(k, "true") for k, on in (("top_only", top_only), ("visible_only", visible_only)) if on]
        return await self._page(path, params, page, parse.release_group, not_found=self._nf_project(project_id))

    async def update_release_group(self, release_group_id: str, visible: bool) -> ReleaseGroup:
        path = api_path("release_groups", ("release_group_id", release_group_id))
        body, _ = await self.http.send(
            "PATCH",
            path,
            json_body={"visible": visible},
            not_found=f"release group {release_group_id!r} not found or not visible (see list_release_groups)",
        )
        return _one(parse.release_group(obj(body)), path)

    async def get_stability_trend(self, project_id: str) -> tuple[str | None, tuple[StabilityPoint, ...]]:
        """(release stage, daily points); no points when the project has no sessions (204)."""
        path = api_path("projects", ("project_id", project_id), "stability_trend")
        body, _ = await self.http.get_json(path, not_found=self._nf_project(project_id))
        return parse.stability_points(obj(body))

    # -- collaborators (29-31) --------------------------------------------------------------------

    async def list_org_collaborators(
        self, organization_id: str, *, q: str | None = None, limit: int = 30, page: str | None = None
    ) -> Page[Collaborator]:
        path = api_path("organizations", ("organization_id", organization_id), "collaborators")
        params = [("per_page", _per_page(limit))] + ([("q", q)] if q else [])
        return await self._page(path, params, page, parse.collaborator, not_found=self._nf_org(organization_id))

    async def get_org_collaborator(self, organization_id: str, collaborator_id: str) -> Collaborator:
        path = api_path(
            "organizations", ("organization_id", organization_id), "collaborators", ("collaborator_id", collaborator_id)
        )
        body = await self._object(
            path,
            cache=True,
            not_found=f"collaborator {collaborator_id!r} not found in organization {organization_id!r}",
        )
        return _one(parse.collaborator(body), path)

    async def list_project_collaborators(
        self, project_id: str, *, limit: int = 30, page: str | None = None
    ) -> Page[Collaborator]:
        path = api_path("projects", ("project_id", project_id), "collaborators")
        return await self._page(
            path, [("per_page", _per_page(limit))], page, parse.collaborator, not_found=self._nf_project(project_id)
        )

    # -- event fields and saved searches (32-34) --------------------------------------------------

    async def list_event_fields(self, project_id: str) -> list[EventField]:
        path = api_path("projects", ("project_id", project_id), "event_fields")
        body, _ = await self.http.get_json(path, cache=True, not_found=self._nf_project(project_id))
        return [f for f in (parse.event_field(i) for i in objs(body)) if f is not None]

    async def list_saved_searches(self, project_id: str, *, shared: bool | None = None) -> list[SavedSearch]:
        path = api_path("projects", ("project_id", project_id), "saved_searches")
        params = [("shared", "true" if shared else "false")] if shared is not None else []
        body, _ = await self.http.get_json(path, params, not_found=self._nf_project(project_id))
        return [s for s in (parse.saved_search(i) for i in objs(body)) if s is not None]

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
        body_in: dict[str, Any] = {
            "project_id": project_id,
            "name": name,
            "filters": filters_object(filters),
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
        return _one(parse.saved_search(obj(body)), "/saved_searches")

    async def get_saved_search(self, project_id: str, saved_search_id: str) -> SavedSearch:
        """One saved search of this project (one of another project is not found here)."""
        path = api_path("saved_searches", ("saved_search_id", saved_search_id))
        nf = f"saved search {saved_search_id!r} not found in project {project_id!r} (see list_saved_searches)"
        search = _one(parse.saved_search(await self._object(path, not_found=nf)), path)
        if search.project_id not in (None, project_id):
            raise NotFound(nf, backend=self.label, method="GET", path=path, status=404)
        if search.unusable:
            raise InvalidArgument(
                f"saved search {saved_search_id!r} has {search.unusable} condition(s) bugwarden cannot send as "
                "filters; pass its conditions as filters instead"
            )
        return search

    async def update_saved_search(self, project_id: str, saved_search_id: str, fields: dict[str, Any]) -> SavedSearch:
        """Change a saved search: any of name, filters (conditions), sort, shared, project_default."""
        await self.get_saved_search(project_id, saved_search_id)
        path = api_path("saved_searches", ("saved_search_id", saved_search_id))
        body_in = dict(fields)
        if "filters" in body_in:
            body_in["filters"] = filters_object(body_in["filters"])
        body, _ = await self.http.send(
            "PATCH",
            path,
            json_body=body_in,
            not_found=f"saved search {saved_search_id!r} not found",
            invalidate=[api_path("projects", ("project_id", project_id), "saved_searches")],
        )
        return _one(parse.saved_search(obj(body)), path)

    async def delete_saved_search(self, project_id: str, saved_search_id: str) -> None:
        await self.get_saved_search(project_id, saved_search_id)
        path = api_path("saved_searches", ("saved_search_id", saved_search_id))
        await self.http.send(
            "DELETE",
            path,
            not_found=f"saved search {saved_search_id!r} not found",
            invalidate=[api_path("projects", ("project_id", project_id), "saved_searches")],
        )
