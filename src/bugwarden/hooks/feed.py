"""Signals out of the store: read by `list_signals`, and announced to subscribed MCP clients as they land.

`StoredSignals` (guard/signals.py) turns store rows into `model.Signal`s. `SignalWatch` tells subscribers:
every replica polls the store for signals newer than the last it saw (an indexed range read, only while
someone is subscribed) every `interval` seconds, and at once when its own receiver stored one. A subscriber
therefore hears of a delivery that landed on any replica within about `interval`, of one on its own replica at
once (see bench/signals.py). Polling needs nothing PostgreSQL-specific, so SQLite processes sharing a directory (a stdio
client beside an HTTP server) are told too.

Subscribers come two ways: `subscriptions/listen` streams (2026-07-28) through the SDK's bus, and
`resources/subscribe` on handshake sessions (2025-11-25), kept here per URI. Both are authorised by the
checkpoint before they are accepted, as a read of the project's signals.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import anyio
import anyio.to_thread
from mcp.server.subscriptions import ResourceUpdated, SubscriptionBus

from ..guard.signals import StoredSignals, to_signal
from ..store.signals import SignalStore
from ..tools.resources import signals_uri

__all__ = ["POLL_INTERVAL", "SignalWatch", "StoredSignals", "to_signal"]

log = logging.getLogger("bugwarden.hooks")
POLL_INTERVAL = 0.25


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
        self._wake: anyio.Event | None = None
        """Created by `run`, on its own event loop (a server may be run by several loops, one after another)."""
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
        if self._wake is not None:
            self._wake.set()

    # -- the loop -------------------------------------------------------------------------------------

    async def run(self) -> None:
        self._wake = anyio.Event()
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

    async def prime(self) -> None:
        """Called before a subscription is registered: from here on, every change is announced to it."""
        if self.watermark is None:
            self.watermark = await anyio.to_thread.run_sync(self.signals.latest_seq)

    async def tick(self) -> int:
        """Announce what changed since the last look; returns how many URIs were announced. Reads the store only
        while someone is subscribed."""
        if not self.subscribed():
            self.watermark = None
            return 0
        if self.watermark is None:
            await self.prime()
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
