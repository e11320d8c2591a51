"""Quota: a scripted 30-call triage session under BugSnag's 30-requests-a-minute limit.

Runs the same session twice in this process against sandboxes limited to 30 requests a minute per
token: once with bugwarden's defaults (TTL cache, coalescing, pacing, Retry-After retries), once with
those turned off (no cache, no pacing, no retries: a naive client). Time is simulated, so minutes of
pacing cost no real waiting: both runs share one fake clock design and report simulated minutes.

    python bench/quota.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import anyio
from mcp import Client

sys.path.insert(0, str(Path(__file__).parent))
from _inproc import PROJECT, server

from bugwarden.config import Caching, Retries
from bugwarden.sandbox.bugsnag_app import create_bugsnag_app
from bugwarden.sandbox.bugsnag_seed import oid
from bugwarden.sandbox.faults import Control

ERRORS = [oid("error", "api-server", str(n)) for n in range(5)]


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


def session() -> list[tuple[str, dict]]:  # type: ignore[type-arg]
    """What an agent triaging a project does: look around, dig into the top errors, resolve two."""
    calls: list[tuple[str, dict]] = [
        ("list_projects", {}),  # type: ignore[type-arg]
        ("list_errors", {"project_id": PROJECT, "status": "open"}),
        ("list_errors", {"project_id": PROJECT, "sort": "events"}),
        ("list_errors", {"project_id": PROJECT, "since": "7d"}),
    ]
    for e in ERRORS:
        calls += [
            ("get_bug_context", {"project_id": PROJECT, "error_id": e}),
            ("list_events", {"project_id": PROJECT, "error_id": e, "limit": 5}),
        ]
    for e in ERRORS[:3]:
        calls += [
            ("get_error", {"project_id": PROJECT, "error_id": e}),
            ("get_latest_event", {"project_id": PROJECT, "error_id": e}),
            ("generate_fix_prompt", {"project_id": PROJECT, "error_id": e}),
        ]
    calls += [
        ("get_bug_context", {"project_id": PROJECT, "error_id": ERRORS[0]}),
        ("list_projects", {}),
        ("list_errors", {"project_id": PROJECT, "status": "open"}),
        ("resolve_error", {"project_id": PROJECT, "error_id": ERRORS[0]}),
        ("resolve_error", {"project_id": PROJECT, "error_id": ERRORS[1]}),
    ]
    calls += [("list_errors", {"project_id": PROJECT, "status": "open"}), ("list_errors", {"project_id": PROJECT})]
    assert len(calls) == 30, len(calls)
    return calls


async def run(naive: bool) -> dict[str, float]:
    clock = FakeClock()
    sandbox = create_bugsnag_app(control=Control(rate_limit=30, clock=clock))
    options = {"sleep": clock.sleep, "clock": clock}
    extra = {"caching": Caching(ttl=0), "retries": Retries(attempts=0)} if naive else {}
    srv, _ = server(sandbox, upstream_options=options, **extra)
    if naive:
        srv.runtime.backend().http.pacer.delay = lambda: 0.0  # type: ignore[method-assign]
    surfaced = 0
    started = time.perf_counter()
    async with Client(srv) as client:
        for name, args in session():
            result = await client.call_tool(name, args)
            surfaced += result.is_error and "rate limit" in result.content[0].text
    log = sandbox.state.control.log
    return {
        "requests": len(log),
        "upstream_429": sum(r.status == 429 for r in log),
        "surfaced_429": surfaced,
        "simulated_min": clock.now / 60,
        "real_s": time.perf_counter() - started,
    }


async def main() -> None:
    ours, naive = await run(naive=False), await run(naive=True)
    print("# quota: a 30-call triage session, sandbox limited to 30 requests/minute per token")
    print(f"{'':28s}{'bugwarden':>12s}{'naive client':>14s}")
    for key, label in [
        ("requests", "upstream requests"),
        ("upstream_429", "429s from upstream"),
        ("surfaced_429", "rate-limit errors to agent"),
        ("simulated_min", "simulated minutes"),
        ("real_s", "real seconds"),
    ]:
        print(f"{label:28s}{ours[key]:>12.1f}{naive[key]:>14.1f}")
    print(
        f"ratio requests bugwarden/naive: {ours['requests'] / naive['requests']:.2f}x "
        "(target: 0 rate-limit errors reach the agent)"
    )


if __name__ == "__main__":
    import logging

    logging.disable(logging.WARNING)  # the naive run's refusals would otherwise fill the terminal
    anyio.run(main)
