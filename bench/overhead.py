"""Overhead: one list_errors through MCP (in memory and over stdio) vs the adapter alone vs one raw httpx request.

In memory, all run against the same in-process sandbox, with the 15 s read cache off (every call asks the
upstream) and then at its default (repeated calls are cache hits, but still authenticated, checked and audited);
over stdio, `bugwarden demo` (defaults: cache on) serves the sandbox over loopback TCP in the child. Ratios are
against the raw request.

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
from _util import readme_row

from bugwarden.backends.base import ErrorQuery
from bugwarden.config import Caching


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
    srv, sandbox = server(caching=Caching(fresh=0))  # every call asks the upstream: no 15 s read cache
    headers = {"Authorization": "token sandbox-admin-token", "X-Version": "2"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox), base_url=URL, headers=headers) as raw:
        raw_t = await timed(calls, lambda: raw.get(f"/projects/{PROJECT}/errors", params={"per_page": "20"}))
    backend = srv.runtime.backends[0]
    adapter_t = await timed(calls, lambda: backend.list_errors(PROJECT, ErrorQuery(limit=20)))
    async with Client(srv) as client:
        mcp_t = await timed(calls, lambda: client.call_tool("list_errors", {"project_id": PROJECT, "limit": 20}))
    srv.close()
    cached, _ = server(sandbox)
    async with Client(cached) as client:
        hit_t = await timed(calls, lambda: client.call_tool("list_errors", {"project_id": PROJECT, "limit": 20}))
    cached.close()
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
        ("MCP tool, in memory, cache hit", hit_t),
        ("MCP tool, stdio, cache hit", stdio_t),
    ]:
        print(f"{label:32s} {value * 1000:7.2f} ms   {value / raw_t:5.2f}x raw")
    ms = {
        k: v * 1000
        for k, v in {"raw": raw_t, "adapter": adapter_t, "mcp": mcp_t, "hit": hit_t, "stdio": stdio_t}.items()
    }
    readme_row(
        "one `list_errors`, 20 errors (`overhead.py`)",
        f"raw httpx request {ms['raw']:.2f} ms; adapter {ms['adapter']:.1f} ms ({adapter_t / raw_t:.1f}x, incl. the "
        f"quota ledger in the store); MCP in memory {ms['mcp']:.1f} ms ({mcp_t / raw_t:.0f}x: token, budget, ledger, "
        f"audit record, rendering, the client's schema check); a 15 s cache hit {ms['hit']:.1f} ms; over stdio "
        f"(cache hit) {ms['stdio']:.1f} ms",
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200)
    anyio.run(main, parser.parse_args().calls)
