"""BugPort adapter: the `/v1/mcp` bridge first, the `/v1/bugs` routes as fallback.

BugPort publishes no schemas (bugport-contract.md): everything here is tolerant of unknown fields,
missing optional fields and unknown status or severity strings. Project and bug report ids are
exposed with a `bugport:` prefix, so that every id routes itself to exactly one backend: a bug id
alone is enough to find its project.
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio
import httpx

from ..config import Settings
from ..model import (
    Activity,
    BugContext,
    BugReportDetail,
    Comment,
    ConsoleLog,
    ErrorGroup,
    NetworkRequest,
    Page,
    Project,
)
from .base import ErrorChange, ErrorQuery, Location, Vocabulary
from .call_context import CallContext
from .capabilities import Comments, ErrorChanges, Errors
from .coerce import ident, integer, number, obj, objs, text, timestamp, word
from .errors import InvalidArgument, InvalidRequest, MalformedResponse, NotFound, NotImplementedUpstream, UpstreamError
from .http import configured_client, error_for_status, parse_retry_after
from .paths import api_path, check_id
from .quota import QuotaLedger

PREFIX = "bugport:"
STATUSES = ("open", "in_progress", "resolved", "closed")
SEVERITIES = ("low", "medium", "high", "critical")
T = TypeVar("T")


def classify(status: int, body: Any, headers: httpx.Headers, where: dict[str, Any]) -> UpstreamError:
    """FastAPI bodies: `{"detail": "message"}` or `{"detail": [{"loc": [...], "msg": ...}]}` (field names kept)."""
    detail = obj(body).get("detail")
    if isinstance(detail, list):
        parts = []
        for item in objs(detail):
            loc = [str(p) for p in item.get("loc", []) if p not in ("body", "query", "path")]
            parts.append(f"{'.'.join(loc) or 'request'}: {item.get('msg', 'invalid')}")
        detail = "; ".join(parts)
    return error_for_status(
        status, **where, detail=text(detail), retry_after=parse_retry_after(headers.get("retry-after"))
    )


def bare(value: str, what: str) -> str:
    """`bugport:<id>` -> `<id>`, checked as a path-safe id."""
    return check_id(value[len(PREFIX) :] if value.startswith(PREFIX) else value, what)


def bug_group(data: dict[str, Any]) -> ErrorGroup | None:
    if (bug_id := ident(data.get("id"))) is None or (project_id := ident(data.get("project_id"))) is None:
        return None
    page = obj(data.get("page"))
    return ErrorGroup(
        id=PREFIX + bug_id,
        project_id=PREFIX + project_id,
        error_class="",
        message=text(data.get("title")) or "",
        kind="bug_report",
        source=word(data.get("source")),
        context=text(page.get("path")) or text(page.get("url")),
        severity=word(data.get("severity")),
        status=word(data.get("status")),
        first_seen=timestamp(data.get("created_at")),
        last_seen=timestamp(data.get("updated_at")),
        backend="bugport",
    )


def detail(data: dict[str, Any], bug: dict[str, Any]) -> BugReportDetail:
    logs = [
        ConsoleLog(
            level=text(log.get("level")) or "log",
            message=text(log.get("message")) or "",
            timestamp=timestamp(log.get("timestamp")),
            source=text(log.get("source")),
        )
        for log in objs(data.get("console_logs", data.get("logs")))
    ]
    network = [
        NetworkRequest(
            method=text(r.get("method")) or "",
            url=text(r.get("url")) or "",
            status=integer(r.get("status")),
            duration_ms=number(r.get("duration_ms")),
            response_body=text(r.get("response_body")),
        )
        for r in objs(data.get("network"))
    ]
    comments = [
        Comment(
            id=ident(c.get("id")) or "",
            author=text(c.get("author")),
            body=text(c.get("body")) or "",
            created_at=timestamp(c.get("created_at")),
        )
        for c in objs(data.get("comments"))
    ]
    activity = [
        Activity(
            type=text(a.get("type")) or "event",
            actor=text(a.get("actor")),
            at=timestamp(a.get("at")),
            detail=text(a.get("detail")),
        )
        for a in objs(data.get("activity"))
    ]
    return BugReportDetail(
        description=text(bug.get("description")),
        page=obj(bug.get("page")),
        console_logs=tuple(logs),
        network=tuple(network),
        comments=tuple(comments),
        activity=tuple(activity),
        source=word(bug.get("source")),
    )


@dataclass(frozen=True, slots=True)
class Bridge:
    """What `/v1/mcp/config` and `/v1/mcp/tools` said about this token."""

    workspace: str | None
    projects: tuple[Project, ...]
    scopes: frozenset[str]
    tools: frozenset[str]


class BugportBackend:
    """The BugPort adapter. `discover()` (run before the first tool call) learns what the token may do."""

    name = "bugport"
    label = "BugPort"

    def __init__(
        self,
        settings: Settings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        quota: QuotaLedger | None = None,
        **client_kw: Any,
    ):
        if not settings.bugport_token:
            raise ValueError("BugPort backend needs BUGPORT_TOKEN")
        token = settings.bugport_token.reveal()
        self.http = configured_client(
            self.name,
            self.label,
            settings,
            settings.bugport_api_url,
            token,
            {"Authorization": f"Bearer {token}"},
            classify=classify,
            quota=quota,
            transport=transport,
            **client_kw,
        )
        self._found: dict[str, Bridge] = {}
        """What discovery learnt ("bridge"): one dict shared with every view bound to a call."""
        self._discovering = anyio.Lock()

    @property
    def bridge(self) -> Bridge | None:
        """What the bridge reports for this token, once discovered."""
        return self._found.get("bridge")

    def bound(self, context: CallContext) -> BugportBackend:
        """This backend, making its requests for one call (see `UpstreamClient.bound`); discovery is shared."""
        view = copy.copy(self)
        view.http = self.http.bound(context)
        return view

    async def aclose(self) -> None:
        await self.http.aclose()

    vocabulary = Vocabulary(statuses=STATUSES, severities=SEVERITIES, filters=("status", "severity", "search"))

    def permits(self, capability: type[Any]) -> bool:
        """Before discovery: reads only; after it, what the bridge reports for this token's scopes."""
        scopes = self.bridge.scopes if self.bridge else frozenset({"bugs:read"})
        if capability is Errors:
            return "bugs:read" in scopes
        if capability in (ErrorChanges, Comments):
            return "bugs:write" in scopes
        return True

    # -- routing ----------------------------------------------------------------------------------

    def owns_project(self, project_id: str) -> bool:
        return project_id.startswith(PREFIX)

    async def locate(self, reference: str) -> Location | None:
        """`bugport:<bug id>` -> the bug's project (one request; the bug must exist and be visible)."""
        if not reference.startswith(PREFIX):
            return None
        bug = await self._bug(None, reference)
        group = bug_group(bug)
        if group is None:
            raise MalformedResponse("BugPort returned a bug report without ids; try again", backend=self.label)
        return Location(group.project_id, group.id)

    async def discover(self) -> None:
        await self.bridge_info()

    async def bridge_info(self) -> Bridge:
        """Read the bridge's config and tool list once (cached)."""
        async with self._discovering:
            if self.bridge is None:
                config, _ = await self.http.get_json("/mcp/config", cache=True)
                tools_body, _ = await self._optional(self.http.get_json("/mcp/tools", cache=True))
                config = obj(config)
                projects = tuple(
                    Project(id=PREFIX + pid, name=text(p.get("name")) or "", backend="bugport")
                    for p in objs(config.get("projects"))
                    if (pid := ident(p.get("id"))) is not None
                )
                names = frozenset(text(t.get("name")) or "" for t in objs(obj(tools_body).get("tools")))
                self._found["bridge"] = Bridge(
                    workspace=text(obj(config.get("workspace")).get("name")),
                    projects=projects,
                    scopes=frozenset(str(s) for s in config.get("scopes") or [] if isinstance(s, str)),
                    tools=names,
                )
            assert self.bridge is not None
            return self.bridge

    @staticmethod
    async def _optional(call: Awaitable[T]) -> T | tuple[None, None]:
        """A bridge route that is missing (404) or not wired up (501) yields (None, None)."""
        try:
            return await call
        except (NotFound, NotImplementedUpstream):
            return None, None

    # -- reads ------------------------------------------------------------------------------------

    async def list_projects(self) -> list[Project]:
        return list((await self.bridge_info()).projects)

    async def dashboard_url(self, project_id: str, error_id: str) -> str | None:
        return None

    async def get_project(self, project_id: str) -> Project:
        for project in await self.list_projects():
            if project.id == PREFIX + bare(project_id, "project_id"):
                return project
        raise NotFound(f"project {project_id!r} not found or not visible to this BugPort token", backend=self.label)

    async def list_errors(self, project_id: str, query: ErrorQuery, page: str | None = None) -> Page[ErrorGroup]:
        unsupported = [n for n in query.given() if n not in self.vocabulary.filters]
        if unsupported:
            raise InvalidArgument(f"BugPort cannot filter bug reports by {', '.join(unsupported)}")
        params: list[tuple[str, str]] = [("project_id", bare(project_id, "project_id"))]
        params += [
            (k, v)
            for k, v in (
                ("status", query.status[0] if query.status else None),
                ("severity", query.severity),
                ("q", query.search),
            )
            if v
        ]
        params.append(("limit", str(max(1, min(query.limit, 100)))))
        found = await self.http.get_page(
            "/bugs",
            params,
            paging=self.http.body_paging(),
            page=page,
            not_found=f"BugPort project {project_id!r} not found",
        )
        items = tuple(g for g in (bug_group(b) for b in objs(found.items)) if g is not None)
        return Page(items, found.next, found.total)

    async def _bug(self, project_id: str | None, bug_id: str) -> dict[str, Any]:
        path = api_path("bugs", ("error_id", bare(bug_id, "error_id")))
        body, _ = await self.http.get_json(path, not_found=self._nf(project_id, bug_id))
        bug = obj(body)
        if not bug:
            raise MalformedResponse("BugPort returned an unexpected body; try again", backend=self.label, path=path)
        if project_id is not None and str(bug.get("project_id", "")) != bare(project_id, "project_id"):
            raise NotFound(self._nf(project_id, bug_id), backend=self.label, method="GET", path=path, status=404)
        return bug

    @staticmethod
    def _nf(project_id: str | None, bug_id: str) -> str:
        where = f" in project {project_id!r}" if project_id else ""
        return f"bug report {bug_id!r} not found{where}, or not visible to this token (see list_errors)"

    async def get_error(self, project_id: str, error_id: str) -> ErrorGroup:
        group = bug_group(await self._bug(project_id, error_id))
        if group is None:
            raise MalformedResponse("BugPort returned a bug report without ids; try again", backend=self.label)
        return group

    async def _context(self, project_id: str, bug_id: str) -> BugContext:
        """The bridge's context route; on 404/501, the `/v1/bugs` routes fetched concurrently."""
        path = api_path("mcp", "bugs", ("error_id", bare(bug_id, "error_id")), "context")
        body, _ = await self._optional(self.http.get_json(path, not_found=self._nf(project_id, bug_id)))
        if isinstance(body, dict) and isinstance(body.get("bug"), dict):
            bug = body["bug"]
            if str(bug.get("project_id", "")) != bare(project_id, "project_id"):
                raise NotFound(self._nf(project_id, bug_id), backend=self.label, path=path, status=404)
            parts: dict[str, Any] = body
        else:
            bug = await self._bug(project_id, bug_id)
            parts = {}

            async def sub(kind: str) -> None:
                sub_path = api_path("bugs", ("error_id", bare(bug_id, "error_id")), kind)
                items, _ = await self._optional(self.http.get_json(sub_path))
                parts["console_logs" if kind == "logs" else kind] = obj(items).get("items", [])

            async with anyio.create_task_group() as tg:
                for kind in ("logs", "network", "comments", "activity"):
                    tg.start_soon(sub, kind)
        group = bug_group(bug)
        if group is None:
            raise MalformedResponse("BugPort returned a bug report without ids; try again", backend=self.label)
        return BugContext(error=group, report=detail(parts, bug))

    async def error_detail(self, project_id: str, error_id: str) -> BugContext:
        return await self._context(project_id, error_id)

    async def bug_context(self, project_id: str, error_id: str) -> BugContext:
        return await self._context(project_id, error_id)

    async def fix_brief(self, project_id: str, error_id: str) -> tuple[BugContext, str | None]:
        context = await self._context(project_id, error_id)
        path = api_path("mcp", "bugs", ("error_id", bare(error_id, "error_id")), "prompt")
        body, _ = await self._optional(self.http.get_json(path, not_found=self._nf(project_id, error_id)))
        return context, text(obj(body).get("prompt")) if body else None

    # -- writes -----------------------------------------------------------------------------------

    @staticmethod
    def _changed(bug_id: str) -> list[str]:
        """What a write to a bug makes stale: the bug, its context and prompt, and bug lists."""
        return [api_path("bugs", ("error_id", bug_id)), api_path("mcp", "bugs", ("error_id", bug_id)), "/bugs?"]

    async def _invoke(self, tool: str, arguments: dict[str, Any], changes: list[str]) -> Any:
        """Call a bridge tool; returns its result, or raises. `None` means the bridge cannot (use REST)."""
        bridge = await self.bridge_info()
        if tool not in bridge.tools:
            return None
        body, _ = await self._optional(
            self.http.send(
                "POST", "/mcp/tools/invoke", json_body={"tool": tool, "arguments": arguments}, invalidate=changes
            )
        )
        if body is None:
            return None
        body = obj(body)
        if body.get("is_error"):
            message = text(obj(body.get("result")).get("message"))
            raise InvalidRequest(
                "the BugPort bridge refused this change" + ("; its message follows" if message else ""),
                backend=self.label,
                method="POST",
                path="/mcp/tools/invoke",
                quote=message,
            )
        return body.get("result")

    async def update_error(self, project_id: str, error_id: str, change: ErrorChange) -> ErrorGroup | None:
        """Status and/or severity (`change.fields`); `fix` resolves. Bridge first, PATCH as fallback."""
        fields = {"status": "resolved"} if change.operation == "fix" else dict(change.fields)
        if change.operation not in ("fix", "set"):
            raise InvalidArgument(f"BugPort bug reports take status and/or severity, not {change.operation!r}")
        fields = {k: v for k, v in fields.items() if k in ("status", "severity") and v is not None}
        if not fields:
            raise InvalidArgument("pass status and/or severity for a BugPort bug report")
        await self._bug(project_id, error_id)  # the project check: an id from another project is not found
        bug_id = bare(error_id, "error_id")
        result = await self._invoke("update_bug_status", {"bug_id": bug_id, **fields}, self._changed(bug_id))
        if result is None:
            body, _ = await self.http.send(
                "PATCH",
                api_path("bugs", ("error_id", bug_id)),
                json_body=fields,
                not_found=self._nf(project_id, error_id),
                invalidate=self._changed(bug_id),
            )
            result = body
        return bug_group(obj(result)) or await self.get_error(project_id, error_id)

    async def add_comment(self, project_id: str, error_id: str, body: str) -> Comment:
        await self._bug(project_id, error_id)
        bug_id = bare(error_id, "error_id")
        result = await self._invoke("add_comment", {"bug_id": bug_id, "body": body}, self._changed(bug_id))
        if result is None:
            result, _ = await self.http.send(
                "POST",
                api_path("bugs", ("error_id", bug_id), "comments"),
                json_body={"body": body},
                not_found=self._nf(project_id, error_id),
                invalidate=self._changed(bug_id),
            )
        c = obj(result)
        return Comment(
            id=ident(c.get("id")) or "",
            author=text(c.get("author")),
            body=text(c.get("body")) or body,
            created_at=timestamp(c.get("created_at")),
        )

    async def list_comments(self, project_id: str, error_id: str, *, limit: int = 30) -> list[Comment]:
        """A bug report's discussion, oldest first."""
        await self._bug(project_id, error_id)
        bug_id = bare(error_id, "error_id")
        body, _ = await self.http.get_json(
            api_path("bugs", ("error_id", bug_id), "comments"), not_found=self._nf(project_id, error_id)
        )
        return [
            Comment(
                id=ident(c.get("id")) or "",
                author=text(c.get("author")),
                body=text(c.get("body")) or "",
                created_at=timestamp(c.get("created_at")),
            )
            for c in objs(obj(body).get("items"))
        ][:limit]

    async def health(self) -> tuple[str, str | None]:
        """(health status, API version) from `/v1/health` and `/v1/version`."""
        health, _ = await self.http.get_json("/health")
        version, _ = await self._optional(self.http.get_json("/version"))
        return word(obj(health).get("status")) or "unknown", text(obj(version).get("version"))
