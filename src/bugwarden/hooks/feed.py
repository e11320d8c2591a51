"""Signals out of the store: read by `list_signals`, and announced to subscribed MCP clients as they land.

`StoredSignals` turns store rows into `model.Signal`s. `SignalWatch` tells subscribers: every replica polls the
store for signals newer than the last it saw (an indexed range read, only while someone is subscribed) every
`interval` seconds, and at once when its own receiver stored one. A subscriber therefore hears of a delivery
that landed on any replica within about `interval`, of one on its own replica within milliseconds (see
bench/signals.py). Polling needs nothing PostgreSQL-specific, so SQLite processes sharing a directory (a stdio
client beside an HTTP server) are told too.

Subscribers come two ways: `subscriptions/listen` streams (2026-07-28) through the SDK's bus, and
`resources/subscribe` on handshake sessions (2025-11-25), kept here per URI. Both are authorised by the
checkpoint before they are accepted, as a read of the project's signals.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import anyio
import anyio.to_thread
from mcp.server.subscriptions import ResourceUpdated, SubscriptionBus

from ..model import Page, Signal, SignalQuery
from ..store.hooks import HookStore
from ..store.signals import SignalStore
from ..tools.resources import signals_uri

log = logging.getLogger("bugwarden.hooks")
POLL_INTERVAL = 0.25


def _time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def to_signal(row: dict[str, Any]) -> Signal:
    detail = json.loads(row.get("detail") or "{}")
    return Signal(
        seq=int(row["seq"]),
        project_id=str(row["project_id"]),
        trigger=str(row["trigger_type"]),
        triggers=tuple(t for t in str(row["triggers"]).split(",") if t),
        received_at=_time(row["received_at"]) or datetime.fromtimestamp(float(row["received"]), UTC),
        source=str(row["source"]),
        trigger_message=row.get("trigger_message"),
        error_id=row.get("error_id"),
        event_id=row.get("event_id"),
        error_class=row.get("error_class"),
        message=row.get("message"),
        context=row.get("context"),
        release_stage=row.get("release_stage"),
        app_version=row.get("app_version"),
        severity=row.get("severity"),
        unhandled=None if row.get("unhandled") is None else bool(row["unhandled"]),
        status=row.get("status"),
        occurrences=None if row.get("occurrences") is None else int(row["occurrences"]),
        first_seen=_time(row.get("first_seen")),
        last_seen=_time(row.get("last_seen")),
        dashboard_url=row.get("dashboard_url"),
        detail={str(k): str(v) for k, v in detail.items()} if isinstance(detail, dict) else {},
        test=bool(row.get("test")),
    )


class StoredSignals:
    """The `SignalReader` over the store."""

    def __init__(self, signals: SignalStore, hooks: HookStore) -> None:
        self.store = signals
        self.hooks = hooks

    def signals(self, query: SignalQuery, before: int | None) -> Page[Signal]:
        rows, after = self.store.page(
            projects=query.projects,
            project_id=query.project_id,
            trigger=query.trigger,
            release_stage=query.release_stage,
            since=query.since.timestamp() if query.since else None,
            before=before,
            limit=query.limit,
        )
        return Page(items=tuple(to_signal(r) for r in rows), next=str(after) if after is not None else None)

    def configured(self) -> bool:
        return bool(self.hooks.list()) or self.store.latest_seq() > 0


class SignalWatch:
    """Announces new and changed signals to the sessions subscribed to their project's resource."""

    def __init__(
        self,
        signals: SignalStore,
        bus: SubscriptionBus,
        *,
        interval: float = POLL_INTERVAL,
        chores: list[Callable[[], Any]] | None = None,
    ) -> None:
        self.signals = signals
        self.bus = bus
        self.interval = interval
        self.chores = chores or []
        """Async callables run on every tick (the receiver's tallied refusals)."""
        self.sessions: dict[str, dict[int, Any]] = {}
        """uri -> id(session) -> session (resources/subscribe)."""
        self.listeners: dict[str, int] = {}
        """uri -> open subscriptions/listen streams honouring it."""
        self.watermark: int | None = None
        self._wake = anyio.Event()
        self.announced = 0

    # -- subscribers ----------------------------------------------------------------------------------

    def subscribed(self) -> bool:
        return any(self.sessions.values()) or any(n > 0 for n in self.listeners.values())

    def add_session(self, uri: str, session: Any) -> None:
        self.sessions.setdefault(uri, {})[id(session)] = session
        self.wake()

    def remove_session(self, uri: str, session: Any) -> None:
        self.sessions.get(uri, {}).pop(id(session), None)

    def listening(self, uris: list[str], delta: int) -> None:
        for uri in uris:
            self.listeners[uri] = max(0, self.listeners.get(uri, 0) + delta)
        self.wake()

    def wake(self) -> None:
        """Look now (a signal was stored here, or someone subscribed)."""
        self._wake.set()

    # -- the loop -------------------------------------------------------------------------------------

    async def run(self) -> None:
        self._wake = anyio.Event()  # an event belongs to one event loop: each run (a server's lifespan) has its own
        while True:
            with anyio.move_on_after(self.interval):
                await self._wake.wait()
            self._wake = anyio.Event()
            for chore in self.chores:
                try:
                    await chore()
                except Exception:  # a chore must not stop announcements
                    log.exception("a webhook chore failed")
            try:
                await self.tick()
            except Exception as exc:  # the store being away must not end the loop
                log.warning("cannot read new signals: %s", exc)

    async def tick(self) -> int:
        """Announce what changed since the last look; returns how many URIs were announced."""
        if self.watermark is None or not self.subscribed():
            # Nobody listens: only keep the watermark current (cheaply), so a new subscriber hears of what comes
            # after it subscribed, not of the past.
            if self.watermark is None or self.subscribed() is False:
                self.watermark = await anyio.to_thread.run_sync(self.signals.latest_seq)
            return 0
        changes = await anyio.to_thread.run_sync(self.signals.changes_after, self.watermark)
        if not changes:
            return 0
        self.watermark = max(seq for seq, _ in changes)
        uris = sorted({signals_uri(project) for _, project in changes})
        for uri in uris:
            await self.bus.publish(ResourceUpdated(uri=uri))
            for key, session in list(self.sessions.get(uri, {}).items()):
                try:
                    await session.send_resource_updated(uri)
                except Exception:  # the session ended: forget it
                    self.sessions.get(uri, {}).pop(key, None)
        self.announced += len(uris)
        return len(uris)
