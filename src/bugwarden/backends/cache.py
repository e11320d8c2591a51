"""The upstream client's memory of recent answers: bounded, expiring, and able to serve a stable
answer past its time when the upstream cannot give a new one.

An entry is fresh for its TTL. Entries marked `keep_stale` (stable resources: project lists,
event fields, organisations) are then kept `stale_for` seconds more, to be served only when a new
request fails for reasons of the upstream (rate limit, timeout, 5xx). Writes drop what they change,
stale or not. The least recently used entries go first once there are more than `max_entries` or
their bodies add up to more than `max_bytes`.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True, slots=True)
class Entry:
    body: Any
    response: httpx.Response
    stored_at: float
    fresh_until: float
    keep_until: float
    size: int


class ResponseCache:
    def __init__(
        self,
        clock: Callable[[], float],
        *,
        max_entries: int = 1024,
        max_bytes: int = 64 * 1024 * 1024,
        stale_for: float = 600.0,
    ) -> None:
        self._clock = clock
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.stale_for = stale_for
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def bytes(self) -> int:
        return self._bytes

    def fresh(self, key: str) -> Entry | None:
        """The entry for `key` if it is still fresh."""
        entry = self._live(key)
        return entry if entry is not None and entry.fresh_until > self._clock() else None

    def stale(self, key: str) -> Entry | None:
        """The entry for `key`, past its freshness but still kept (only `keep_stale` entries are)."""
        return self._live(key)

    def put(self, key: str, body: Any, response: httpx.Response, *, ttl: float, size: int, keep_stale: bool) -> None:
        if ttl <= 0 or size > self.max_bytes:
            return
        now = self._clock()
        self._remove(key)
        keep = now + ttl + (self.stale_for if keep_stale else 0.0)
        self._entries[key] = Entry(body, response, now, now + ttl, keep, size)
        self._bytes += size
        while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
            self._remove(next(iter(self._entries)))

    def drop(self, *prefixes: str) -> None:
        """Forget every entry whose key starts with one of `prefixes`."""
        for key in [k for k in self._entries if k.startswith(prefixes)]:
            self._remove(key)

    def _live(self, key: str) -> Entry | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.keep_until <= self._clock():
            self._remove(key)
            return None
        self._entries.move_to_end(key)
        return entry

    def _remove(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= entry.size
