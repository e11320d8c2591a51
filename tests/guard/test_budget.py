"""The budget counts upstream work, not calls: every request a call causes, target lookups included, draws from
the token's budget, and a refusal for a spent budget is audited (review 3, item 4)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from starlette.applications import Starlette

from bugwarden.config import Timeouts
from bugwarden.guard.principal import Principal
from bugwarden.guard.scopes import BUNDLES
from tests.conftest import FakeClock, Servers, bugport_settings
from tests.snapshot import text_of

pytestmark = pytest.mark.anyio
READER = Principal(id="budget-reader", name="budget-reader", scopes=BUNDLES["read"])


def timed(servers: Servers, clock: FakeClock, **kw: Any) -> Any:
    return servers(upstream_options={"sleep": clock.sleep, "clock": clock, "wall_clock": clock}, **kw)


@pytest.mark.parametrize("deadline", [45.0, 4.0], ids=["lookups wait their turn", "lookups are refused"])
async def test_lookups_of_made_up_ids_are_budgeted_and_the_refusals_audited(
    servers: Servers, bugport_sandbox: Starlette, home: Path, deadline: float
) -> None:
    clock = FakeClock()
    settings = bugport_settings(home, timeouts=Timeouts(call_deadline=deadline))
    server = timed(servers, clock, principal=READER, settings=settings, bugport=bugport_sandbox, call_budget=10)
    answers = []
    async with Client(server) as c:
        for _ in range(40):
            answers.append(await c.call_tool("get_error", {"error_id": f"bugport:{uuid.uuid4()}"}))
    sent = bugport_sandbox.state.control.log  # the lookups, and the first call's discovery of the bridge
    lookups = [r for r in sent if "/bugs/" in r.path]
    records = [r for r in server.audit.records() if r["phase"] == "result"]
    assert len(records) == 40 and all(a.is_error for a in answers)  # every call recorded once
    if deadline > 40:  # a minute's worth at once, then one request every 6 s: the rest waited their turn
        assert len(lookups) == 40 and sum(clock.slept) == pytest.approx((len(sent) - 10) * 6.0)
    else:  # no wait fits: the budget, not the number of calls, bounds the upstream work
        assert len(sent) == 10 and clock.slept == []
        spent = [a for a in answers if "budget of 10 upstream requests a minute" in text_of(a)]
        limited = [r for r in records if r["outcome"] == "rate_limited"]
        assert len(spent) == len(limited) == 40 - len(lookups) and all(r["decision"] == "denied" for r in limited)


async def test_a_call_is_charged_for_each_request_it_causes(servers: Servers, sandbox: Starlette) -> None:
    clock = FakeClock()
    server = timed(servers, clock, principal=READER, call_budget=1000)
    async with Client(server) as c:
        await c.call_tool("list_projects", {})
        cold = len(sandbox.state.control.log)
        await c.call_tool("list_projects", {})  # from the cache: no request, one unit
    with server.store.state.transaction() as tx:
        row = tx.execute("SELECT tat FROM buckets WHERE key = ?", ("calls:budget-reader",)).fetchone()
    interval = 60.0 / 1000
    assert cold > 1
    assert float(row[0]) == pytest.approx(clock() + interval * (max(cold, 1) + 1))


async def test_a_caller_whose_own_budget_is_spent_does_not_refuse_the_callers_sharing_its_request(
    sandbox: Starlette, home: Path
) -> None:
    """Identical reads share one upstream request; when its first caller is refused by its own token's budget,
    the others ask for themselves instead of hearing another agent's refusal."""
    import anyio
    import anyio.lowlevel
    import httpx

    from bugwarden.backends.bugsnag import BugsnagBackend
    from bugwarden.backends.call_context import CallContext
    from bugwarden.guard.errors import Refusal
    from tests.conftest import make_settings

    backend = BugsnagBackend(make_settings(home), transport=httpx.ASGITransport(app=sandbox))
    joined = anyio.Event()
    results: list[Any] = []

    class Spent:
        async def spend(self) -> None:
            await joined.wait()
            raise Refusal("denied", "this agent's token has used its budget", outcome="rate_limited")

    async def first() -> None:
        with pytest.raises(Refusal):
            await backend.bound(CallContext(meter=Spent())).list_projects()

    async def second() -> None:
        await anyio.lowlevel.checkpoint()  # after the first registered its request
        joined.set()
        results.append(await backend.list_projects())

    async with anyio.create_task_group() as tg:
        tg.start_soon(first)
        tg.start_soon(second)
    await backend.aclose()
    assert results and results[0]
