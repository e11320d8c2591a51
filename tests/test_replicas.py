"""Several replicas, one truth: two HTTP servers on one PostgreSQL database, clients spread across both.

One audit chain with exactly one outcome record per call, revocation seen at the next request wherever it
lands, confirmations asked at one replica and answered at the other, one upstream quota between them, and a
database that goes away and comes back.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import ElicitResult
from starlette.applications import Starlette

from bugwarden.backends.quota import MemoryQuota
from bugwarden.cli import main as cli
from bugwarden.guard.audit import AuditLog
from bugwarden.guard.errors import STORE_UNAVAILABLE
from bugwarden.guard.tokens import TokenStore
from bugwarden.sandbox.bugsnag_app import create_bugsnag_app
from bugwarden.sandbox.bugsnag_seed import oid
from bugwarden.sandbox.faults import Control
from bugwarden.store import Store
from bugwarden.store.postgres import PostgresDatabase
from bugwarden.store.schema import Schema
from tests.conftest import API_PROJECT, FakeClock, Servers, make_settings
from tests.snapshot import text_of
from tests.test_http import HEADERS, INIT, ResumeElsewhere, mcp_client, serving

pytestmark = pytest.mark.anyio
ERRORS = [oid("error", "api-server", str(n)) for n in range(5)]


def issue(home: Path, url: str, scopes: str = "triage") -> tuple[str, str]:
    store = Store.open(make_settings(home, database_url=url))
    try:
        info, secret = TokenStore(store.tokens).create("replica-test", scopes)
    finally:
        store.close()
    return info.id, secret


class RoundRobin(httpx2.AsyncBaseTransport):
    """A load balancer in front of stateless replicas: each request goes to the next port."""

    def __init__(self, *ports: int) -> None:
        self.ports = itertools.cycle(ports)
        self.inner = httpx2.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        port = next(self.ports)
        request.url = request.url.copy_with(port=port)
        request.headers["host"] = f"127.0.0.1:{port}"
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


async def test_two_replicas_keep_one_chain_with_one_record_per_call(
    sandbox: Starlette, home: Path, pg_url: str
) -> None:
    _, secret = issue(home, pg_url)
    db = {"database_url": pg_url}
    store = Store.open(make_settings(home, **db))
    audit = AuditLog(store.audit)
    verdicts: list[tuple[bool, str]] = []
    made = {"reads": 0, "writes": 0}
    async with (
        serving(sandbox, home, settings=db, stateless=True) as (url_a, _),
        serving(sandbox, home, settings=db, stateless=True) as (url_b, _),
    ):
        done = anyio.Event()

        async def keep_verifying() -> None:
            while not done.is_set():
                verdicts.append(await anyio.to_thread.run_sync(audit.verify))
                await anyio.sleep(0.02)

        async def agent(n: int) -> None:
            route = RoundRobin(port_of(url_a), port_of(url_b)) if n % 2 else None
            http = httpx2.AsyncClient(
                transport=route, headers={"Authorization": f"Bearer {secret}"}, timeout=httpx2.Timeout(30)
            )
            async with http, Client(streamable_http_client(f"{(url_a, url_b)[n % 3 % 2]}/mcp", http_client=http)) as c:
                for i in range(6):
                    error = ERRORS[(n + i) % len(ERRORS)]
                    if i % 3 == 2:
                        result = await c.call_tool("resolve_error", {"project_id": API_PROJECT, "error_id": error})
                        made["writes"] += 1
                    else:
                        result = await c.call_tool("get_error", {"project_id": API_PROJECT, "error_id": error})
                        made["reads"] += 1
                    assert not result.is_error, text_of(result)

        async with anyio.create_task_group() as tg:
            tg.start_soon(keep_verifying)
            async with anyio.create_task_group() as agents:
                for n in range(8):
                    agents.start_soon(agent, n)
            done.set()
    records = list(audit.records())
    store.close()
    results = [r for r in records if r["phase"] == "result"]
    intents = [r for r in records if r["phase"] == "intent"]
    assert len(results) == made["reads"] + made["writes"] == 48
    assert len(intents) == made["writes"] == 16
    assert [r["seq"] for r in records] == list(range(1, len(records) + 1))
    assert verdicts and all(ok for ok, _ in verdicts), [m for ok, m in verdicts if not ok][:1]


async def test_a_token_revoked_anywhere_is_refused_at_the_other_replica(
    sandbox: Starlette, home: Path, pg_url: str
) -> None:
    token_id, secret = issue(home, pg_url, "read")
    db = {"database_url": pg_url}
    async with (
        serving(sandbox, home, settings=db) as (url_a, _),
        serving(sandbox, home, settings=db) as (url_b, _),
    ):
        async with mcp_client(url_a, secret) as c:
            assert not (await c.call_tool("list_projects", {})).is_error
        assert cli(["token", "revoke", token_id, "--database-url", pg_url]) == 0
        async with httpx.AsyncClient() as http:
            refused = await http.post(
                f"{url_b}/mcp", json=INIT, headers={**HEADERS, "Authorization": f"Bearer {secret}"}
            )
    assert refused.status_code == 401


async def test_a_confirmation_asked_at_one_replica_is_answered_at_the_other(
    sandbox: Starlette, home: Path, pg_url: str
) -> None:
    _, secret = issue(home, pg_url, "admin")
    db = {"database_url": pg_url, "confirm": "code"}  # the operator chose codes: the model may confirm alone
    asked: list[str] = []

    async def approve(ctx, params):
        asked.append(params.message)
        return ElicitResult(action="accept", content={"approve": True})

    async with (
        serving(sandbox, home, settings=db, stateless=True) as (url_a, _),
        serving(sandbox, home, settings=db, stateless=True) as (url_b, _),
    ):
        # A client that cannot ask: the preview's code comes from A and is redeemed at B, once.
        args = {"project_id": API_PROJECT, "error_id": ERRORS[1]}
        async with mcp_client(url_a, secret) as a:
            preview = await a.call_tool("delete_error", args)
        code = preview.structured_content["confirm_code"]
        async with mcp_client(url_b, secret) as b:
            done = await b.call_tool("delete_error", {**args, "confirm": code})
            again = await b.call_tool("delete_error", {**args, "confirm": code})
        assert "Deleted error" in text_of(done) and again.is_error and "already used" in text_of(again)
        # A client that can: the question is asked at A, the answer (sealed request state) lands at B. No
        # BUGWARDEN_STATE_KEY: the sealing key lives in the database.
        route = ResumeElsewhere(port_of(url_a), port_of(url_b))
        async with (
            httpx2.AsyncClient(transport=route, headers={"Authorization": f"Bearer {secret}"}) as http,
            Client(streamable_http_client(f"{url_a}/mcp", http_client=http), elicitation_callback=approve) as c,
        ):
            result = await c.call_tool("delete_error", {"project_id": API_PROJECT, "error_id": ERRORS[2]})
        assert not result.is_error and "Deleted error" in text_of(result)
        assert asked and route.resumed_at_second >= 1
    assert [r.method for r in sandbox.state.control.log].count("DELETE") == 2


@pytest.mark.parametrize("shared", [True, False], ids=["one ledger in the database", "a ledger per replica"])
async def test_two_replicas_together_stay_within_the_upstream_limit(home: Path, pg_url: str, shared: bool) -> None:
    clock = FakeClock()
    limited = create_bugsnag_app(control=Control(rate_limit=20, clock=clock))
    _, secret = issue(home, pg_url)
    db = {"database_url": pg_url}
    timing = {"upstream_options": {"sleep": clock.sleep, "clock": clock, "wall_clock": clock}}
    builds = [dict(timing), dict(timing)] if shared else [{**timing, "quota": MemoryQuota()} for _ in range(2)]
    failed_fast: list[str] = []
    async with (
        serving(limited, home, settings=db, stateless=True, build=builds[0], rate_limit=None) as (url_a, _),
        serving(limited, home, settings=db, stateless=True, build=builds[1], rate_limit=None) as (url_b, _),
        mcp_client(url_a, secret) as a,
        mcp_client(url_b, secret) as b,
    ):
        for n in range(40):
            result = await (a, b)[n % 2].call_tool("list_errors", {"project_id": API_PROJECT, "search": f"q{n}"})
            if result.is_error:
                failed_fast.append(text_of(result))
    log = limited.state.control.log
    if shared:
        assert len(log) == 20 and all(r.status == 200 for r in log)  # exactly the quota, and no 429
        assert len(failed_fast) == 20 and all("retry in" in m for m in failed_fast)
    else:  # the baseline the shared ledger fixes: each replica believes it owns the quota
        assert any(r.status == 429 for r in log)


async def test_the_database_stopped_and_restarted_mid_run(
    servers: Servers, sandbox: Starlette, own_cluster: Any, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bugwarden.store.postgres.CHECKOUT_TIMEOUT", 0.5)  # the same path, sooner
    url = own_cluster.create_database("midrun")
    migrate = PostgresDatabase(url)
    Schema(migrate, Store.COMPONENTS).migrate()
    migrate.close()
    _, secret = issue(home, url)
    stdio = servers(None, settings=make_settings(home, database_url=url, agent_token=secret))
    async with (
        serving(sandbox, home, settings={"database_url": url}) as (http_url, _),
        Client(stdio, raise_exceptions=True) as c,
    ):
        assert not (await c.call_tool("get_error", {"project_id": API_PROJECT, "error_id": ERRORS[0]})).is_error
        own_cluster.stop()
        try:
            writes_before = sum(r.method != "GET" for r in sandbox.state.control.log)
            refused = await c.call_tool("resolve_error", {"project_id": API_PROJECT, "error_id": ERRORS[0]})
            withheld = await c.call_tool("get_error", {"project_id": API_PROJECT, "error_id": ERRORS[1]})
            async with httpx.AsyncClient(timeout=30) as http:
                door = await http.post(
                    f"{http_url}/mcp", json=INIT, headers={**HEADERS, "Authorization": f"Bearer {secret}"}
                )
            assert refused.is_error and text_of(refused) == STORE_UNAVAILABLE
            assert withheld.is_error and text_of(withheld) == STORE_UNAVAILABLE
            assert sum(r.method != "GET" for r in sandbox.state.control.log) == writes_before  # nothing unaudited
            assert door.status_code == 503 and door.headers["retry-after"] == "5"
        finally:
            own_cluster.start()
        with anyio.fail_after(15):  # the first call after the database is back may still meet the outage window
            while (
                done := await c.call_tool("resolve_error", {"project_id": API_PROJECT, "error_id": ERRORS[0]})
            ).is_error:
                assert text_of(done) == STORE_UNAVAILABLE
                await anyio.sleep(0.2)
            async with httpx.AsyncClient(timeout=30) as http:
                auth = {**HEADERS, "Authorization": f"Bearer {secret}"}
                while (await http.post(f"{http_url}/mcp", json=INIT, headers=auth)).status_code == 503:  # noqa: ASYNC110
                    await anyio.sleep(0.2)
        async with mcp_client(http_url, secret) as h:
            assert not (await h.call_tool("list_projects", {})).is_error
    store = Store.open(make_settings(home, database_url=url))
    ok, message = AuditLog(store.audit).verify()
    store.close()
    assert ok, message


async def test_a_stateless_replica_never_lets_the_model_confirm_alone_and_approvals_cross_replicas(
    sandbox: Starlette, home: Path, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A handshake-era client that declared elicitation, behind stateless replicas: no replica can ask its user
    (there is no back channel), so the default HTTP policy asks a person. The approval is created at one replica,
    approved from the shell, and made once at the other."""
    _, secret = issue(home, pg_url, "admin")
    db = {"database_url": pg_url}
    asked: list[str] = []

    async def would_answer(ctx, params):
        asked.append(params.message)
        return ElicitResult(action="accept", content={"approve": True})

    args = {"project_id": API_PROJECT, "error_id": ERRORS[3]}
    async with (
        serving(sandbox, home, settings=db, stateless=True) as (url_a, _),
        serving(sandbox, home, settings=db, stateless=True) as (url_b, _),
    ):
        async with mcp_client(url_a, secret, mode="legacy", elicitation_callback=would_answer) as a:
            waiting = await a.call_tool("delete_error", args)
            assert not waiting.is_error and "waits for a person's approval" in text_of(waiting), text_of(waiting)
            approval_id = waiting.structured_content["approval_id"]
            assert waiting.structured_content.get("confirm_code") is None  # nothing the model could send back
        assert cli(["approvals", "list", "--database-url", pg_url]) == 0
        assert approval_id in capsys.readouterr().out
        assert cli(["approvals", "approve", approval_id, "--as", "alice", "--database-url", pg_url]) == 0
        async with mcp_client(url_b, secret, mode="legacy", elicitation_callback=would_answer) as b:
            done = await b.call_tool("delete_error", args)
            again = await b.call_tool("delete_error", args)
        assert "Deleted error" in text_of(done) and "approved by alice" in text_of(done)
        assert again.structured_content["approval_id"] != approval_id  # used once
    assert asked == []
    assert [r.method for r in sandbox.state.control.log].count("DELETE") == 1
    store = Store.open(make_settings(home, database_url=pg_url))
    records = list(AuditLog(store.audit).records())
    store.close()
    assert any(r["tool"] == "approvals:approve" and r["principal_name"] == "alice" for r in records)
