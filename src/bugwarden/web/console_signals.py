"""The console's Signals page: what BugSnag's webhooks pushed, newest first, beside the audit log, with a live view
of new ones (the Audit page's polling). For people added with `--admin`.

    GET /console/signals          ?project=ID&cursor=SEQ
    GET /console/signals/poll     ?project=ID&after=SEQ: new rows as HTML (escaped here) and the next SEQ
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import anyio.to_thread
from jinja2 import Environment, FileSystemLoader
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ..guard.signals import StoredSignals
from ..model import Signal, SignalQuery
from ..render.signals import summary, trigger_words
from ..render.text import inline, when
from ..store.hooks import HookStore
from ..store.signals import SignalStore
from .site import TEMPLATES, render, require_admin, security_headers, shown, web_of

PAGE_SIZE = 50
_FRAGMENTS = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, finalize=shown)
_ID = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"


def row_view(signal: Signal) -> dict[str, Any]:
    """What a row shows; upstream words cleaned (invisible characters shown), and escaped by the template."""
    return {
        "seq": signal.seq,
        "received": when(signal.received_at),
        "project": signal.project_id,
        "trigger": trigger_words(signal),
        "test": signal.test,
        "error_id": signal.error_id if not signal.test else None,
        "stage": inline(signal.release_stage or "", 40),
        "summary": summary(signal),
    }


def _project(request: Request) -> str | None:
    value = str(request.query_params.get("project", ""))[:64]
    return value if value and all(c in _ID for c in value) else None


def _reader(request: Request) -> StoredSignals:
    store = web_of(request).store
    return StoredSignals(SignalStore(store.hooks), HookStore(store.hooks))


async def signals_page(request: Request) -> Response:
    await require_admin(request)
    reader = _reader(request)
    project = _project(request)
    cursor_text = request.query_params.get("cursor", "")
    before = int(cursor_text) if cursor_text.isdigit() and len(cursor_text) < 19 else None
    page = await anyio.to_thread.run_sync(
        lambda: reader.signals(SignalQuery(project_id=project, limit=PAGE_SIZE), before)
    )
    head = await anyio.to_thread.run_sync(reader.store.latest_seq)
    query = {"project": project} if project else {}
    return render(
        request,
        "console/signals.html",
        section="signals",
        rows=[row_view(s) for s in page.items],
        project=project or "",
        live=before is None,
        head=head,
        poll_url="/console/signals/poll?" + urlencode(query),
        next_url=f"/console/signals?{urlencode({**query, 'cursor': page.next})}" if page.next else None,
        first_url=f"/console/signals?{urlencode(query)}" if before is not None else None,
    )


async def signals_poll(request: Request) -> Response:
    """Signals stored or changed after `after`, as table rows (newest first) rendered and escaped on the server."""
    await require_admin(request)
    reader = _reader(request)
    project = _project(request)
    after_text = request.query_params.get("after", "0")
    after = int(after_text) if after_text.isdigit() and len(after_text) < 19 else 0

    def newer() -> tuple[list[Signal], int]:
        changed = reader.store.changes_after(after, limit=PAGE_SIZE)
        if not changed:
            return [], after
        page = reader.signals(SignalQuery(project_id=project, limit=PAGE_SIZE), None)
        return [s for s in page.items if s.seq > after], max(seq for seq, _ in changed)

    signals, next_after = await anyio.to_thread.run_sync(newer)
    rows = _FRAGMENTS.get_template("console/_signal_rows.html").render(rows=[row_view(s) for s in signals])
    return security_headers(JSONResponse({"rows": rows, "count": len(signals), "after": next_after}))


def routes() -> list[BaseRoute]:
    return [
        Route("/console/signals", signals_page, methods=["GET"]),
        Route("/console/signals/poll", signals_poll, methods=["GET"]),
    ]
