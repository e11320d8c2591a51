"""Overhead: one list_errors through MCP (in memory and over stdio) vs the adapter alone vs one raw httpx request.

In memory, all three run against the same in-process sandbox; over stdio, `bugwarden demo` serves the sandbox
over loopback TCP in the child, so its figure includes a real socket. Ratios are against the raw request.

    python bench/overhead.py [--calls 200]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio
import httpx
from mcp import Client, StdioServerParameters

sys.path.insert(0, str(Path(__file__).parent))
from _inproc import PROJECT, URL, server

from bugwarden.backends.base import ErrorQuery


async def timed(n: int, call: Callable[[], Awaitable[object]]) -> float:
    for _ in range(10):
        await call()
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


async def main(calls: int) -> None:
    srv, sandbox = server()
    headers = {"Authorization": "token sandbox-admin-token", "X-Version": "2"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox), base_url=URL, headers=headers) as raw:
        raw_t = await timed(calls, lambda: raw.get(f"/projects/{PROJECT}/errors", params={"per_page": "20"}))
    backend = srv.runtime.backend()
    adapter_t = await timed(calls, lambda: backend.list_errors(PROJECT, ErrorQuery(limit=20)))
    async with Client(srv) as client:
        mcp_t = await timed(calls, lambda: client.call_tool("list_errors", {"project_id": PROJECT, "limit": 20}))
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "bugwarden", "demo", "--rate-limit", "1000000000", "--no-bugport"]
    )
    async with Client(params) as client:
        stdio_t = await timed(calls // 2, lambda: client.call_tool("list_errors", {"project_id": PROJECT, "limit": 20}))
    print(f"# overhead of one list_errors (20 errors), median of {calls}")
    for label, value in [
        ("raw httpx request (ASGI)", raw_t),
        ("adapter list_errors", adapter_t),
        ("MCP tool, in memory", mcp_t),
        ("MCP tool, stdio + loopback TCP", stdio_t),
    ]:
        print(f"{label:32s} {value * 1000:7.2f} ms   {value / raw_t:5.2f}x raw")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200)
    anyio.run(main, parser.parse_args().calls)
