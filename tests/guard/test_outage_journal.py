"""Refusals during a store outage are kept: an outage journal beside the store, moved into the hash chain when the
store returns; and a read refused because the store is down makes no upstream request first."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from mcp import Client
from starlette.applications import Starlette

from bugwarden.config import Timeouts
from bugwarden.guard.principal import local_principal
from bugwarden.sandbox.bugsnag_seed import oid
from bugwarden.store.journal import FILE_NAME, Journal
from tests.conftest import API_PROJECT, Servers, make_settings
from tests.snapshot import text_of

pytestmark = pytest.mark.anyio
INTEGRITY = oid("error", "api-server", "0")


class Locked:
    """The audit file locked by another connection (BEGIN EXCLUSIVE) until released."""

    def __init__(self, home: Path) -> None:
        self.conn = sqlite3.connect(home / "audit.sqlite3", isolation_level=None, timeout=0)
        self.conn.execute("BEGIN EXCLUSIVE")

    def release(self) -> None:
        self.conn.execute("ROLLBACK")
        self.conn.close()


async def test_refusals_during_an_outage_reach_the_chain_when_the_store_returns(
    servers: Servers, home: Path, sandbox: Starlette
) -> None:
    server = servers(local_principal("read"), settings=make_settings(home, timeouts=Timeouts(call_deadline=1.0)))
    async with Client(server) as c:
        assert not (await c.call_tool("list_projects", {})).is_error
        before = len(sandbox.state.control.log)
        lock = Locked(home)
        try:
            denied = await c.call_tool("resolve_error", {"project_id": API_PROJECT, "error_id": INTEGRITY})
            assert denied.is_error
            withheld = await c.call_tool("get_error", {"project_id": API_PROJECT, "error_id": INTEGRITY})
            assert withheld.is_error and "read was not made" in text_of(withheld)
            assert len(sandbox.state.control.log) == before  # refused before any upstream request
            kept = [json.loads(line) for line in (home / FILE_NAME).read_text().splitlines()]
            assert [r["tool"] for r in kept] == ["resolve_error", "get_error"]
        finally:
            lock.release()
        assert not (await c.call_tool("list_projects", {})).is_error
    records = list(server.audit.records())
    tools = [(r["tool"], r.get("journaled", False), r["outcome"]) for r in records]
    assert tools[-3:] == [
        ("resolve_error", True, "denied"),
        ("get_error", True, "store_unavailable"),
        ("list_projects", False, "ok"),
    ]
    assert all(r.get("journaled_at") for r in records[-3:-1])
    assert (home / FILE_NAME).read_text() == ""
    assert server.audit.verify()[0]


def test_the_journal_is_bounded_and_says_what_it_could_not_keep(tmp_path: Path) -> None:
    journal = Journal(tmp_path / FILE_NAME, max_bytes=400)
    kept = [journal.keep({"tool": f"t{i}", "reason": "x" * 50}) for i in range(10)]
    assert kept[0] and not kept[-1]
    appended: list[dict[str, object]] = []
    moved = journal.drain(appended.append)
    assert moved == sum(kept) and len(appended) == moved + 1
    assert appended[-1]["outcome"] == "journal_full" and str(sum(not k for k in kept)) in str(appended[-1]["reason"])
    assert not journal.pending()


def test_a_drain_cut_short_keeps_the_rest(tmp_path: Path) -> None:
    journal = Journal(tmp_path / FILE_NAME)
    for i in range(3):
        journal.keep({"tool": f"t{i}"})
    taken: list[object] = []

    def flaky(record: dict[str, object]) -> None:
        if len(taken) == 1:
            raise RuntimeError("the store failed again")
        taken.append(record["tool"])

    with pytest.raises(RuntimeError):
        journal.drain(flaky)
    assert taken == ["t0"]
    assert [json.loads(line)["tool"] for line in (tmp_path / FILE_NAME).read_text().splitlines()] == ["t1", "t2"]


async def test_a_stopped_postgresql_keeps_refusals_and_makes_no_read(
    own_cluster, home: Path, sandbox: Starlette, monkeypatch: pytest.MonkeyPatch
) -> None:
    import httpx

    from bugwarden.app import build_server
    from bugwarden.store import Store
    from bugwarden.store.postgres import PostgresDatabase
    from bugwarden.store.schema import Schema
    from tests.store.test_postgres import recovered

    monkeypatch.setattr("bugwarden.store.postgres.CHECKOUT_TIMEOUT", 0.5)
    url = own_cluster.create_database("journal")
    db = PostgresDatabase(url)
    Schema(db, Store.COMPONENTS).migrate()
    db.close()
    settings = make_settings(home, database_url=url, timeouts=Timeouts(call_deadline=2.0))
    server = build_server(
        settings, principal=local_principal("read"), backend_transport=httpx.ASGITransport(app=sandbox)
    )
    try:
        async with Client(server) as c:
            assert not (await c.call_tool("list_projects", {})).is_error
            before = len(sandbox.state.control.log)
            own_cluster.stop()
            try:
                denied = await c.call_tool("resolve_error", {"project_id": API_PROJECT, "error_id": INTEGRITY})
                assert denied.is_error
                withheld = await c.call_tool("get_error", {"project_id": API_PROJECT, "error_id": INTEGRITY})
                assert withheld.is_error
                assert len(sandbox.state.control.log) == before
            finally:
                own_cluster.start()
            recovered(server.audit.count)
            assert not (await c.call_tool("list_projects", {})).is_error
        records = list(server.audit.records())
        assert [(r["tool"], r.get("journaled", False)) for r in records[-3:]] == [
            ("resolve_error", True),
            ("get_error", True),
            ("list_projects", False),
        ]
        assert server.audit.verify()[0]
    finally:
        server.close()
