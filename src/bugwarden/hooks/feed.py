"""Signals out of the store: read by `list_signals`, and announced to subscribed MCP clients as they land.

`StoredSignals` (guard/signals.py) turns store rows into `model.Signal`s. `SignalWatch` tells subscribers:
every replica polls the store for signals newer than the last it saw (an indexed range read, only while
someone is subscribed) every `interval` seconds, and at once when its own receiver stored one. A subscriber
therefore hears of a delivery that landed on any replica within about `interval`, of one on its own replica at
once (see bench/signals.py). Polling needs nothing PostgreSQL-specific, so SQLite processes sharing a directory (a stdio
client beside an HTTP server) are told too.

Subscribers come two ways: `subscriptions/listen` streams (2026-07-28), each with a bus of its own, and
`resources/subscribe` on handshake sessions (2025-11-25). Both are authorised by the checkpoint before they are
accepted, as a read of the project's signals, and their grant is checked again before each announcement.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.to_thread

from ..guard.signals import StoredSignals, to_signal
from ..store.signals import SignalStore
from ..tools.resources import signals_uri

__all__ = ["POLL_INTERVAL", "SignalWatch", "StoredSignals", "Subscriber", "to_signal"]

log = logging.getLogger("bugwarden.hooks")
POLL_INTERVAL = 0.25


@dataclass(eq=False)
class Subscriber:
    """One subscribed session or listen stream: whose it is, what it follows, how to tell it, how to end it."""

    principal_id: str
    uris: set[str]
    tell: Callable[[str], Awaitable[None]]
    end: Callable[[], None] = lambda: None


class SignalWatch:
    """Announces new and changed signals to the sessions subscribed to their project's resource.

    Before each announcement the subscriber's grant is checked again (`still_allowed`, by principal id): a
    subscription of a token revoked or expired since is ended, not told."""

    def __init__(
        self,
        signals: SignalStore,
        *,
        still_allowed: Callable[[str], bool] = lambda principal_id: True,
        interval: float = POLL_INTERVAL,
        chores: list[Callable[[], Any]] | None = None,
    ) -> None:
        self.signals = signals
        self.still_allowed = still_allowed
        self.interval = interval
        self.chores = chores or []
        """Async callables run on every tick (the receiver's tallied refusals)."""
        self.subscribers: dict[object, Subscriber] = {}
        """Keyed by the session (resources/subscribe) or the stream (subscriptions/listen)."""
        self.watermark: int | None = None
        self._wake: anyio.Event | None = None
        """Created by `run`, on its own event loop (a server may be run by several loops, one after another)."""
        self.announced = 0

    # -- subscribers ----------------------------------------------------------------------------------

    def subscribed(self) -> bool:
        return any(s.uris for s in self.subscribers.values())

    def add_session(self, uri: str, session: Any, principal_id: str) -> None:
        """`resources/subscribe` on a handshake session (already authorised)."""
        key = ("session", id(session))
        found = self.subscribers.get(key)
        if found is None or found.principal_id != principal_id:
            found = Subscriber(principal_id, set(), session.send_resource_updated)
            self.subscribers[key] = found
        found.uris.add(uri)
        self.wake()

    def remove_session(self, uri: str, session: Any) -> None:
        found = self.subscribers.get(("session", id(session)))
        if found is not None:
            found.uris.discard(uri)

    def add_stream(self, key: object, subscriber: Subscriber) -> None:
        """A `subscriptions/listen` stream (already authorised), until `remove`."""
        self.subscribers[key] = subscriber
        self.wake()

    def remove(self, key: object) -> None:
        self.subscribers.pop(key, None)

    def wake(self) -> None:
        """Look now (a signal was stored here, or someone subscribed)."""
        if self._wake is not None:
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

    async def prime(self) -> None:
        """Called before a subscription is registered: from here on, every change is announced to it."""
        if self.watermark is None:
            self.watermark = await anyio.to_thread.run_sync(self.signals.latest_seq)

    async def tick(self) -> int:
        """Announce what changed since the last look; returns how many announcements were made. Reads the store
        only while someone is subscribed."""
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
        uris = {signals_uri(project) for _, project in changes}
        told = 0
        verdicts: dict[str, bool] = {}
        for key, subscriber in list(self.subscribers.items()):
            wanted = sorted(subscriber.uris & uris)
            if not wanted:
                continue
            if subscriber.principal_id not in verdicts:
                verdicts[subscriber.principal_id] = await anyio.to_thread.run_sync(
                    self.still_allowed, subscriber.principal_id
                )
            if not verdicts[subscriber.principal_id]:
                log.info("ending the signal subscriptions of %s: its grant was revoked or expired", key)
                self.subscribers.pop(key, None)
                subscriber.end()
                continue
            for uri in wanted:
                try:
                    await subscriber.tell(uri)
                    told += 1
                except Exception:  # the session or stream ended: forget it
                    self.subscribers.pop(key, None)
                    break
        self.announced += told
        return told
