"""BugPort adapter: the `/v1/mcp` bridge first, the `/v1/bugs` routes as fallback.

BugPort publishes no schemas (bugport-contract.md): everything here is tolerant of unknown fields,
missing optional fields and unknown status or severity strings. Project ids are exposed with a
`bugport:` prefix so that, with BugSnag configured too, every id routes to exactly one backend.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio
import httpx

from ..config import Settings
from ..model import (
    Activity,
    BugReportDetail,
    Comment,
    ConsoleLog,
    ErrorGroup,
    NetworkRequest,
    Page,
    Project,
)
from .base import Capabilities, ErrorChange, ErrorQuery
from .bugsnag_parse import integer, number, obj, objs, text, timestamp
from .errors import InvalidArgument, InvalidRequest, MalformedResponse, NotFound, NotImplementedUpstream
from .http import UpstreamClient, safe_detail
from .paths import api_path, check_id

PREFIX = "bugport:"
KNOWN_STATUSES = ("open", "in_progress", "resolved", "closed")
KNOWN_SEVERITIES = ("low", "medium", "high", "critical")
T = TypeVar("T")


def error_body(body: Any) -> tuple[int | None, str | None]:
    """FastAPI bodies: `{"detail": "message"}` or `{"detail": [{"loc": [...], "msg": ...}]}` (field names kept)."""
    if not isinstance(body, dict):
        return None, None
    detail = body.get("detail")
    if isinstance(detail, list):
        parts = []
        for item in objs(detail):
            loc = [str(p) for p in item.get("loc", []) if p not in ("body", "query", "path")]
            parts.append(f"{'.'.join(loc) or 'request'}: {item.get('msg', 'invalid')}")
        return None, safe_detail("; ".join(parts), 240)
    return None, safe_detail(detail)


def strip(project_id: str) -> str:
    """`bugport:<id>` -> `<id>`, checked as a path-safe id."""
    raw = project_id[len(PREFIX) :] if project_id.startswith(PREFIX) else project_id
    return check_id(raw, "project_id")


def bug_group(data: dict[str, Any]) -> ErrorGroup:
    page = obj(data.get("page"))
    counts = obj(data.get("counts"))
    return ErrorGroup(
        id=str(data.get("id", "")),
        project_id=PREFIX + str(data.get("project_id", "")),
        error_class=f"Bug report ({text(data.get('source')) or 'unknown source'})",
        message=text(data.get("title")) or "(untitled)",
        context=text(page.get("path")) or text(page.get("url")),
        severity=text(data.get("severity")),
        status=text(data.get("status")),
        first_seen=timestamp(data.get("created_at")),
        last_seen=timestamp(data.get("updated_at")),
        comment_count=integer(counts.get("comments")),
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
            method=text(r.get("method")) or "?",
            url=text(r.get("url")) or "",
            status=integer(r.get("status")),
            duration_ms=number(r.get("duration_ms")),
            response_body=text(r.get("response_body")),
        )
        for r in objs(data.get("network"))
    ]
    comments = [
        Comment(
            id=str(c.get("id", "")),
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
        source=text(bug.get("source")),
        reporter=obj(bug.get("reporter")),
    )


@dataclass(frozen=True, slots=True)
class Bridge:
    """What `/v1/mcp/config` and `/v1/mcp/tools` said about this token."""

    workspace: str | None
    projects: tuple[Project, ...]
    scopes: frozenset[str]
    tools: frozenset[str]


class BugportBackend:
    """The BugPort adapter. Call `discover()` before relying on `capabilities`."""

    name = "bugport"

    def __init__(self, settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None, **client_kw: Any):
        if not settings.bugport_token:
            raise ValueError("BugPort backend needs BUGPORT_TOKEN")
        token = settings.bugport_token.reveal()
        self.http = UpstreamClient.from_settings(
            "bugport",
            settings.bugport_api_url,
            settings,
            credential=token,
            headers={"Authorization": f"Bearer {token}"},
            error_body=error_body,
            transport=transport,
            **client_kw,
        )
        self.bridge: Bridge | None = None
        self._discovering = anyio.Lock()

    async def aclose(self) -> None:
        await self.http.aclose()

    @property
    def capabilities(self) -> Capabilities:
        """Before discovery: read-only; after it, what the bridge reports for this token's scopes."""
        scopes = self.bridge.scopes if self.bridge else frozenset({"bugs:read"})
        can_write = "bugs:write" in scopes
        return Capabilities(
            errors="bugs:read" in scopes,
            events=False,
            update_error=can_write,
            comments=can_write,
        )

    async def discover(self) -> Bridge:
        """Read the bridge's config and tool list once (cached)."""
        async with self._discovering:
            if self.bridge is None:
                config, _ = await self.http.get_json("/mcp/config", cache=True)
                tools_body, _ = await self._optional(self.http.get_json("/mcp/tools", cache=True))
                config = obj(config)
                projects = tuple(
                    Project(id=PREFIX + str(p.get("id", "")), name=text(p.get("name")) or "", backend="bugport")
                    for p in objs(config.get("projects"))
                )
                names = frozenset(text(t.get("name")) or "" for t in objs(obj(tools_body).get("tools")))
                self.bridge = Bridge(
                    workspace=text(obj(config.get("workspace")).get("name")),
                    projects=projects,
                    scopes=frozenset(str(s) for s in config.get("scopes") or [] if isinstance(s, str)),
                    tools=names,
                )
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
        return list((await self.discover()).projects)

    async def get_project(self, project_id: str) -> Project:
        for project in await self.list_projects():
            if project.id == PREFIX + strip(project_id):
                return project
        raise NotFound(f"project {project_id!r} not found or not visible to this BugPort token", backend="bugport")

    async def list_errors(self, project_id: str, query: ErrorQuery, cursor: str | None = None) -> Page[ErrorGroup]:
        params: list[tuple[str, str]] = [("project_id", strip(project_id))]
        mapping = {"error.status": "status", "event.severity": "severity", "search": "q"}
        for field, kind, value in query.filters:
            if field not in mapping or kind != "eq":
                raise InvalidArgument(f"BugPort cannot filter by {field}; use status, severity or search")
            params.append((mapping[field], value))
        params.append(("limit", str(max(1, min(query.limit, 100)))))
        page = await self.http.get_page(
            "/bugs", params, cursor=cursor, items_key="items", not_found=f"BugPort project {project_id!r} not found"
        )
        return Page(tuple(bug_group(b) for b in objs(page.items)), page.next_cursor, page.total)

    async def _bug(self, project_id: str, bug_id: str) -> dict[str, Any]:
        path = api_path("bugs", ("error_id", bug_id))
        body, _ = await self.http.get_json(path, not_found=self._nf(project_id, bug_id))
        bug = obj(body)
        if not bug:
            raise MalformedResponse("BugPort returned an unexpected body; try again", backend="bugport", path=path)
        if str(bug.get("project_id", "")) != strip(project_id):
            raise NotFound(self._nf(project_id, bug_id), backend="bugport", method="GET", path=path, status=404)
        return bug

    @staticmethod
    def _nf(project_id: str, bug_id: str) -> str:
        return f"bug report {bug_id!r} not found in project {project_id!r}, or not visible to this token"

    async def get_error(self, project_id: str, error_id: str) -> ErrorGroup:
        return bug_group(await self._bug(project_id, error_id))

    async def get_context(self, project_id: str, bug_id: str) -> tuple[ErrorGroup, BugReportDetail]:
        """The bridge's context route; on 404/501, the `/v1/bugs` routes fetched concurrently."""
        path = api_path("mcp", "bugs", ("error_id", bug_id), "context")
        body, _ = await self._optional(self.http.get_json(path, not_found=self._nf(project_id, bug_id)))
        if isinstance(body, dict) and isinstance(body.get("bug"), dict):
            bug = body["bug"]
            if str(bug.get("project_id", "")) != strip(project_id):
                raise NotFound(self._nf(project_id, bug_id), backend="bugport", path=path, status=404)
            return bug_group(bug), detail(body, bug)
        bug = await self._bug(project_id, bug_id)
        parts: dict[str, Any] = {}

        async def sub(kind: str) -> None:
            items, _ = await self._optional(self.http.get_json(api_path("bugs", ("error_id", bug_id), kind)))
            parts["console_logs" if kind == "logs" else kind] = obj(items).get("items", [])

        async with anyio.create_task_group() as tg:
            for kind in ("logs", "network", "comments", "activity"):
                tg.start_soon(sub, kind)
        return bug_group(bug), detail(parts, bug)

    async def fix_prompt(self, project_id: str, bug_id: str) -> str | None:
        """BugPort's own fix prompt, or None when the bridge does not serve one."""
        path = api_path("mcp", "bugs", ("error_id", bug_id), "prompt")
        body, _ = await self._optional(self.http.get_json(path, not_found=self._nf(project_id, bug_id)))
        return text(obj(body).get("prompt")) if body else None

    # -- writes -----------------------------------------------------------------------------------

    async def _invoke(self, tool: str, arguments: dict[str, Any]) -> Any:
        """Call a bridge tool; returns its result, or raises. `None` means the bridge cannot (use REST)."""
        bridge = await self.discover()
        if tool not in bridge.tools:
            return None
        body, _ = await self._optional(
            self.http.send("POST", "/mcp/tools/invoke", json_body={"tool": tool, "arguments": arguments})
        )
        if body is None:
            return None
        body = obj(body)
        if body.get("is_error"):
            message = safe_detail(obj(body.get("result")).get("message")) or "the bridge tool failed"
            raise InvalidRequest(
                f"BugPort refused: {message}", backend="bugport", method="POST", path="/mcp/tools/invoke"
            )
        return body.get("result")

    async def update_error(self, project_id: str, error_id: str, change: ErrorChange) -> ErrorGroup | None:
        """Status and/or severity (`change.fields`); `fix` resolves. Bridge first, PATCH as fallback."""
        fields = dict(change.fields)
        if change.operation == "fix":
            fields = {"status": "resolved"}
        elif change.operation != "set":
            raise InvalidArgument(f"BugPort bug reports take status and/or severity, not {change.operation!r}")
        fields = {k: v for k, v in fields.items() if k in ("status", "severity") and v is not None}
        if not fields:
            raise InvalidArgument("pass status and/or severity for a BugPort bug report")
        await self._bug(project_id, error_id)  # the project check: an id from another project is not found
        result = await self._invoke("update_bug_status", {"bug_id": error_id, **fields})
        if result is None:
            body, _ = await self.http.send(
                "PATCH",
                api_path("bugs", ("error_id", error_id)),
                json_body=fields,
                not_found=self._nf(project_id, error_id),
            )
            result = body
        return bug_group(obj(result)) if obj(result) else await self.get_error(project_id, error_id)

    async def add_comment(self, project_id: str, bug_id: str, body: str) -> Comment:
        await self._bug(project_id, bug_id)
        result = await self._invoke("add_comment", {"bug_id": bug_id, "body": body})
        if result is None:
            result, _ = await self.http.send(
                "POST",
                api_path("bugs", ("error_id", bug_id), "comments"),
                json_body={"body": body},
                not_found=self._nf(project_id, bug_id),
            )
        c = obj(result)
        return Comment(
            id=str(c.get("id", "")),
            author=text(c.get("author")),
            body=text(c.get("body")) or body,
            created_at=timestamp(c.get("created_at")),
        )

    async def health(self) -> tuple[str, str | None]:
        """(health status, API version) from `/v1/health` and `/v1/version`."""
        health, _ = await self.http.get_json("/health")
        version, _ = await self._optional(self.http.get_json("/version"))
        return text(obj(health).get("status")) or "unknown", text(obj(version).get("version"))
