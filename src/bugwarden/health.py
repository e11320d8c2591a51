"""The container's health check, matched to what the container serves: `python -m bugwarden.health`.

It reads the command line of the container's main process (`/proc/1/cmdline`). When that is `serve` or `demo`
with `--transport http`, it asks `GET /healthz` on the port given (8000 by default) and is healthy on a 200.
Any other command (stdio, where one client owns the container's stdin, or a one-off like `token list`) has
nothing to probe: running is healthy. Exit 0 when healthy, 1 when not; one line on stdout says why.

Imports nothing of bugwarden, so it starts fast.
"""

from __future__ import annotations

import sys
import urllib.request
from collections.abc import Sequence
from pathlib import Path

SERVING = ("serve", "demo")
DEFAULT_PORT = 8000


def probe_url(args: Sequence[str]) -> str | None:
    """The /healthz URL a bugwarden command line serves, or None when it serves no HTTP (or on a port picked at
    random, `--port 0`, which cannot be known from outside)."""
    words = list(args)
    command = next((i for i, word in enumerate(words) if word in SERVING), None)
    if command is None:
        return None
    options = _options(words[command + 1 :])
    if options.get("--transport", "stdio") != "http":
        return None
    port = options.get("--port", str(DEFAULT_PORT))
    if not port.isdigit() or int(port) == 0:
        return None
    host = options.get("--host", "127.0.0.1")
    if host in ("0.0.0.0", "", "::"):  # noqa: S104 - listening everywhere: loopback reaches it
        host = "127.0.0.1" if host != "::" else "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/healthz"


def _options(words: list[str]) -> dict[str, str]:
    """`--name value` and `--name=value` pairs (the last one wins, as with argparse)."""
    out: dict[str, str] = {}
    for i, word in enumerate(words):
        if not word.startswith("--"):
            continue
        if "=" in word:
            name, value = word.split("=", 1)
            out[name] = value
        elif i + 1 < len(words):
            out[word] = words[i + 1]
    return out


def check(args: Sequence[str], timeout: float = 2.0) -> tuple[bool, str]:
    """(healthy, why) for a container whose main process runs `args`."""
    url = probe_url(args)
    if url is None:
        return True, "nothing to probe (not serving HTTP): running is healthy"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - a loopback URL we built
            status = response.status
    except OSError as exc:
        return False, f"{url}: {exc}"
    return status == 200, f"{url}: {status}"


def main(cmdline: Path = Path("/proc/1/cmdline")) -> int:
    try:
        args = [a for a in cmdline.read_bytes().decode(errors="replace").split("\0") if a]
    except OSError as exc:
        sys.stdout.write(f"cannot read {cmdline}: {exc}\n")
        return 1
    healthy, why = check(args)
    sys.stdout.write(why + "\n")
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
