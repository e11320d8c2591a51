"""One overall deadline per tool call: slow parts of a composite are dropped, a slow whole is an answer.

Retries and quota waits run on the injected clock (no real waiting); only the two tests about a
request that is in flight when the budget runs out need real time, and they keep it short.
"""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from mcp import Client
from starlette.applications import Starlette

from bugwarden.config import Retries, Settings, Timeouts
from tests.conftest import API_PROJECT, FakeClock, Servers, make_settings
from tests.snapshot import text_of

pytestmark = pytest.mark.anyio
INTEGRITY = "ec0d6c73fe01b5443e71589e"


def quick(home: Path, deadline: float) -> Settings:
    return make_settings(home, timeouts=Timeouts(connect=1, read=5, call_deadline=deadline), retries=Retries(0))


async def test_a_slow_part_of_bug_context_is_left_out_within_the_deadline(
    servers: Servers, sandbox: Starlette, home: Path
) -> None:
    server = servers(settings=quick(home, 1.0))  # ample for the in-process healthy parts
    sandbox.state.control.faults.slow_path("/trend", 30)
    async with Client(server) as client:
        with anyio.fail_after(10):
            result = await client.call_tool("get_bug_context", {"project_id": API_PROJECT, "error_id": INTEGRITY})
    assert not result.is_error
    assert result.structured_content["missing"] == ["trend"]


async def test_a_call_that_cannot_finish_in_time_says_so(servers: Servers, sandbox: Starlette, home: Path) -> None:
    server = servers(settings=quick(home, 0.3))
    sandbox.state.control.faults.latency = 30
    async with Client(server) as client:
        with anyio.fail_after(5):
            result = await client.call_tool("list_errors", {"project_id": API_PROJECT})
    assert result.is_error and "time budget" in text_of(result)
    assert list(server.audit.records())[-1]["outcome"] == "UpstreamTimeout"


async def test_retries_stop_at_the_deadline(servers: Servers, sandbox: Starlette, home: Path) -> None:
    clock = FakeClock()
    settings = make_settings(home, timeouts=Timeouts(call_deadline=2.0), retries=Retries(attempts=10, backoff_base=0.4))
    server = servers(settings=settings, upstream_options={"clock": clock, "wall_clock": clock, "sleep": clock.sleep})
    sandbox.state.control.faults.fail_next(100, 503)
    async with Client(server) as client:
        result = await client.call_tool("list_errors", {"project_id": API_PROJECT})
    assert result.is_error and "having trouble" in text_of(result)
    assert sum(clock.slept) < 2.0 and 2 <= len(sandbox.state.control.log) < 6
    assert list(server.audit.records())[-1]["duration_ms"] == pytest.approx(sum(clock.slept) * 1000, abs=1)
