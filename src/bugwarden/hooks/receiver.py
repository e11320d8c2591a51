"""`POST /hooks/bugsnag/<secret>`: BugSnag's webhook deliveries, on the same port as `/mcp`, unable to hurt it.

In this order, each refusal answering at once and audited (without the secret) with its reason:

1. the source address, when an allow-list is set (`--hooks-from CIDR`): others get what an unknown route gets;
2. the secret: looked up by hash, compared in constant time; unknown or removed -> the same;
3. room: at most `max_in_flight` deliveries are worked on at once (429 beyond), in worker threads of their own,
   so a flood cannot take the threads or the store connections that MCP calls use;
4. the hook's rate (per process, a token bucket: `rate` a minute, a minute's worth at once) -> 429;
5. `application/json` (415), at most 1 MiB (413, before the body is read whole), JSON of bounded depth (400),
   the shape of a BugSnag payload with id-shaped ids (422), for the hook's project (403);
6. stored as a signal: new, merged into one already stored (another trigger of the same event), or a replay
   (stored already: answered 200 so that BugSnag does not count a failure, counted and audited as refused).

Repeated refusals of one kind from one hook (or one address) within a second are audited as one record with
their `count`, so a flood of garbage costs the audit log one write a second, not one a request.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from ..config import HookOptions, Network
from ..guard.audit import AuditError, AuditLog, redact
from ..store import StoreError
from ..store.buckets import gcra
from ..store.hooks import Hook, HookStore
from ..store.signals import SignalStore
from .payload import Refused, merge, parse_body, read_delivery

log = logging.getLogger("bugwarden.hooks")
MAX_BODY = 1024 * 1024
_SECRET = re.compile(r"[A-Za-z0-9_-]{20,100}")


UNKNOWN_ROUTE = PlainTextResponse("Not Found", status_code=404)
"""The receiver's answer for a delivery it does not recognise: the HTTP app then answers it as any unknown route
(so a wrong secret looks like no route at all)."""


def not_found() -> Response:
    return UNKNOWN_ROUTE


def parse_networks(values: Sequence[str]) -> tuple[Network, ...]:
    """`--hooks-from` values (CIDR or single addresses, comma-separated or repeated); ValueError names a bad one."""
    networks: list[Network] = []
    for value in values:
        for item in (v.strip() for v in value.split(",")):
            if not item:
                continue
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                raise ValueError(
                    f"--hooks-from {item!r} is not an address or CIDR network (e.g. 104.196.245.109/32)"
                ) from None
    return tuple(networks)


class RefusalTally:
    """Refusals of one (who, reason) within `window` seconds after the last audited one are counted, not written;
    `due()` hands back the counts whose window has closed."""

    def __init__(self, window: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.window, self.clock = window, clock
        self.last: dict[tuple[str, str], float] = {}
        self.pending: dict[tuple[str, str], tuple[int, dict[str, Any]]] = {}

    def admit(self, key: tuple[str, str], record: dict[str, Any]) -> bool:
        """True: audit this refusal now. False: it was counted for a later record."""
        now = self.clock()
        last = self.last.get(key)
        if last is not None and now - last < self.window:
            count, _ = self.pending.get(key, (0, record))
            self.pending[key] = (count + 1, record)
            return False
        self.last[key] = now
        return True

    def due(self, *, everything: bool = False) -> list[dict[str, Any]]:
        now = self.clock()
        ready = [k for k in self.pending if everything or now - self.last.get(k, 0.0) >= self.window]
        records = []
        for key in ready:
            count, record = self.pending.pop(key)
            self.last[key] = now
            records.append({**record, "count": count, "reason": record["reason"] + f" ({count} like it within 1s)"})
        for key in [k for k, t in self.last.items() if now - t > 60 and k not in self.pending]:
            del self.last[key]
        return records


@dataclass
class Receiver:
    """The ASGI endpoint of one source's webhooks (BugSnag's)."""

    hooks: HookStore
    signals: SignalStore
    audit: AuditLog
    options: HookOptions = field(default_factory=HookOptions)
    on_signal: Callable[[], None] = lambda: None
    """Called after a signal is stored or changed (wakes the notifier)."""
    source: str = "bugsnag"
    wall: Callable[[], float] = time.time
    clock: Callable[[], float] = time.monotonic

    def __post_init__(self) -> None:
        self.limiter = anyio.CapacityLimiter(2)
        self.in_flight = 0
        self.buckets: dict[str, float] = {}
        self.tally = RefusalTally(clock=self.clock)
        self.refused_counts: dict[str, int] = {}

    async def handle(self, request: Request) -> Response:
        source_ip = request.client.host if request.client else ""
        secret = request.path_params.get("secret", "")
        facts: dict[str, Any] = {"source_ip": source_ip[:60], "bytes": int(request.headers.get("content-length") or 0)}
        if self.options.allow_from and not _allowed(source_ip, self.options.allow_from):
            await self._refuse(None, facts, "denied", "the source address is not in --hooks-from", key=source_ip)
            return not_found()
        if not isinstance(secret, str) or not _SECRET.fullmatch(secret):
            await self._refuse(None, facts, "denied", "unknown or removed hook secret", key=source_ip)
            return not_found()
        if self.in_flight >= self.options.max_in_flight:
            await self._refuse(None, facts, "denied", "too many deliveries at once", key="busy")
            return JSONResponse({"error": "busy"}, 429, headers={"Retry-After": "1"})
        self.in_flight += 1
        try:
            return await self._deliver(request, secret, facts)
        finally:
            self.in_flight -= 1

    async def _deliver(self, request: Request, secret: str, facts: dict[str, Any]) -> Response:
        try:
            hook = await self._thread(self.hooks.find, secret, self.source)
        except StoreError as exc:
            log.error("cannot look up a webhook: %s", exc)
            return JSONResponse({"error": "unavailable"}, 503, headers={"Retry-After": "5"})
        if hook is None:
            await self._refuse(None, facts, "denied", "unknown or removed hook secret", key=facts["source_ip"])
            return not_found()
        if (wait := self._take(hook.id)) > 0:
            await self._refuse(hook, facts, "denied", f"over the hook's rate of {self.options.rate} a minute")
            return JSONResponse({"error": "rate_limited"}, 429, headers={"Retry-After": str(max(1, int(wait + 0.999)))})
        try:
            body = await read_body(request, self.options.body_timeout)
            facts["bytes"] = len(body)
            data = parse_body(body, request.headers.get("content-type", ""))
            delivery = read_delivery(data, hook.project_id, self.source)
        except Refused as refused:
            await self._refuse(hook, facts, refused.decision, refused.reason)
            return JSONResponse({"error": refused.reason}, refused.status)
        facts["trigger"] = delivery.trigger
        received = self.wall()
        fields = {
            **delivery.fields,
            "hook_id": hook.id,
            "received_at": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(received))
            + f".{int(received * 1000) % 1000:03d}Z",
        }
        try:
            outcome, seq = await self._thread(
                self.signals.record,
                delivery.dedup_key,
                fields,
                received,
                merge,
                self.options.keep_days * 86400,
                hook.id,
            )
        except StoreError as exc:
            log.error("cannot store a webhook delivery: %s", exc)
            return JSONResponse({"error": "unavailable"}, 503, headers={"Retry-After": "5"})
        targets = {"project_id": hook.project_id, "hook_id": hook.id, "signal": str(seq)}
        targets.update({k: str(fields[k]) for k in ("error_id", "event_id") if fields.get(k)})
        if outcome == "duplicate":
            await self._refuse(
                hook,
                facts,
                "denied",
                f"a replay: signal {seq} already holds this delivery",
                outcome="duplicate",
                targets=targets,
                count=False,
            )
            return JSONResponse({"status": "duplicate", "signal": seq}, 200)
        self.on_signal()
        reason = ("test delivery " if delivery.test else "") + ("stored" if outcome == "new" else "merged into")
        await self._audit(self._record(hook, facts, "allowed", f"{reason} signal {seq}", "ok", targets))
        return JSONResponse({"status": outcome, "signal": seq, "test": delivery.test}, 200)

    # -- the rate, the counters, the audit -----------------------------------------------------------

    def _take(self, hook_id: str) -> float:
        wait, tat = gcra(self.buckets.get(hook_id), self.clock(), self.options.rate, self.options.rate)
        if wait <= 0:
            self.buckets[hook_id] = tat
        return wait

    async def _thread(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await anyio.to_thread.run_sync(fn, *args, limiter=self.limiter)

    async def _count(self, hook_id: str, *, accepted: bool) -> None:
        try:
            await self._thread(lambda: self.hooks.count(hook_id, accepted=accepted))
        except StoreError as exc:
            log.error("cannot count a webhook delivery: %s", exc)

    def _record(
        self,
        hook: Hook | None,
        facts: dict[str, Any],
        decision: str,
        reason: str,
        outcome: str,
        targets: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        return {
            "invocation": uuid.uuid4().hex,
            "principal_id": f"hook:{hook.id}" if hook else "hook:unknown",
            "principal_name": f"{self.source} webhook" + ("" if hook else " (no valid secret)"),
            "client_name": None,
            "client_version": None,
            "transport": "http",
            "tool": f"hook:{self.source}",
            "arguments": redact(facts),
            "backend": self.source,
            "targets": targets or ({"project_id": hook.project_id, "hook_id": hook.id} if hook else {}),
            "decision": decision,
            "reason": reason,
            "phase": "result",
            "outcome": outcome,
            "count": 1,
        }

    async def _refuse(
        self,
        hook: Hook | None,
        facts: dict[str, Any],
        decision: str,
        reason: str,
        *,
        key: str | None = None,
        outcome: str | None = None,
        targets: dict[str, str] | None = None,
        count: bool = True,
    ) -> None:
        outcome = outcome or ("denied" if decision == "denied" else "invalid_argument")
        record = self._record(hook, facts, decision, reason, outcome, targets)
        who = hook.id if hook else f"address:{key or ''}"
        if hook is not None and count and not self.tally.admit((who, reason), record):
            self.refused_counts[hook.id] = self.refused_counts.get(hook.id, 0) + 1
            return
        if hook is None and not self.tally.admit((who, reason), record):
            return
        await self._audit(record)
        if hook is not None and count:
            await self._count(hook.id, accepted=False)

    async def _audit(self, record: dict[str, Any]) -> None:
        try:
            await self._thread(self.audit.append, record)
        except AuditError:
            log.error("the audit log could not record a webhook delivery (%s)", record["reason"])

    async def flush(self, *, everything: bool = False) -> None:
        """Write the tallied refusals whose second has passed (all of them with `everything`)."""
        for record in self.tally.due(everything=everything):
            await self._audit(record)
        counts, self.refused_counts = self.refused_counts, {}
        for hook_id, n in counts.items():
            try:
                await self._thread(lambda h=hook_id, k=n: self.hooks.count(h, accepted=False, n=k))
            except StoreError as exc:
                log.error("cannot count refused webhook deliveries: %s", exc)


async def read_body(request: Request, within: float) -> bytes:
    """The whole body, refused (413) as soon as it is known to exceed MAX_BODY, or (408) when it takes longer than
    `within` seconds to arrive."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise Refused(413, f"the body is larger than {MAX_BODY} bytes")
    chunks: list[bytes] = []
    size = 0
    with anyio.move_on_after(within) as timer:
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY:
                raise Refused(413, f"the body is larger than {MAX_BODY} bytes")
            chunks.append(chunk)
    if timer.cancelled_caught:
        raise Refused(408, f"the body did not arrive within {within:g}s")
    return b"".join(chunks)


def _allowed(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)
