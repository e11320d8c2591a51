"""Cold start: spawn to the first `tools/list` answer over stdio, bugwarden vs a bare MCPServer with one tool.

Both are spawned the same way (`python -m ...` with the handshake written up front) in the same run;
the median of several runs is compared. Target: bugwarden within 1.25x of the bare server.

    python bench/cold_start.py [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _util import readme_row

HANDSHAKE = "".join(
    json.dumps(m) + "\n"
    for m in [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "bench", "version": "1"},
            },
        },
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
    ]
)


def first_tools_list(cmd: list[str], env: dict[str, str]) -> float:
    """Seconds from spawn until the tools/list answer is read."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True
    )
    assert proc.stdin and proc.stdout
    proc.stdin.write(HANDSHAKE)
    proc.stdin.flush()
    for line in proc.stdout:
        if json.loads(line).get("id") == 2:
            break
    elapsed = time.perf_counter() - start
    proc.kill()
    proc.wait()
    proc.stdin.close()
    proc.stdout.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    env = {
        **os.environ,
        "BUGSNAG_AUTH_TOKEN": "bench-not-used",
        "BUGSNAG_API_URL": "http://127.0.0.1:9",
        "BUGWARDEN_HOME": "/tmp/bw-bench-cold",
    }
    # An installed wheel ships compiled bytecode; an editable checkout (with PYTHONDONTWRITEBYTECODE set, as on
    # this machine) would otherwise recompile every module on every start. Compile both sides the same way.
    root = Path(__file__).parents[1]
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(root / "src"), str(root / "bench")], check=True)
    bare = [sys.executable, str(Path(__file__).parent / "_bare_server.py")]
    ours = [sys.executable, "-m", "bugwarden", "serve"]
    for cmd in (bare, ours):  # warm the OS page cache once for both
        first_tools_list(cmd, env)
    b: list[float] = []
    o: list[float] = []
    for _ in range(args.runs):  # interleaved, so drift in machine load hits both alike
        b.append(first_tools_list(bare, env))
        o.append(first_tools_list(ours, env))
    print(f"# cold start, spawn -> first tools/list over stdio, median of {args.runs}")
    print(f"bare MCPServer (1 tool):  {statistics.median(b) * 1000:6.0f} ms  (min {min(b) * 1000:.0f})")
    print(f"bugwarden serve:          {statistics.median(o) * 1000:6.0f} ms  (min {min(o) * 1000:.0f})")
    print(f"ratio bugwarden/bare:     {statistics.median(o) / statistics.median(b):.2f}x (target <= 1.25x)")
    bare_ms, ours_ms = statistics.median(b) * 1000, statistics.median(o) * 1000
    readme_row(
        "cold start, spawn to first `tools/list` over stdio (`cold_start.py`)",
        f"{ours_ms:.0f} ms vs {bare_ms:.0f} ms for a bare `MCPServer` with one tool: **{ours_ms / bare_ms:.2f}x**",
    )


if __name__ == "__main__":
    main()
