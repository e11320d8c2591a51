"""Store: the PostgreSQL store against the SQLite default, in the same run.

1. Per-call cost of the governed path (token check, call budget, quota ledger, audit record): `list_errors`
   through the in-memory MCP client with the read cache off, so every call also asks the in-process sandbox;
   p50/p99 with 1 client and with 16 concurrent clients, SQLite files vs PostgreSQL on loopback.
2. Audit append throughput with 2 replicas: two processes appending to one chain at once (SQLite: one
   BUGWARDEN_HOME; PostgreSQL: one database), then `audit verify` over the result.

PostgreSQL is a throw-away cluster started here (initdb in a temporary directory, fsync on, loopback).

    python bench/store.py [--calls 200] [--appends 2000]
"""

from __future__ import annotations

import argparse
import dataclasses
import multiprocessing
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
from _inproc import PROJECT, URL
from _util import pct, readme_row
from tests.postgres import cluster

from bugwarden.app import build_server
from bugwarden.config import Caching, Secret, Settings
from bugwarden.guard.audit import AuditLog
from bugwarden.guard.tokens import TokenStore
from bugwarden.sandbox.bugsnag_app import create_bugsnag_app
from bugwarden.sandbox.bugsnag_seed import ADMIN_TOKEN
from bugwarden.store import Store
from bugwarden.store.postgres import PostgresDatabase
from bugwarden.store.schema import Schema


def settings(database_url: str | None) -> Settings:
    return Settings.from_env(
        {},
        bugsnag_token=ADMIN_TOKEN,
        bugsnag_api_url=URL,
        home=tempfile.mkdtemp(prefix="bw-bench-"),
        database_url=database_url,
        caching=Caching(fresh=0),
    )


async def per_call(database_url: str | None, calls: int, clients: int) -> list[float]:
    """Seconds per list_errors call, each call authenticated by a stored token (as stdio with BUGWARDEN_TOKEN)."""
    base = settings(database_url)
    store = Store.open(base)
    _, secret = TokenStore(store.tokens).create("bench", "read")
    store.close()
    srv = build_server(
        dataclasses.replace(base, agent_token=Secret(secret)),
        backend_transport=httpx.ASGITransport(app=create_bugsnag_app(rate_limit=10**9)),
        call_budget=10**6,
    )
    samples: list[float] = []

    async def client(n: int) -> None:
        async with Client(srv) as c:
            for i in range(calls // clients + 5):
                start = time.perf_counter()
                result = await c.call_tool("list_errors", {"project_id": PROJECT, "limit": 5})
                if i >= 5:  # warm-up
                    samples.append(time.perf_counter() - start)
                assert not result.is_error

    async with anyio.create_task_group() as tg:
        for n in range(clients):
            tg.start_soon(client, n)
    srv.close()
    return samples


def _append(database_url: str | None, home: str, count: int, start: Any) -> None:
    start.wait()
    store = Store.open(Settings.from_env({}, home=home, database_url=database_url))
    log = AuditLog(store.audit)
    for n in range(count):
        log.append({"tool": "bench", "n": n})
    store.close()


def append_throughput(database_url: str | None, appends: int) -> tuple[float, str]:
    home = tempfile.mkdtemp(prefix="bw-bench-")
    Store.open(Settings.from_env({}, home=home, database_url=database_url)).close()
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Event()
    procs = [ctx.Process(target=_append, args=(database_url, home, appends // 2, start)) for _ in range(2)]
    for p in procs:
        p.start()
    time.sleep(2.0)  # both replicas imported and waiting
    began = time.perf_counter()
    start.set()
    for p in procs:
        p.join()
    elapsed = time.perf_counter() - began
    store = Store.open(Settings.from_env({}, home=home, database_url=database_url))
    _, verdict = AuditLog(store.audit).verify()
    store.close()
    return appends / elapsed, verdict


def line(label: str, samples: list[float]) -> str:
    return f"{label:34s} p50 {pct(samples, 0.5) * 1000:6.2f} ms  p99 {pct(samples, 0.99) * 1000:6.2f} ms"


async def main(calls: int, appends: int) -> None:
    with cluster(durable=True) as pg:
        url = pg.create_database("bench")
        db = PostgresDatabase(url)
        Schema(db, Store.COMPONENTS).migrate()
        db.close()
        print("# store: per-call cost of list_errors through MCP in memory (read cache off), SQLite vs PostgreSQL")
        cells: list[str] = []
        for clients in (1, 16):
            lite = await per_call(None, calls, clients)
            post = await per_call(url, calls, clients)
            print(line(f"SQLite,     {clients:2d} client(s)", lite))
            print(line(f"PostgreSQL, {clients:2d} client(s)", post))
            print(
                f"ratio PostgreSQL/SQLite at {clients} client(s): p50 {pct(post, 0.5) / pct(lite, 0.5):.2f}x, "
                f"p99 {pct(post, 0.99) / pct(lite, 0.99):.2f}x"
            )
            ms = [pct(xs, q) * 1000 for xs in (lite, post) for q in (0.5, 0.99)]
            cells.append(
                f"{clients} client{'s' if clients > 1 else ''} SQLite p50 {ms[0]:.1f} ms / p99 {ms[1]:.1f} ms vs "
                f"PostgreSQL {ms[2]:.1f} / {ms[3]:.1f} ms ({ms[2] / ms[0]:.2f}x / {ms[3] / ms[1]:.2f}x)"
            )
        print(f"# audit appends, 2 replica processes x {appends // 2} records on one chain")
        chain = pg.create_database("appends")
        db = PostgresDatabase(chain)
        Schema(db, Store.COMPONENTS).migrate()
        db.close()
        lite_rate, lite_ok = append_throughput(None, appends)
        post_rate, post_ok = append_throughput(chain, appends)
        print(f"SQLite (one BUGWARDEN_HOME)        {lite_rate:7.0f} appends/s   verify: {lite_ok}")
        print(f"PostgreSQL (one database)          {post_rate:7.0f} appends/s   verify: {post_ok}")
        print(f"ratio PostgreSQL/SQLite: {post_rate / lite_rate:.2f}x")
        verified = (
            "chain verified after each" if lite_ok.startswith("ok") and post_ok.startswith("ok") else "CHAIN BROKEN"
        )
        readme_row(
            "store (`store.py`, PostgreSQL 15 on loopback, fsync on)",
            "per call through MCP, cache off: "
            + "; ".join(cells)
            + f"; audit appends from 2 replica processes on one chain: SQLite {lite_rate:,.0f}/s, "
            f"PostgreSQL {post_rate:,.0f}/s ({post_rate / lite_rate:.2f}x), {verified}",
        )


if __name__ == "__main__":
    import logging

    logging.disable(logging.WARNING)
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--appends", type=int, default=2000)
    args = parser.parse_args()
    anyio.run(main, args.calls, args.appends)
