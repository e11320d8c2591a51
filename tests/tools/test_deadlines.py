"""One overall deadline per tool call: slow parts of a composite are dropped, a slow whole is an answer."""

from __future__ import annotations

import anyio
import pytest
from mcp import Client
from starlette.applications import Starlette

from bugwarden.config import Retries, Timeouts
from tests.conftest import API_PROJECT, make_settings, server_for

pytestmark = pytest.mark.anyio
INTEGRITY = "ec0d6c73fe01b5443e71589e"


def quick(home, deadline: float = 0.5):  # type: ignore[no-untyped-def]
    return make_settings(
        home, timeouts=Timeouts(connect=1, read=5, call_deadline=deadline), retries=Retries(attempts=0)
    )


async def test_a_slow_part_of_bug_context_is_left_out_within_the_deadline(sandbox: Starlette, home) -> None:  # type: ignore
    server = server_for(sandbox, quick(home, deadline=3))  # ample for the healthy parts, even on a busy machine
    sandbox.state.control.faults.slow_path("/trend", 30)
    async with Client(server) as client:
        with anyio.fail_after(10):
            result = await client.call_tool("get_bug_context", {"project_id": API_PROJECT, "error_id": INTEGRITY})
    assert not result.is_error
    assert result.structured_content["missing"] == ["trend"]
    server.audit.close()


async def test_a_call_that_cannot_finish_in_time_says_so(sandbox: Starlette, home) -> None:  # type: ignore
    server = server_for(sandbox, quick(home))
    sandbox.state.control.faults.latency = 30
    async with Client(server) as client:
        with anyio.fail_after(5):
            result = await client.call_tool("list_errors", {"project_id": API_PROJECT})
    assert result.is_error and "time budget" in result.content[0].text
    assert list(server.audit.records())[-1]["outcome"] == "UpstreamTimeout"
    server.audit.close()


async def test_retries_stop_at_the_deadline(sandbox: Starlette, home) -> None:  # type: ignore
    settings = make_settings(home, timeouts=Timeouts(call_deadline=0.5), retries=Retries(attempts=5, backoff_base=0.2))
    server = server_for(sandbox, settings)
    sandbox.state.control.faults.fail_next(100, 503)
    async with Client(server) as client:
        with anyio.fail_after(5):
            result = await client.call_tool("list_errors", {"project_id": API_PROJECT})
    assert result.is_error and "having trouble" in result.content[0].text
    assert len(sandbox.state.control.log) < 6  # gave up when the next backoff would pass the deadline
    server.audit.close()
