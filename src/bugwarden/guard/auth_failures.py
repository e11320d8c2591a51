"""Failed bearer authentications over HTTP, in the audit log without secrets and bounded.

A request to the MCP endpoint presenting a bearer token that is wrong, expired or revoked is refused with 401
before any session exists; each refusal is counted per source address. The first failure from a source in an
interval writes one record (`tool` `auth.bearer`, decision `denied`) carrying the count of failures since that
source's previous record, so a flood of guesses costs the log one record per source per interval. The presented
credential is never recorded, nor any part of it. Counts still pending when the process ends are lost (the log
keeps at least one record per source and interval with failures).
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable

from ..store import StoreError
from ..store.waits import in_store_thread
from .audit import AuditError, AuditLog, AuditRecord
from .principal import Principal

log = logging.getLogger("bugwarden.http")
NOBODY = Principal(id="unauthenticated", name="unauthenticated", scopes=frozenset(), transport="http")


class AuthFailures:
    def __init__(
        self,
        audit: AuditLog,
        interval: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        max_sources: int = 10_000,
    ) -> None:
        self.audit = audit
        self.interval = interval
        self.clock = clock
        self.max_sources = max_sources
        self._sources: OrderedDict[str, list[float]] = OrderedDict()
        """source -> [time of its last record, failures since then not yet recorded]."""

    async def failed(self, source: str, problem: str) -> None:
        """Count one failed authentication from `source` (an address); record it when its interval is new."""
        now = self.clock()
        source = source[:100] or "unknown"
        entry = self._sources.get(source)
        if entry is not None and now - entry[0] < self.interval:
            entry[1] += 1
            return
        failures = 1 + (int(entry[1]) if entry is not None else 0)
        self._sources[source] = [now, 0]
        self._sources.move_to_end(source)
        while len(self._sources) > self.max_sources:
            self._sources.popitem(last=False)
        record = AuditRecord.start(
            principal=NOBODY,
            client=(None, None),
            transport="http",
            tool="auth.bearer",
            arguments={"source": source, "failures": failures, "interval_s": self.interval},
        ).refused("denied", problem, "unauthenticated")
        try:
            await in_store_thread(self.audit.finish, record, now)
        except (AuditError, StoreError):
            log.error("the audit log could not record failed authentications from %s", source)
