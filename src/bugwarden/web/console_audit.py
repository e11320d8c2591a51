"""The console's Audit page: the log as a table (newest first, filtered, paged by cursor), each record also as its
sentence, a live view of new records (polling, no reload), the chain's state, and the filtered records as JSON
lines (exactly what `bugwarden audit export` writes). For people added with `--admin`.

    GET /console                 -> the Audit page (admins) or the Agents page
    GET /console/audit           ?tool=&decision=&who=&project=&since=&until=&cursor=
    GET /console/audit/poll      the same filters and after=SEQ: new rows as HTML (escaped here) and the next SEQ
    GET /console/audit/export    the same filters: application/jsonl, one record per line
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import anyio.to_thread
from jinja2 import Environment, FileSystemLoader
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from ..render.audit import NO_NAMES, Names, parts
from ..store.audit_queries import DECISIONS, AuditFilter, AuditQueries, FilterError, export_line
from .chain_watch import watch_for
from .project_names import names_for, refresh
from .site import TEMPLATES, redirect, render, require_admin, require_person, security_headers, shown, web_of

PAGE_SIZE = 50
_FRAGMENTS = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, finalize=shown)
FILTERS = ("tool", "decision", "who", "project", "since", "until")


def _filters(request: Request) -> tuple[AuditFilter, dict[str, str], str]:
    """The filter asked for, the raw values to show back in the form, and a problem to show (or '')."""
    raw = {name: str(request.query_params.get(name, ""))[:200] for name in FILTERS}
    try:
        return AuditFilter.of(**raw), raw, ""
    except FilterError as exc:
        return AuditFilter(), raw, str(exc)


_SHORT = {"organization_id": "organization", "project_id": "project", "error_id": "error", "event_id": "event"}


def _target_order(item: tuple[Any, Any]) -> int:
    order = list(_SHORT)
    return order.index(item[0]) if item[0] in order else len(order)


def row_view(record: dict[str, Any], names: Names = NO_NAMES) -> dict[str, Any]:
    """What a table row shows; every value is escaped by the template."""
    targets = record.get("targets") if isinstance(record.get("targets"), dict) else {}
    is_person = str(record.get("principal_id") or "").startswith("person:")
    ts = str(record.get("ts") or "")
    return {
        "seq": record.get("seq"),
        "ts": ts,
        "when": ts[:19].replace("T", " "),
        "who": record.get("principal_name") or record.get("principal_id") or "",
        "person": "" if is_person else record.get("person") or "",
        "client": record.get("client_name") or "",
        "tool": record.get("tool") or "",
        "phase": record.get("phase") or "",
        "targets": [(_SHORT.get(str(k), str(k)), v) for k, v in sorted((targets or {}).items(), key=_target_order)],
        "decision": record.get("decision") or "",
        "reason": record.get("reason") or "",
        "outcome": record.get("outcome") or "",
        "duration": record.get("duration_ms"),
        "sentence": parts(record, names),
    }


async def console_home(request: Request) -> Response:
    person = await require_person(request)
    return redirect(request, "/console/audit" if person.admin else "/console/agents")


async def audit_page(request: Request) -> Response:
    await require_admin(request)
    web = web_of(request)
    filters, raw, problem = _filters(request)
    cursor = request.query_params.get("cursor") or None
    queries = AuditQueries(web.store.audit)
    try:
        page = await anyio.to_thread.run_sync(lambda: queries.page(filters, cursor=cursor, limit=PAGE_SIZE))
    except FilterError as exc:
        problem = str(exc)
        page = await anyio.to_thread.run_sync(lambda: queries.page(filters, limit=PAGE_SIZE))
        cursor = None
    chain = await anyio.to_thread.run_sync(watch_for(web.audit).current)
    await refresh(web)
    names = await anyio.to_thread.run_sync(names_for, web.store, page.records)
    query = urlencode(filters_query(raw))
    return render(
        request,
        "console/audit.html",
        section="audit",
        rows=[row_view(r, names) for r in page.records],
        raw=raw,
        decisions=DECISIONS,
        problem=problem,
        chain=chain,
        head=page.head,
        live=cursor is None,
        query=query,
        next_url=f"/console/audit?{urlencode({**filters_query(raw), 'cursor': page.next_cursor})}"
        if page.next_cursor
        else None,
        first_url=f"/console/audit?{query}" if cursor else None,
        export_url=f"/console/audit/export?{query}",
        poll_url=f"/console/audit/poll?{query}",
    )


def filters_query(raw: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in raw.items() if v}


async def audit_poll(request: Request) -> Response:
    """New matching records after `after`, as table rows (newest first) rendered and escaped on the server."""
    await require_admin(request)
    web = web_of(request)
    filters, _, problem = _filters(request)
    after_text = request.query_params.get("after", "0")
    after = int(after_text) if after_text.isdigit() and len(after_text) < 19 else 0
    if problem:
        return security_headers(JSONResponse({"rows": "", "after": after}))
    queries = AuditQueries(web.store.audit)
    records, next_after = await anyio.to_thread.run_sync(lambda: queries.newer(filters, after=after))
    names = await anyio.to_thread.run_sync(names_for, web.store, records)
    rows = _FRAGMENTS.get_template("console/_rows.html").render(rows=[row_view(r, names) for r in reversed(records)])
    return security_headers(JSONResponse({"rows": rows, "count": len(records), "after": next_after}))


async def audit_export(request: Request) -> Response:
    """The filtered records as JSON lines, oldest first: the bytes `bugwarden audit export` writes."""
    await require_admin(request)
    web = web_of(request)
    filters, _, problem = _filters(request)
    if problem:
        return security_headers(Response(problem + "\n", 400, media_type="text/plain"))
    queries = AuditQueries(web.store.audit)

    async def lines() -> AsyncIterator[bytes]:
        iterator = queries.matching(filters)
        while True:
            batch = await anyio.to_thread.run_sync(lambda: [r for _, r in zip(range(1000), iterator, strict=False)])
            if not batch:
                return
            yield "".join(export_line(r) + "\n" for r in batch).encode()

    response = StreamingResponse(lines(), media_type="application/jsonl")
    response.headers["Content-Disposition"] = 'attachment; filename="bugwarden-audit.jsonl"'
    return security_headers(response)


def routes() -> list[BaseRoute]:
    return [
        Route("/console", console_home, methods=["GET"]),
        Route("/console/audit", audit_page, methods=["GET"]),
        Route("/console/audit/poll", audit_poll, methods=["GET"]),
        Route("/console/audit/export", audit_export, methods=["GET"]),
    ]
