"""What one tool call lends the upstream requests it makes: a deadline, its token's budget, a record of the
statuses seen and of what the answer leaves out, and a listener that hears about waits and notable events (the
checkpoint turns those into MCP progress notifications and log messages).

The checkpoint builds one `CallContext` per call and hands it down explicitly: a backend bound to it
(`Backend.bound`) passes it to its upstream client, which charges, times and records every request against it.
Concurrent calls hold different contexts, so they never see each other's deadline, budget or listener. A backend
used outside a call (the CLI, `doctor`) works with a detached context: no budget, the client's own deadline, and
nothing recorded.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

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


class Meter(Protocol):
    """Draws one upstream request from the calling token's budget (raises when it is spent)."""

    async def spend(self) -> None: ...


@dataclass(slots=True)
class CallContext:
    """One call's share of the upstream: its deadline, budget meter and listener, and what it has seen."""

    deadline: Deadline | None = None
    """None: each request takes the client's own call deadline."""
    meter: Meter | None = None
    listener: Listener | None = None
    statuses: list[int] = field(default_factory=list)
    """The status of every upstream response this call saw (the audit record keeps the worst)."""
    caveats: list[str] = field(default_factory=list)
    """What the answer leaves out or could not check, in bugwarden's own words, said once each."""
    keeps: bool = True
    """False for the detached context of a backend used outside any call: it records nothing."""

    @classmethod
    def detached(cls) -> CallContext:
        return cls(keeps=False)

    async def spend(self) -> None:
        """An upstream request is about to go: draw it from this call's budget, if the call has one."""
        if self.meter is not None:
            await self.meter.spend()

    def seen(self, status: int) -> None:
        if self.keeps:
            self.statuses.append(status)

    def requests_made(self) -> int:
        """How many upstream responses this call has seen so far."""
        return len(self.statuses)

    def caveat(self, message: str) -> None:
        """Note something the answer of this call leaves out (said once per call); our words only, never upstream
        text."""
        if self.keeps and message not in self.caveats:
            self.caveats.append(message)

    async def notice(self, level: Level, message: str) -> None:
        """Tell this call's listener, if any."""
        if self.listener is not None:
            await self.listener.notice(level, message)

    async def wait(
        self, seconds: float, reason: str, sleep: Callable[[float], Awaitable[None]], every: float = 2.0
    ) -> None:
        """Sleep `seconds`, telling the listener how long is left at least every `every` seconds."""
        await wait(seconds, reason, sleep, self.listener, every)


async def wait(
    seconds: float,
    reason: str,
    sleep: Callable[[float], Awaitable[None]],
    listener: Listener | None,
    every: float = 2.0,
) -> None:
    """Sleep `seconds`, telling `listener` (if any) how long is left at least every `every` seconds."""
    waited = 0.0
    while waited < seconds:
        if listener is not None:
            await listener.waiting(reason, waited, seconds)
        step = min(every, seconds - waited)
        await sleep(step)
        waited += step
