"""What one tool call lends the upstream requests it makes: a deadline, a record of the statuses
seen, and a listener that hears about waits and notable events (the checkpoint turns those into
MCP progress notifications and log messages).

Everything here is a context variable, so concurrent calls never see each other's deadline or
listener, and the upstream client needs no extra parameters to honour them.
"""

from __future__ import annotations

import contextvars
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from .errors import failure_words

__all__ = ["failure_words"]

Level = Literal["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"]


@dataclass(frozen=True, slots=True)
class Deadline:
    """When a tool call's time budget runs out, on the clock the upstream clients use."""

    at: float
    clock: Callable[[], float]

    def remaining(self) -> float:
        return self.at - self.clock()


class Listener(Protocol):
    """Hears what a call is doing while it runs. Messages are bugwarden's own words: never upstream text."""

    async def waiting(self, reason: str, waited: float, total: float) -> None:
        """A wait is in progress: `waited` of `total` seconds, for `reason` ("BugSnag's rate limit")."""
        ...

    async def notice(self, level: Level, message: str) -> None:
        """Something worth a log line happened (a retry, a degraded answer, a stale cache entry served)."""
        ...


_deadline: contextvars.ContextVar[Deadline | None] = contextvars.ContextVar("bugwarden_deadline", default=None)
_statuses: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar("bugwarden_statuses", default=None)
_listener: contextvars.ContextVar[Listener | None] = contextvars.ContextVar("bugwarden_listener", default=None)
_caveats: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("bugwarden_caveats", default=None)


class Meter(Protocol):
    """Draws one upstream request from the calling token's budget (raises when it is spent)."""

    async def spend(self) -> None: ...


_meter: contextvars.ContextVar[Meter | None] = contextvars.ContextVar("bugwarden_meter", default=None)


def set_meter(meter: Meter | None) -> contextvars.Token[Meter | None]:
    """Charge every upstream request made in this context (target lookups included) to `meter`."""
    return _meter.set(meter)


def reset_meter(token: contextvars.Token[Meter | None]) -> None:
    _meter.reset(token)


async def spend() -> None:
    """An upstream request is about to go: draw it from this call's budget, if the call has one."""
    if (meter := _meter.get()) is not None:
        await meter.spend()


def set_deadline(deadline: Deadline) -> contextvars.Token[Deadline | None]:
    """Give every upstream request made in this context one shared deadline (a tool call's budget)."""
    return _deadline.set(deadline)


def reset_deadline(token: contextvars.Token[Deadline | None]) -> None:
    _deadline.reset(token)


def deadline() -> Deadline | None:
    return _deadline.get()


def record_statuses() -> list[int]:
    """Collect the status of every upstream response in this context (for the audit record)."""
    statuses: list[int] = []
    _statuses.set(statuses)
    return statuses


def seen(status: int) -> None:
    if (statuses := _statuses.get()) is not None:
        statuses.append(status)


def requests_made() -> int | None:
    """How many upstream responses this context has seen so far (None outside a recorded call)."""
    statuses = _statuses.get()
    return None if statuses is None else len(statuses)


def record_caveats() -> list[str]:
    """Collect what an answer in this context leaves out or could not check (a listing cut short), in
    bugwarden's own words, for the caller to append to the answer."""
    caveats: list[str] = []
    _caveats.set(caveats)
    return caveats


def caveat(message: str) -> None:
    """Note something the answer of this call leaves out (said once per call); our words only, never upstream
    text."""
    if (caveats := _caveats.get()) is not None and message not in caveats:
        caveats.append(message)


def set_listener(listener: Listener | None) -> contextvars.Token[Listener | None]:
    """Who hears about waits and notable events in this context."""
    return _listener.set(listener)


def reset_listener(token: contextvars.Token[Listener | None]) -> None:
    _listener.reset(token)


async def notice(level: Level, message: str) -> None:
    """Tell this call's listener, if any."""
    if (listener := _listener.get()) is not None:
        await listener.notice(level, message)


async def wait(seconds: float, reason: str, sleep: Callable[[float], Awaitable[None]], every: float = 2.0) -> None:
    """Sleep `seconds`, telling the listener how long is left at least every `every` seconds."""
    listener = _listener.get()
    waited = 0.0
    while waited < seconds:
        if listener is not None:
            await listener.waiting(reason, waited, seconds)
        step = min(every, seconds - waited)
        await sleep(step)
        waited += step
