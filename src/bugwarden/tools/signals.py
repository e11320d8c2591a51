"""list_signals: what BugSnag's webhook pushed, read from bugwarden's store (no upstream request, no quota)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import anyio.to_thread
from mcp.types import CallToolResult
from pydantic import Field

from ..backends.errors import InvalidArgument
from ..call.call import FeedCall
from ..call.target import Feed, Target
from ..model import Page, Signal
from ..render import signals as render
from ..render.outputs import SignalList
from .params import Cursor, Limit
from .registry import tool
from .support import check_since, respond

_RELATIVE = re.compile(r"^(\d{1,4})([mhd])$")


def since_time(since: str, now: datetime) -> datetime:
    """`15m`, `24h`, `7d` before `now`, or an ISO time ending in Z."""
    if m := _RELATIVE.match(since):
        amount, unit = int(m.group(1)), m.group(2)
        return now - timedelta(minutes=amount * {"m": 1, "h": 60, "d": 1440}[unit])
    return datetime.fromisoformat(since.replace("Z", "+00:00"))


def signal_rules(args: dict[str, Any], target: Target) -> None:
    check_since(args.get("since"))
    cursor = target.page
    if cursor is not None and not cursor.isdigit():
        raise InvalidArgument("cursor is not one list_signals gave: start again without it")


@tool(
    title="List signals",
    scope="errors:read",
    read_only=True,
    idempotent=True,
    reach="feed",
    rules=signal_rules,
)
async def list_signals(
    call: FeedCall,
    project_id: Annotated[
        str | None,
        Field(description="Project id from list_projects; omit for every project this agent may see.", max_length=200),
    ] = None,
    trigger: Annotated[
        str | None,
        Field(
            description="Only this BugSnag trigger: firstException (new error), reopened, errorEventFrequency, "
            "powerTen, exception, projectSpiking, release, comment, errorStateManualChange.",
            pattern=r"^[A-Za-z][A-Za-z0-9_]{0,49}$",
        ),
    ] = None,
    release_stage: Annotated[
        str | None, Field(description="Only signals from this release stage, e.g. 'production'.", max_length=100)
    ] = None,
    since: Annotated[
        str | None,
        Field(description="Only signals received since: '15m', '24h', '7d' or an ISO time ending in Z.", max_length=40),
    ] = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Annotated[CallToolResult, SignalList]:
    """Use this when asked what is new, what broke recently, or what changed since a time: new errors, reopened
    ones, spikes, releases and state changes that BugSnag pushed to bugwarden, newest first, one line each with
    the error_id the other tools take. Answers from bugwarden's store: no upstream request, no rate-limit cost.
    A signal is a hint: confirm with get_error before acting."""
    feed: Feed = call.target
    query = feed.query(
        trigger=trigger,
        release_stage=release_stage,
        since=since_time(since, datetime.now(UTC)) if since else None,
        limit=limit,
    )
    reader = feed.reader
    page: Page[Signal] = Page(items=())
    if reader is not None:
        before = int(feed.page) if feed.page else None
        page = await anyio.to_thread.run_sync(reader.signals, query, before)
    scope = f"in project {feed.project_id}" if feed.project_id else "across the projects this agent may see"
    filtered = any(v is not None for v in (trigger, release_stage, since))
    hooks = reader is not None and (bool(page.items) or await anyio.to_thread.run_sync(reader.configured))
    return respond(render.signal_list(page.items, scope, feed.cursor(page.next), filtered, hooks))
