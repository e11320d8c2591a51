"""Signals: how soon a subscribed client hears of a new error, and what `list_signals` saves against `list_errors`.

1. Delivery to notification, one process: a client subscribed (`subscriptions/listen`) to a project's signals
   resource on a bugwarden HTTP server; the sandbox raises a new error and POSTs BugSnag's two deliveries to the
   server's webhook; the time from the raise (the first delivery leaves then) to the client receiving
   `notifications/resources/updated`. p50/p99.
2. The same across replicas: two servers on one PostgreSQL database (a throw-away cluster, loopback), the
   webhook pointed at the first, the subscriber on the second (the second polls the store every 0.25 s).
3. "What broke in the last hour?" asked both ways through the in-memory MCP client: `list_signals since=1h`
   against `list_errors since=1h` (read cache off, as when the question is asked now and again): time per call
   and upstream requests per call.
4. `/mcp` under a flood of deliveries: an agent's `list_projects` (a cache hit) alone, then while 2 processes
   POST deliveries to one hook as fast as they can (past its rate: refused).

    python bench/signals.py [--rounds 30] [--calls 50] [--no-postgres]
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
import httpx
from mcp import Client

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1]))
from _util import pct, readme_row
from tests.conftest import API_PROJECT, make_settings
from tests.test_http import mcp_client, serving, token

from bugwarden.app import build_server
from bugwarden.config import Caching
from bugwarden.guard.principal import local_principal
from bugwarden.hooks.feed import POLL_INTERVAL
from bugwarden.sandbox.bugsnag_app import create_bugsnag_app
from bugwarden.store import Store
from bugwarden.store.hooks import HookStore

SIGNALS = f"bugsnag://projects/{API_PROJECT}/signals"


async def _raise(sandbox: Any, deliveries: list[int] | None = None) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox), base_url="http://sandbox.test") as c:
        response = await c.post(f"/_sandbox/projects/{API_PROJECT}/raise", json={})
    expected = [200, 200] if deliveries is None else deliveries
    assert response.status_code == 201 and response.json()["deliveries"] == expected, response.text


async def notification_latency(home: Path, rounds: int, database_url: str | None) -> list[float]:
    sandbox = create_bugsnag_app(rate_limit=1_000_000)
    settings = {"database_url": database_url} if database_url else {}
    if database_url:
        from tests.test_replicas import issue

        _, secret = issue(home, database_url, "read")
    else:
        _, secret = token(home, "read")
    store = Store.open(make_settings(home, **settings))
    _, hook_secret = HookStore(store.hooks).create(API_PROJECT)
    store.close()
    latencies: list[float] = []
    async with (
        serving(sandbox, home, settings=settings, rate_limit=None) as (url_a, _),
        serving(sandbox, home, settings=settings, rate_limit=None) as (url_b, _),
    ):
        subscriber = url_b if database_url else url_a
        sandbox.state.control.hooks = [f"{url_a}/hooks/bugsnag/{hook_secret}"]
        async with mcp_client(subscriber, secret) as client, client.listen(resource_subscriptions=[SIGNALS]) as sub:
            arrived: list[float] = []

            async def hear() -> None:
                async for _ in sub:
                    arrived.append(time.perf_counter())

            async with anyio.create_task_group() as tg:
                tg.start_soon(hear)
                for _ in range(rounds):
                    started = time.perf_counter()
                    await _raise(sandbox)  # returns once both deliveries were answered
                    with anyio.fail_after(10):
                        while not any(t >= started for t in arrived):  # noqa: ASYNC110 - another task fills it
                            await anyio.sleep(0.001)
                    latencies.append(min(t for t in arrived if t >= started) - started)
                    # The second delivery's announcement drains before the next round, which starts at a random point
                    # of the other replicas' poll cycle.
                    await anyio.sleep(0.6 + random.random() * POLL_INTERVAL)
                tg.cancel_scope.cancel()
    return latencies


async def same_question(home: Path, calls: int) -> dict[str, tuple[list[float], float]]:
    sandbox = create_bugsnag_app(rate_limit=1_000_000)
    server = build_server(
        make_settings(home, caching=Caching(ttl=0, fresh=0, stale_for=0)),
        principal=local_principal("read"),
        backend_transport=httpx.ASGITransport(app=sandbox),
    )
    results: dict[str, tuple[list[float], float]] = {}
    try:
        async with Client(server) as client:
            for _ in range(3):
                await _raise(sandbox, [])  # no hook here: the signals come from the store below
            _store_signals(server, 3)
            for tool in ("list_signals", "list_errors"):
                await client.call_tool(tool, {"project_id": API_PROJECT, "since": "1h"})  # warm
                before = len(sandbox.state.control.log)
                times = []
                for _ in range(calls):
                    started = time.perf_counter()
                    result = await client.call_tool(tool, {"project_id": API_PROJECT, "since": "1h"})
                    times.append(time.perf_counter() - started)
                    assert not result.is_error
                results[tool] = (times, (len(sandbox.state.control.log) - before) / calls)
    finally:
        server.close()
    return results


async def mcp_under_flood(home: Path, calls: int) -> tuple[list[float], list[float], int]:
    """`list_projects` (answered from the read cache) latency alone, then while 2 processes flood one hook's URL
    with deliveries as fast as they can; and how many flood deliveries were sent meanwhile."""
    sandbox = create_bugsnag_app(rate_limit=1_000_000)
    _, secret = token(home, "read")
    store = Store.open(make_settings(home))
    _, hook_secret = HookStore(store.hooks).create(API_PROJECT)
    store.close()
    async with serving(sandbox, home, rate_limit=None) as (url, _), mcp_client(url, secret) as client:
        await client.call_tool("list_projects", {})

        async def timed() -> list[float]:
            times = []
            for _ in range(calls):
                started = time.perf_counter()
                await client.call_tool("list_projects", {})
                times.append(time.perf_counter() - started)
            return times

        alone = await timed()
        stop = multiprocessing.Event()
        count = multiprocessing.Value("i", 0)
        target = f"{url}/hooks/bugsnag/{hook_secret}"
        flooders = [multiprocessing.Process(target=_flood, args=(target, task, stop, count)) for task in range(2)]
        for process in flooders:
            process.start()
        await anyio.sleep(1.0)  # the flood is on
        try:
            flooded = await timed()
        finally:
            stop.set()
            for process in flooders:
                process.join(timeout=10)
        sent = count.value
    return alone, flooded, sent


def _flood(url: str, task: int, stop: Any, count: Any) -> None:
    """A flooding client in a process of its own: POST deliveries back to back until told to stop."""
    body = '{"project": {"id": "%s"}, "trigger": {"type": "projectSpiking", "rate": %d}}'
    with httpx.Client(timeout=30) as http:
        n = 0
        while not stop.is_set():
            n += 1
            payload = body % (API_PROJECT, task * 1_000_000 + n)
            http.post(url, content=payload, headers={"Content-Type": "application/json"})
            with count.get_lock():
                count.value += 1


def _store_signals(server: Any, n: int) -> None:
    from bugwarden.hooks.payload import merge, read_delivery
    from bugwarden.store.signals import SignalStore

    for i in range(n):
        body = {
            "project": {"id": API_PROJECT},
            "trigger": {"type": "firstException", "message": "New unhandled error"},
            "error": {"id": f"{i:024x}", "errorId": f"{i + 99:024x}", "exceptionClass": "KeyError", "message": "x"},
        }
        delivery = read_delivery(body, API_PROJECT)
        fields = {**delivery.fields, "hook_id": "bench", "received_at": "2026-12-03T00:00:00.000Z"}
        SignalStore(server.store.hooks).record(delivery.dedup_key, fields, time.time(), merge, 86400)


def line(label: str, values: list[float]) -> str:
    return f"{label:<44} p50 {pct(values, 0.5) * 1000:7.1f} ms   p99 {pct(values, 0.99) * 1000:7.1f} ms"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        one = await notification_latency(Path(tmp) / "one", args.rounds, None)
        print(line("delivery -> notification, one process", one))
        two: list[float] = []
        if not args.no_postgres:
            from tests.postgres import cluster

            with cluster() as pg:
                url = pg.create_database("bench_signals")
                from bugwarden.store.postgres import PostgresDatabase
                from bugwarden.store.schema import Schema

                db = PostgresDatabase(url)
                Schema(db, Store.COMPONENTS).migrate()
                db.close()
                two = await notification_latency(Path(tmp) / "two", args.rounds, url)
            print(line("delivery -> notification, across replicas", two))
        asked = await same_question(Path(tmp) / "ask", args.calls)
        alone, flooded, sent = await mcp_under_flood(Path(tmp) / "flood", args.calls)
    print(line("/mcp list_projects, no flood", alone))
    print(line(f"/mcp list_projects, 2 processes flooding ({sent} sent)", flooded))
    for tool, (times, upstream) in asked.items():
        print(line(f"{tool} since=1h ({upstream:.1f} upstream req/call)", times))
    ratio = pct(asked["list_errors"][0], 0.5) / pct(asked["list_signals"][0], 0.5)
    print(f"list_signals answers 'what is new' {ratio:.1f}x faster at p50, with no upstream request")

    def ms(values: list[float], q: float) -> str:
        return f"{pct(values, q) * 1000:.0f} ms"

    cells = [
        f"sandbox raise → subscriber's `notifications/resources/updated`: one process p50 {ms(one, 0.5)} / "
        f"p99 {ms(one, 0.99)}"
    ]
    if two:
        cells.append(f"subscriber on a second replica sharing PostgreSQL p50 {ms(two, 0.5)} / p99 {ms(two, 0.99)}")
    signals_ms, signals_up = asked["list_signals"]
    errors_ms, errors_up = asked["list_errors"]
    cells.append(
        f"`list_signals` p50 {ms(signals_ms, 0.5)} with {signals_up:.0f} upstream requests vs `list_errors` "
        f"{ms(errors_ms, 0.5)} with {errors_up:.1f} (**{ratio:.1f}x**)"
    )
    cells.append(
        f"`/mcp` p50/p99 {ms(alone, 0.5)}/{ms(alone, 0.99)} alone, {ms(flooded, 0.5)}/{ms(flooded, 0.99)} "
        "while 2 processes flood a hook's URL"
    )
    readme_row("signals (`signals.py`)", "; ".join(cells))


if __name__ == "__main__":
    anyio.run(main)
