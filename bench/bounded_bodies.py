"""Bounded upstream bodies: peak memory of bugwarden's client against a naive read, on hostile responses.

Each case runs in a fresh child process so that its peak RSS (getrusage) is its own, against `bugwarden
sandbox` in another process over loopback (httpx's in-process ASGI transport would buffer the body itself):
- a 50 MB JSON body, and a gzip bomb (about 300 KB on the wire, 256 MB inflated), from the sandbox's faults;
- `bugwarden` reads through UpstreamClient (refuses past 8 MiB, decompressing in bounded steps);
- `naive` is httpx reading the body whole (`response.json()`), what an unbounded client does.

python bench/bounded_bodies.py
"""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _util import readme_row

CASES = [("50 MB JSON body", False, 50), ("gzip bomb, 256 MB inflated", True, 256)]


def child(kind: str, url: str, gzip: bool, megabytes: int) -> None:
    import anyio
    import httpx

    from bugwarden.backends.errors import BackendError
    from bugwarden.backends.http import UpstreamClient

    httpx.post(f"{url}/_sandbox/faults", json={"oversize_next": 1, "megabytes": megabytes, "gzip": gzip})
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    async def run() -> str:
        headers = {"Authorization": "token sandbox-admin-token"}
        if kind == "bugwarden":
            client = UpstreamClient("BugSnag", url, headers=headers)
            try:
                await client.get_json("/user/organizations")
            except BackendError as exc:
                return type(exc).__name__
            return "read"
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as c:
            try:
                response = await c.get("/user/organizations")
                response.json()
            except httpx.DecodingError:
                return "inflated it, then a checksum error"
            except ValueError:
                return f"read {len(response.content) / 2**20:.0f} MiB, not JSON"
            return f"read {len(response.content) / 2**20:.0f} MiB"

    outcome = anyio.run(run)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{peak - before:.1f}\t{outcome}")


def main() -> None:
    sandbox = subprocess.Popen(
        [sys.executable, "-m", "bugwarden", "sandbox", "--port", "0", "--rate-limit", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert sandbox.stdout is not None
    url = sandbox.stdout.readline().split(": ", 1)[1].strip()
    print("# peak RSS growth while reading a hostile response (each in a fresh process; sandbox over loopback)")
    cells: list[str] = []
    try:
        for label, gzip, megabytes in CASES:
            row = {}
            for kind in ("bugwarden", "naive"):
                out = (
                    subprocess.run(
                        [sys.executable, __file__, "--child", kind, url, str(int(gzip)), str(megabytes)],
                        capture_output=True,
                        text=True,
                        check=True,
                    )
                    .stdout.strip()
                    .split("\t")
                )
                row[kind] = (float(out[0]), out[1])
            (ours, our_outcome), (theirs, their_outcome) = row["bugwarden"], row["naive"]
            print(
                f"{label:28s} bugwarden +{ours:6.1f} MB ({our_outcome}); naive +{theirs:6.1f} MB ({their_outcome}); "
                f"ratio {ours / theirs if theirs else float('nan'):.3f}x"
            )
            cells.append(
                f"{label}: +{ours:.1f} MB peak RSS, {our_outcome} (a naive read: +{theirs:.0f} MB, {their_outcome}, "
                f"{ours / theirs if theirs else float('nan'):.3f}x)"
            )
        readme_row("hostile bodies (`bounded_bodies.py`)", "; ".join(cells))
    finally:
        sandbox.terminate()
        sandbox.wait(10)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], sys.argv[4] == "1", int(sys.argv[5]))
    else:
        main()
