"""HTTP abuse: memory of `bugwarden demo --transport http` under requests an attacker can send cheaply.

1. 20,000 requests, each with a random bearer token (all refused with 401): no per-token state is kept for
   tokens that do not verify, so the server's RSS stays flat.
2. One valid token opening sessions in a loop (10,000 initialize requests): it keeps at most 16 open (the
   default cap), the rest are refused with 429, RSS stays flat, and another principal (here the demo's
   loopback principal, `--trust-loopback`) still opens a session.

RSS is read from /proc before and after each phase; the first phase's baseline is taken after a warm-up.

    python bench/http_abuse.py [--requests 20000] [--sessions 10000]
"""

from __future__ import annotations

import argparse
import secrets
import sys
import time
from pathlib import Path

import anyio
import httpx

sys.path.insert(0, str(Path(__file__).parent))
from _util import readme_row, rss_mb, start_demo

INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}},
}
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


async def flood(url: str, count: int, header: callable, concurrency: int = 16) -> dict[int, int]:  # type: ignore[valid-type]
    statuses: dict[int, int] = {}
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=concurrency)) as http:

        async def worker(n: int) -> None:
            for _ in range(n):
                r = await http.post(url, json=INIT, headers={**HEADERS, **header()})
                statuses[r.status_code] = statuses.get(r.status_code, 0) + 1

        async with anyio.create_task_group() as tg:
            for _ in range(concurrency):
                tg.start_soon(worker, count // concurrency)
    return statuses


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--sessions", type=int, default=10_000)
    args = parser.parse_args()
    proc, url, token = start_demo("--bundle", "read", "--trust-loopback")
    try:
        anyio.run(flood, url, 500, lambda: {"Authorization": f"Bearer bw_{secrets.token_hex(16)}"})  # warm-up
        before = rss_mb(proc.pid)
        started = time.perf_counter()
        statuses = anyio.run(flood, url, args.requests, lambda: {"Authorization": f"Bearer bw_{secrets.token_hex(16)}"})
        after = rss_mb(proc.pid)
        random_delta, random_statuses = after - before, statuses
        print(
            f"random tokens: {args.requests:,} requests in {time.perf_counter() - started:.1f}s, statuses {statuses}; "
            f"RSS {before:.0f} -> {after:.0f} MB ({after - before:+.1f} MB)"
        )
        before = after
        statuses = anyio.run(flood, url, args.sessions, lambda: {"Authorization": f"Bearer {token}"})
        after = rss_mb(proc.pid)
        print(
            f"one token opening sessions: {args.sessions:,} initialize requests, statuses {statuses}; "
            f"RSS {before:.0f} -> {after:.0f} MB ({after - before:+.1f} MB)"
        )
        other = anyio.run(flood, url, 16, dict, 1)
        print(f"another principal, meanwhile: statuses {other}")
        refused = ", ".join(f"{code}" for code in sorted(statuses) if code != 200) or "none"
        readme_row(
            "HTTP abuse (`http_abuse.py`)",
            f"{args.requests:,} requests with random tokens: "
            + ("all 401" if set(random_statuses) == {401} else f"statuses {random_statuses}")
            + f", RSS {random_delta:+.1f} MB; one token opening {args.sessions:,} sessions: {statuses.get(200, 0)} "
            f"opened, the rest {refused}, RSS {after - before:+.1f} MB, and another principal still opens its "
            f"{other.get(200, 0)}",
        )
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main()
