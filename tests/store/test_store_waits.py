"""A stalled store stalls nothing else: store waits end by the call's deadline, and token checks (new sessions,
tools/list) run in threads of their own, never queued behind calls parked on a locked audit file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import anyio
import pytest
from mcp import Client
from starlette.applications import Starlette

from bugwarden.config import Secret, Timeouts
from bugwarden.guard.tokens import TokenStore
from bugwarden.sandbox.bugsnag_seed import oid
from bugwarden.store import Store
from tests.conftest import API_PROJECT, Servers, make_settings
from tests.snapshot import text_of

pytestmark = pytest.mark.anyio
INTEGRITY = oid("error", "api-server", "0")
PARKED = 48
"""More calls than the default worker-thread pool has threads (40)."""
HANG_GUARD = 20.0
"""Only a guard against hanging: far above the 1 s deadlines, below the 30 s waits a locked file used to cause."""


def agent_token(home: Path) -> str:
    store = Store.sqlite(home)
    try:
        _, secret = TokenStore(store.tokens).create("agent", "read")
    finally:
        store.close()
    return secret


async def test_a_locked_audit_file_stops_neither_new_sessions_nor_tools_list(
    servers: Servers, home: Path, sandbox: Starlette
) -> None:
    secret = agent_token(home)
    settings = make_settings(home, agent_token=Secret(secret), timeouts=Timeouts(call_deadline=1.0))
    server = servers(None, settings=settings)
    locker = sqlite3.connect(home / "audit.sqlite3", isolation_level=None, timeout=0)
    locker.execute("BEGIN EXCLUSIVE")
    answers: list[str] = []
    try:
        async with Client(server) as busy:

            async def one() -> None:
                result = await busy.call_tool("get_error", {"project_id": API_PROJECT, "error_id": INTEGRITY})
                answers.append(text_of(result))

            with anyio.fail_after(HANG_GUARD):
                async with anyio.create_task_group() as tg:
                    for _ in range(PARKED):
                        tg.start_soon(one)
                    await anyio.sleep(0.2)  # let them park on the lock
                    async with Client(server) as fresh:  # a new session: initialise, then list tools
                        tools = {t.name for t in (await fresh.list_tools()).tools}
                    assert "get_error" in tools
                    assert len(answers) < PARKED  # the listing did not wait for the parked calls
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    assert len(answers) == PARKED
    assert all("audit log could not record" in a or "state store" in a for a in answers), answers[:3]


def test_a_postgres_lock_wait_ends_by_the_calls_deadline(pg_url: str, tmp_path: Path) -> None:
    """Another replica holding the audit chain's lock: an append gives up by its call's deadline (1 s here), not
    after the 15 s statement timeout."""
    import threading
    import time
    import zlib

    import psycopg

    from bugwarden.config import Settings
    from bugwarden.guard.audit import AuditError, AuditLog
    from bugwarden.store.waits import bounded

    store = Store.open(Settings.from_env({}, home=str(tmp_path / "unused"), database_url=pg_url))
    audit = AuditLog(store.audit)
    holder = psycopg.connect(pg_url, autocommit=True)
    holder.execute("BEGIN")
    holder.execute("SELECT pg_advisory_xact_lock(%s)", (zlib.crc32(b"bugwarden:audit"),))
    failed: list[BaseException] = []

    def append() -> None:
        with bounded(time.monotonic() + 1.0):
            try:
                audit.append({"n": 1})
            except AuditError as exc:
                failed.append(exc)

    thread = threading.Thread(target=append)
    thread.start()
    thread.join(10)  # only a guard: the statement timeout would end the wait after 15 s
    finished = not thread.is_alive()
    holder.execute("ROLLBACK")
    holder.close()
    thread.join()
    assert finished and failed
    audit.append({"n": 2})  # the lock is free again: appends work
    assert audit.count() == 1
    store.close()


async def test_over_http_a_locked_audit_file_does_not_stop_a_new_session(sandbox: Starlette, home: Path) -> None:
    """The HTTP path: bearer checks run apart from the calls parked on the locked audit file."""
    from tests.test_http import mcp_client, serving, token

    _, secret = token(home, "read")
    _, other = token(home, "read", name="another agent")
    answers: list[bool] = []
    async with serving(
        sandbox, home, settings={"timeouts": Timeouts(call_deadline=1.0)}, max_sessions_per_token=1000
    ) as (url, _):
        locker = sqlite3.connect(home / "audit.sqlite3", isolation_level=None, timeout=0)
        locker.execute("BEGIN EXCLUSIVE")
        try:
            async with mcp_client(url, secret) as busy:

                async def one() -> None:
                    result = await busy.call_tool("get_error", {"project_id": API_PROJECT, "error_id": INTEGRITY})
                    answers.append(result.is_error)

                with anyio.fail_after(HANG_GUARD * 2):
                    async with anyio.create_task_group() as tg:
                        for _ in range(PARKED):
                            tg.start_soon(one)
                        await anyio.sleep(0.3)
                        async with mcp_client(url, other) as fresh:
                            assert "get_error" in {t.name for t in (await fresh.list_tools()).tools}
                        assert len(answers) < PARKED
        finally:
            locker.execute("ROLLBACK")
            locker.close()
    assert len(answers) == PARKED and all(answers)
