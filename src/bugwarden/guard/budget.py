"""One call's draw on its token's budget of upstream work (HTTP: per token, shared by every replica).

A call costs one unit when it enters (so a call answered from the cache is not free), and that unit pays
for its first upstream request; every further upstream request it causes, target lookups included, costs
one more. A draw over the budget waits briefly when the wait leaves the call most of its deadline, and is
otherwise refused at once (a `Refusal` the checkpoint records), saying when to retry.

    meter = Meter(budgets, clock=time.time, sleep=anyio.sleep)
    meter.start(principal, deadline, notices)   # the entry unit
    ...                                         # each upstream request: await meter.spend() (CallContext.spend)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from ..backends.call_context import Deadline, wait
from ..store.buckets import CallBudgets
from ..store.waits import in_store_thread
from .errors import Refusal
from .notices import CallNotices
from .principal import Principal


class Meter:
    def __init__(
        self,
        budgets: CallBudgets | None,
        *,
        wall: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
    ) -> None:
        self.budgets = budgets
        self.wall = wall
        self.sleep = sleep
        self.key: str | None = None
        self.deadline: Deadline | None = None
        self.notices: CallNotices | None = None
        self.prepaid = 0
        self.drawn = 0

    async def start(self, principal: Principal, deadline: Deadline, notices: CallNotices) -> None:
        """Charge the call's entry unit (raises Refusal when the budget is spent); it pays the first request."""
        self.key, self.deadline, self.notices = f"calls:{principal.id}", deadline, notices
        await self._draw()
        self.prepaid = 1

    async def spend(self) -> None:
        """One upstream request is about to be sent (raises Refusal when the budget is spent)."""
        if self.key is None:
            return  # not started: the caller is not known yet (discovery before authentication)
        if self.prepaid:
            self.prepaid -= 1
            return
        await self._draw()

    async def _draw(self) -> None:
        if self.budgets is None or self.key is None or self.deadline is None or self.notices is None:
            return
        max_wait = self.deadline.remaining() / 2
        wait_for = await in_store_thread(self.budgets.take, self.key, self.wall(), max_wait)
        if wait_for > max_wait:
            seconds = max(1, int(wait_for + 0.999))
            await self.notices.notice("warning", f"this token's budget is used up: retry in {seconds}s")
            raise Refusal(
                "denied",
                f"this agent's token has used its budget of {self.budgets.limit} upstream requests a minute (every "
                f"call counts as at least one): retry in {seconds}s",
                outcome="rate_limited",
            )
        self.drawn += 1
        if wait_for > 0:
            await self.notices.notice("info", f"waiting {wait_for:.0f}s for this token's call budget")
            await wait(wait_for, "this token's call budget", self.sleep, self.notices)
