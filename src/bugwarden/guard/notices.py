"""What a call tells its MCP client while it runs: `notifications/progress` during waits (when the
request carried a progress token) and `notifications/message` log entries for notable events.

Log levels follow the protocol era. On handshake connections (2025-11-25 and before) the client
sets a threshold with `logging/setLevel`, kept per connection (default: `info`). On 2026-07-28 the
request itself opts in with its `_meta` log level and the SDK drops the rest. Every message is
bugwarden's own words (see `backends.call_context.failure_words`): never a secret, never upstream text; and
each still passes the one sanitiser (`render.failures.log_line`) on its way out, as every outbound text does.
"""

from __future__ import annotations

import logging
from typing import Any, get_args

from mcp.server.connection import allowed_log_levels
from mcp.types import LoggingLevel, LoggingMessageNotification, LoggingMessageNotificationParams

from ..backends.call_context import Level
from ..render.failures import log_line

log = logging.getLogger("bugwarden")
LEVELS: tuple[LoggingLevel, ...] = get_args(LoggingLevel)  # least severe first
DEFAULT_LEVEL: LoggingLevel = "info"
_LEVEL_KEY = "bugwarden.log_level"
LOGGER = "bugwarden"


def request_context(ctx: Any) -> Any | None:
    """The SDK's per-request context behind a tool's `Context` or a low-level handler's own, else None."""
    try:
        return getattr(ctx, "request_context", ctx) if ctx is not None else None
    except ValueError:  # a Context used outside a request
        return None


def _connection_state(rc: Any) -> dict[str, Any] | None:
    # The SDK keeps per-connection scratch state on the connection behind each request's session; it has no
    # public accessor yet. Without it, levels fall back to the default (tests pin this).
    state = getattr(getattr(getattr(rc, "session", None), "_connection", None), "state", None)
    return state if isinstance(state, dict) else None


def set_level(ctx: Any, level: LoggingLevel) -> None:
    """Remember `level` as this connection's threshold (`logging/setLevel`)."""
    state = _connection_state(request_context(ctx))
    if state is not None:
        state[_LEVEL_KEY] = level


def delivers(ctx: Any, level: Level) -> bool:
    """Whether a log entry at `level` may go to the client behind `ctx`."""
    rc = request_context(ctx)
    if rc is None or getattr(rc, "request_id", None) is None:
        return False
    if level not in allowed_log_levels(rc.protocol_version, rc.meta):  # the 2026-07-28 per-request opt-in
        return False
    state = _connection_state(rc) or {}
    threshold = state.get(_LEVEL_KEY, DEFAULT_LEVEL)
    return LEVELS.index(level) >= LEVELS.index(threshold)


class CallNotices:
    """The listener the checkpoint lends to one call (see `backends.call_context.Listener`)."""

    def __init__(self, ctx: Any, tool: str) -> None:
        self._rc = request_context(ctx)
        self._ctx = ctx
        self._tool = tool

    async def waiting(self, reason: str, waited: float, total: float) -> None:
        if self._rc is None:
            return
        try:
            await self._rc.session.report_progress(waited, total, f"waiting for {reason}: {total - waited:.0f}s left")
        except Exception:
            log.debug("could not send a progress notification", exc_info=True)

    async def notice(self, level: Level, message: str) -> None:
        if self._rc is None or not delivers(self._ctx, level):
            return
        entry = LoggingMessageNotification(
            params=LoggingMessageNotificationParams(
                level=level, logger=LOGGER, data=log_line(f"{self._tool}: {message}")
            )
        )
        try:
            await self._rc.session.send_notification(entry, related_request_id=self._rc.request_id)
        except Exception:
            log.debug("could not send a log notification", exc_info=True)
