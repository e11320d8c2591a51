"""HTTP load: N concurrent MCP clients sharing one token x M `list_errors` each, against `bugwarden demo
--transport http` at its default settings (the sandbox's 30 requests a minute per upstream token, 120 tool
calls a minute per bugwarden token, 16 sessions per token).

Prints failures (the team's target: none), p50/p95/p99 latency, throughput and server RSS, and the ratio of
bugwarden's p50 to a bare MCPServer's trivial tool over the same transport, measured in this run. The
demo's sandbox runs in the server process (its RSS is included). Clients ask for 1 to 4 errors each, so
the upstream sees a few distinct questions, answered once each within bugwarden's 15 s read cache.

    python bench/http_load.py [--clients 16] [--calls 10]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

sys.path.insert(0, str(Path(__file__).parent))
from _util import free_port, pct, readme_row, rss_mb, start_demo, summary

PROJECT = "a7ab71b6e3e6ede0968e4209"


async def run_load(
    url: str, token: str | None, clients: int, calls: int, tool: str, args: dict
) -> tuple[list[float], int, float]:
    latencies: list[float] = []
    errors = 0

    async def agent() -> None:
        nonlocal errors
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with (
            httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(60)) as http,
            Client(streamable_http_client(url, http_client=http)) as client,
        ):
            for n in range(calls):
                start = time.perf_counter()
                result = await client.call_tool(tool, {**args, "limit": 1 + n % 4} if "limit" in args else args)
                latencies.append(time.perf_counter() - start)
                errors += bool(result.is_error)

    started = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for _ in range(clients):
            tg.start_soon(agent)
    return latencies, errors, time.perf_counter() - started


def wait_port(port: int) -> None:
    import socket

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise SystemExit("baseline server did not start")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--clients", default="16")
    args = parser.parse_args()
    bw, url, token = start_demo("--bundle", "read")
    port = free_port()
    bare = subprocess.Popen(
        [sys.executable, str(Path(__file__).parent / "_bare_server.py"), "http", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_port(port)
    start_rss = rss_mb(bw.pid)
    try:
        print(
            f"# http_load: {args.calls} list_errors per client, one token, demo defaults; server pid {bw.pid}; "
            f"{os.cpu_count()} cores; server RSS at start {rss_mb(bw.pid):.0f} MB"
        )
        for n in [int(c) for c in args.clients.split(",")]:
            base, base_err, _ = anyio.run(run_load, f"http://127.0.0.1:{port}/mcp", None, n, args.calls, "ping", {})
            lat, err, wall = anyio.run(
                run_load, url, token, n, args.calls, "list_errors", {"project_id": PROJECT, "limit": 5}
            )
            total = n * args.calls
            ratio = sorted(lat)[len(lat) // 2] / sorted(base)[len(base) // 2]
            print(
                f"N={n:>2} bugwarden list_errors: {summary(lat)}  failures {err}/{total}  "
                f"{total / wall:6.1f} calls/s  server RSS {rss_mb(bw.pid):.0f} MB"
            )
            print(f"N={n:>2} bare MCPServer ping:   {summary(base)}  errors {base_err}/{total}")
            print(f"N={n:>2} ratio p50 bugwarden/bare: {ratio:.2f}x")
        p95 = pct(lat, 0.95)
        readme_row(
            f"HTTP load, {n} clients x {args.calls} `list_errors` on one token, demo defaults (`http_load.py`)",
            f"{err} failures of {total}; p50 {pct(lat, 0.5) * 1000:.0f} ms, p95 "
            + (f"{p95:.1f} s" if p95 >= 1 else f"{p95 * 1000:.0f} ms")
            + " (the sandbox's 30 upstream requests a minute: calls wait for the quota, with progress); "
            f"RSS {start_rss:.0f} → {rss_mb(bw.pid):.0f} MB; p50 {ratio:.1f}x a bare `MCPServer` ping under the "
            "same load",
        )
    finally:
        bw.terminate()
        bare.terminate()
        bw.wait(10)
        bare.wait(10)


if __name__ == "__main__":
    main()
