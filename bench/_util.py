"""Small helpers the benchmarks share: percentiles, a free port, a subprocess's resident memory, the demo."""

from __future__ import annotations

import re
import socket
import statistics
import subprocess
import sys
from pathlib import Path

README_ROW = "README\t"
"""Prefix of the lines `readme_row` prints; `bench/report` collects them into the README's performance table."""


def readme_row(benchmark: str, result: str) -> None:
    """Print this run's row of the README's performance table (`bench/report` rewrites the table from these).
    `benchmark` names the script in backticks, e.g. "fan-out (`fanout.py`)"."""
    script = Path(sys.argv[0]).name
    if f"`{script}`" not in benchmark:
        raise ValueError(f"a README row names its script: add `{script}` to {benchmark!r}")
    print(f"{README_ROW}{benchmark}\t{result}", flush=True)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summary(values: list[float]) -> str:
    return (
        f"p50 {pct(values, 0.5) * 1000:7.1f} ms  p95 {pct(values, 0.95) * 1000:7.1f} ms  "
        f"p99 {pct(values, 0.99) * 1000:7.1f} ms  mean {statistics.fmean(values) * 1000:7.1f} ms"
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_demo(*flags: str) -> tuple[subprocess.Popen[str], str, str]:
    """`bugwarden demo --transport http` on a free port with `flags`: (process, MCP URL, demo token)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bugwarden", "demo", "--transport", "http", "--port", "0", *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout
    token_line, url_line = proc.stdout.readline(), proc.stdout.readline()
    token, url = re.search(r"(bw_\S+)", token_line), re.search(r"mcp: (http://\S+)", url_line)
    if token is None or url is None:
        proc.kill()
        raise SystemExit(f"the demo did not start: {token_line}{url_line}")
    return proc, url.group(1), token.group(1)
