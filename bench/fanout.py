"""Fan-out: get_bug_context (four upstream requests once the project listing is cached, run concurrently) with
100 ms of injected upstream latency, vs one upstream request with the same latency. Target: at most 1.5x.

    python bench/fanout.py [--runs 10]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import anyio
from mcp import Client

sys.path.insert(0, str(Path(__file__).parent))
from _inproc import ERROR, PROJECT, server
from _util import readme_row

from bugwarden.config import Caching


async def main(runs: int) -> None:
    srv, sandbox = server(caching=Caching(fresh=0))  # every call asks the upstream: no 15 s read cache
    backend = srv.runtime.backends[0]
    async with Client(srv) as client:
        await client.call_tool("get_bug_context", {"project_id": PROJECT, "error_id": ERROR})  # warm caches
        sandbox.state.control.faults.latency = 0.1
        single, context = [], []
        for _ in range(runs):
            start = time.perf_counter()
            await backend.get_error(PROJECT, ERROR)
            single.append(time.perf_counter() - start)
            before = len(sandbox.state.control.log)
            start = time.perf_counter()
            result = await client.call_tool("get_bug_context", {"project_id": PROJECT, "error_id": ERROR})
            context.append(time.perf_counter() - start)
            assert not result.is_error
            requests = len(sandbox.state.control.log) - before
    s, c = statistics.median(single), statistics.median(context)
    print(f"# fan-out with 100 ms upstream latency, median of {runs}")
    print(f"one upstream request:          {s * 1000:7.1f} ms")
    print(f"get_bug_context ({requests} requests): {c * 1000:7.1f} ms")
    print(f"ratio: {c / s:.2f}x (target <= 1.5x; sequential calls would take about {requests}x)")
    readme_row(
        "fan-out, `get_bug_context` with 100 ms upstream latency (`fanout.py`)",
        f"{c * 1000:.0f} ms vs {s * 1000:.0f} ms for one request: **{c / s:.2f}x** "
        f"(its {requests} requests run concurrently)",
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    anyio.run(main, parser.parse_args().runs)
