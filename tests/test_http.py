"""Streamable HTTP over a real loopback socket: the auth matrix, Host/Origin checks, limits, concurrency."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
import uvicorn
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from starlette.applications import Starlette

from bugwarden.config import ConfigError, HttpSettings
from bugwarden.guard.tokens import TokenStore
from bugwarden.http_app import bounded_h11, build_http, transport_security
from bugwarden.store import Store
from tests.conftest import API_PROJECT, Servers, make_settings
from tests.snapshot import text_of

pytestmark = pytest.mark.anyio
INTEGRITY = "ec0d6c73fe01b5443e71589e"
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "curl", "version": "1"}},
}
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


@asynccontextmanager
async def serving(
    sandbox: Starlette,
    home: Path,
    state_key: str | None = None,
    build: dict[str, Any] | None = None,
    settings: dict[str, Any] | None = None,
    **options: Any,
) -> AsyncIterator[tuple[str, Any]]:
    sock = socket.socket()
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    opts = HttpSettings(host="127.0.0.1", port=port, **options)
    server, app = build_http(
        make_settings(home, toolsets="all", state_key=state_key, **(settings or {})),
        opts,
        backend_transport=httpx.ASGITransport(app=sandbox),
        **(build or {}),
    )
    config = uvicorn.Config(app, log_level="warning", lifespan="on", http=bounded_h11(opts.header_timeout))
    uv = uvicorn.Server(config)
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(uv.serve, [sock])
            while not uv.started:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
                await anyio.sleep(0.01)
            try:
                yield f"http://127.0.0.1:{port}", server
            finally:
                uv.should_exit = True
    finally:
        sock.close()
        server.close()


@asynccontextmanager
async def mcp_client(url: str, token: str, **kw: Any) -> AsyncIterator[Client]:
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=httpx2.Timeout(30, read=60)) as http,
        Client(streamable_http_client(f"{url}/mcp", http_client=http), **kw) as client,
    ):
        yield client


def tokens(home: Path) -> TokenStore:
    return TokenStore(Store.sqlite(home).tokens)


def token(home: Path, scopes: str = "triage", **kw: Any) -> tuple[str, str]:
    store = tokens(home)
    info, secret = store.create(kw.pop("name", "http-test"), scopes, **kw)
    store.close()
    return info.id, secret


async def test_auth_matrix(sandbox: Starlette, home: Path) -> None:
    _, valid = token(home, "read")
    revoked_id, revoked = token(home, "read")
    expired_id, expired = token(home, "read", expires_in="1m")
    tokens(home).revoke(revoked_id)
    import sqlite3

    db = sqlite3.connect(home / "tokens.sqlite3")
    db.execute("UPDATE tokens SET expires_at = '2000-01-01T00:00:00+00:00' WHERE id = ?", (expired_id,))
    db.commit()
    db.close()
    async with serving(sandbox, home) as (url, _), httpx.AsyncClient() as http:
        for label, header in [
            ("missing", {}),
            ("unknown", {"Authorization": "Bearer bw_nope"}),
            ("revoked", {"Authorization": f"Bearer {revoked}"}),
            ("expired", {"Authorization": f"Bearer {expired}"}),
            ("not bearer", {"Authorization": f"token {valid}"}),
        ]:
            r = await http.post(f"{url}/mcp", json=INIT, headers={**HEADERS, **header})
            assert r.status_code == 401, label
            challenge = r.headers["www-authenticate"]
            assert challenge.startswith('Bearer realm="bugwarden", error="invalid_token"'), label
            assert "resource_metadata" not in challenge, "bugwarden advertises no OAuth server"
            assert "bugwarden token create" in r.json()["error_description"], "a 401 says how to get a token"
        for spelling in ("Bearer", "bearer", "BEARER"):
            ok = await http.post(f"{url}/mcp", json=INIT, headers={**HEADERS, "Authorization": f"{spelling} {valid}"})
            assert ok.status_code == 200, spelling
        health = await http.get(f"{url}/healthz")
        assert health.status_code == 200 and health.json() == {"status": "ok"}


async def test_no_oauth_authorization_server_is_advertised(sandbox: Starlette, home: Path) -> None:
    async with serving(sandbox, home) as (url, _), httpx.AsyncClient() as http:
        for path in (
            "/.well-known/oauth-protected-resource/mcp",
            "/.well-known/oauth-protected-resource",
            "/.well-known/oauth-authorization-server",
            "/authorize",
            "/token",
            "/register",
        ):
            assert (await http.get(f"{url}{path}")).status_code == 404, path


async def test_a_second_authorization_header_is_refused(sandbox: Starlette, home: Path) -> None:
    _, valid = token(home, "read")
    async with serving(sandbox, home) as (url, _), httpx.AsyncClient() as http:
        headers = httpx.Headers([*HEADERS.items(), ("Authorization", f"Bearer {valid}"), ("Authorization", "Bearer x")])
        r = await http.post(f"{url}/mcp", json=INIT, headers=headers)
        assert r.status_code == 400 and "exactly one Authorization header" in r.text


async def test_the_token_drives_the_guard_and_the_audit(sandbox: Starlette, home: Path) -> None:
    token_id, secret = token(home, "read", projects=[API_PROJECT], name="editor")
    async with serving(sandbox, home) as (url, server), mcp_client(url, secret) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        assert "resolve_error" not in names and "list_errors" in names
        assert not (await client.call_tool("list_errors", {})).is_error
        denied = await client.call_tool("resolve_error", {"project_id": API_PROJECT, "error_id": INTEGRITY})
        assert denied.is_error and "errors:write" in text_of(denied)
        records = list(server.audit.records())
    assert {(r["principal_id"], r["principal_name"], r["transport"]) for r in records} == {(token_id, "editor", "http")}


async def test_revocation_takes_effect_at_once(sandbox: Starlette, home: Path) -> None:
    token_id, secret = token(home, "read")
    async with serving(sandbox, home) as (url, _), httpx.AsyncClient() as http:
        auth = {**HEADERS, "Authorization": f"Bearer {secret}"}
        assert (await http.post(f"{url}/mcp", json=INIT, headers=auth)).status_code == 200
        tokens(home).revoke(token_id)
        assert (await http.post(f"{url}/mcp", json=INIT, headers=auth)).status_code == 401


async def test_foreign_host_and_origin_are_rejected(sandbox: Starlette, home: Path) -> None:
    _, secret = token(home)
    async with serving(sandbox, home) as (url, _), httpx.AsyncClient() as http:
        auth = {**HEADERS, "Authorization": f"Bearer {secret}"}
        evil_host = await http.post(f"{url}/mcp", json=INIT, headers={**auth, "Host": "evil.example"})
        assert evil_host.status_code in (400, 421)
        evil_origin = await http.post(f"{url}/mcp", json=INIT, headers={**auth, "Origin": "https://evil.example"})
        assert evil_origin.status_code == 403
        same_origin = await http.post(f"{url}/mcp", json=INIT, headers={**auth, "Origin": url})
        assert same_origin.status_code == 200


async def test_allowed_hosts_for_deployments_behind_a_name(sandbox: Starlette, home: Path) -> None:
    _, secret = token(home)
    async with serving(sandbox, home, allowed_hosts=("mcp.example.com",)) as (url, _), httpx.AsyncClient() as http:
        r = await http.post(
            f"{url}/mcp", json=INIT, headers={**HEADERS, "Authorization": f"Bearer {secret}", "Host": "mcp.example.com"}
        )
        assert r.status_code == 200


def test_non_loopback_addresses_need_allowed_hosts() -> None:
    with pytest.raises(ConfigError, match="--allowed-host"):
        HttpSettings(host="0.0.0.0").check()
    named = HttpSettings(host="0.0.0.0", allowed_hosts=("mcp.example.com",))
    named.check()
    assert transport_security(named).allowed_hosts == ["mcp.example.com"]


async def test_request_body_limit(sandbox: Starlette, home: Path) -> None:
    _, secret = token(home)
    async with serving(sandbox, home) as (url, _), httpx.AsyncClient() as http:
        params: dict[str, Any] = {**INIT["params"], "padding": "x" * (2 * 1024 * 1024)}  # type: ignore[dict-item]
        big = {**INIT, "params": params}
        r = await http.post(f"{url}/mcp", json=big, headers={**HEADERS, "Authorization": f"Bearer {secret}"})
        assert r.status_code == 413


@pytest.mark.parametrize("deadline", [45.0, 10.0], ids=["the wait fits", "the wait does not fit"])
async def test_the_per_token_budget_counts_tool_calls_not_protocol_messages(
    sandbox: Starlette, home: Path, deadline: float
) -> None:
    from bugwarden.config import Timeouts
    from tests.conftest import FakeClock

    clock = FakeClock()
    _, secret = token(home, "read")
    _, other = token(home, "read")
    build = {"upstream_options": {"clock": clock, "wall_clock": clock, "sleep": clock.sleep}}
    settings = {"timeouts": Timeouts(call_deadline=deadline)}
    async with serving(sandbox, home, rate_limit=3, build=build, settings=settings) as (url, server):
        args = {"project_id": API_PROJECT, "limit": 1}
        async with mcp_client(url, secret, mode="legacy") as client:
            for _ in range(5):  # protocol chatter is free
                await client.list_tools()
                await client.list_resource_templates()
            for _ in range(3):  # a minute's worth may come at once
                assert not (await client.call_tool("list_errors", args)).is_error
            assert clock.slept == []
            fourth = await client.call_tool("list_errors", args)  # its turn comes in 20 s
        async with mcp_client(url, other) as other_client:  # another token has its own budget
            assert not (await other_client.call_tool("list_errors", args)).is_error
        limited = [r for r in server.audit.records() if r.get("outcome") == "rate_limited"]
    if deadline > 40:  # waiting 20 s leaves the call more than half its deadline: it waits, and succeeds
        assert not fourth.is_error and sum(clock.slept) == pytest.approx(20.0)
    else:  # it would not: refused at once, saying when to retry
        assert fourth.is_error and "budget of 3 upstream requests a minute" in text_of(fourth)
        assert "retry in 20s" in text_of(fourth)
        assert clock.slept == []
        assert len(limited) == 1 and limited[0]["decision"] == "denied"


async def test_unverified_tokens_leave_no_state_behind(sandbox: Starlette, home: Path) -> None:
    """Budgets and session counts exist only for verified tokens: random ones cost nothing to keep."""
    import secrets

    async with serving(sandbox, home) as (url, server), httpx.AsyncClient() as http:
        for _ in range(500):
            r = await http.post(
                f"{url}/mcp", json=INIT, headers={**HEADERS, "Authorization": f"Bearer bw_{secrets.token_hex(16)}"}
            )
            assert r.status_code == 401
        with server.store.state.transaction() as tx:
            assert tx.execute("SELECT COUNT(*) FROM buckets").fetchone()[0] == 0


async def test_one_token_cannot_lock_the_others_out(sandbox: Starlette, home: Path) -> None:
    _, greedy = token(home, "read")
    _, polite = token(home, "read")
    async with serving(sandbox, home, max_sessions_per_token=4) as (url, _), httpx.AsyncClient() as http:
        opened = []
        for _ in range(4):
            r = await http.post(f"{url}/mcp", json=INIT, headers={**HEADERS, "Authorization": f"Bearer {greedy}"})
            assert r.status_code == 200
            opened.append(r.headers["mcp-session-id"])
        refused = await http.post(f"{url}/mcp", json=INIT, headers={**HEADERS, "Authorization": f"Bearer {greedy}"})
        assert refused.status_code == 429 and "4 open sessions" in refused.text and refused.headers["retry-after"]
        ok = await http.post(f"{url}/mcp", json=INIT, headers={**HEADERS, "Authorization": f"Bearer {polite}"})
        assert ok.status_code == 200
        end = {
            **HEADERS,
            "Authorization": f"Bearer {greedy}",
            "Mcp-Session-Id": opened[0],
            "MCP-Protocol-Version": "2025-11-25",
        }
        assert (await http.delete(f"{url}/mcp", headers=end)).status_code in (200, 204)
        again = await http.post(f"{url}/mcp", json=INIT, headers={**HEADERS, "Authorization": f"Bearer {greedy}"})
        assert again.status_code == 200


async def test_the_session_cap_holds_against_a_concurrent_loop(sandbox: Starlette, home: Path) -> None:
    _, greedy = token(home, "read")
    _, polite = token(home, "read")
    statuses: list[int] = []
    async with serving(sandbox, home, max_sessions_per_token=4) as (url, _), httpx.AsyncClient() as http:

        async def open_one() -> None:
            r = await http.post(f"{url}/mcp", json=INIT, headers={**HEADERS, "Authorization": f"Bearer {greedy}"})
            statuses.append(r.status_code)

        async with anyio.create_task_group() as tg:
            for _ in range(100):
                tg.start_soon(open_one)
        ok = await http.post(f"{url}/mcp", json=INIT, headers={**HEADERS, "Authorization": f"Bearer {polite}"})
    assert statuses.count(200) == 4 and statuses.count(429) == 96
    assert ok.status_code == 200


async def test_idle_sessions_stop_counting(sandbox: Starlette, home: Path) -> None:
    _, secret = token(home, "read")
    async with (
        serving(sandbox, home, max_sessions_per_token=1, session_idle_timeout=0.5) as (url, _),
        httpx.AsyncClient() as http,
    ):
        auth = {**HEADERS, "Authorization": f"Bearer {secret}"}
        assert (await http.post(f"{url}/mcp", json=INIT, headers=auth)).status_code == 200
        assert (await http.post(f"{url}/mcp", json=INIT, headers=auth)).status_code == 429
        await anyio.sleep(0.7)
        assert (await http.post(f"{url}/mcp", json=INIT, headers=auth)).status_code == 200


async def test_slow_headers_and_slow_bodies_are_cut_off(sandbox: Starlette, home: Path) -> None:
    _, secret = token(home, "read")
    async with serving(sandbox, home, header_timeout=0.5, body_timeout=0.5) as (url, _):
        host, port = url.removeprefix("http://").split(":")
        trickler = await anyio.connect_tcp(host, int(port))
        await trickler.send(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        with anyio.fail_after(5):
            assert await _closed(trickler)
        await trickler.aclose()
        body = b'{"jsonrpc": "2.0", "id": 1, "method": "initialize"'
        slow = await anyio.connect_tcp(host, int(port))
        head = (
            f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {secret}\r\n"
            f"Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n"
            f"Content-Length: {len(body) + 100}\r\n\r\n"
        )
        await slow.send(head.encode() + body)
        with anyio.fail_after(5):
            answer = await slow.receive()
        assert answer.startswith(b"HTTP/1.1 408")
        await slow.aclose()


async def _closed(stream: Any) -> bool:
    try:
        while await stream.receive():
            pass
    except (anyio.EndOfStream, anyio.BrokenResourceError, ConnectionResetError):
        return True
    return True


async def test_same_results_over_http_as_in_memory(sandbox: Starlette, servers: Servers, home: Path) -> None:
    _, secret = token(home, "admin")
    args = {"project_id": API_PROJECT, "error_id": INTEGRITY}
    async with serving(sandbox, home) as (url, _), mcp_client(url, secret) as client:
        over_http = await client.call_tool("get_bug_context", args)
    local = servers()
    async with Client(local) as client:
        in_memory = await client.call_tool("get_bug_context", args)
    assert text_of(over_http) == text_of(in_memory)
    assert over_http.structured_content == in_memory.structured_content


@pytest.mark.parametrize("stateless", [False, True])
async def test_sixteen_concurrent_clients_see_no_errors(sandbox: Starlette, home: Path, stateless: bool) -> None:
    _, secret = token(home, "read")
    failures: list[str] = []

    async def agent(n: int) -> None:
        async with mcp_client(url, secret, mode="legacy" if n % 2 else "auto") as client:
            calls: list[tuple[str, dict[str, Any]]] = [
                ("list_projects", {}),
                ("list_errors", {"project_id": API_PROJECT, "limit": 3}),
                ("get_bug_context", {"project_id": API_PROJECT, "error_id": INTEGRITY}),
            ]
            for tool, args in calls:
                result = await client.call_tool(tool, args)
                if result.is_error:
                    failures.append(text_of(result))

    async with serving(sandbox, home, stateless=stateless) as (url, server):
        async with anyio.create_task_group() as tg:
            for n in range(16):
                tg.start_soon(agent, n)
        assert failures == []
        assert len([r for r in server.audit.records() if r["transport"] == "http"]) == 48


def test_sigterm_lets_in_flight_calls_finish(tmp_path: Path) -> None:
    """A real `bugwarden serve --transport http` process: SIGTERM mid-call, the call still answers."""
    import json
    import os
    import signal
    import subprocess
    import sys
    import threading
    import time

    _, secret = token(tmp_path, "read")
    sandbox = subprocess.Popen(
        [sys.executable, "-m", "bugwarden", "sandbox", "--port", "0", "--rate-limit", "100000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert sandbox.stdout
    upstream = sandbox.stdout.readline().split()[-1]
    env = {
        **os.environ,
        "BUGWARDEN_HOME": str(tmp_path),
        "BUGSNAG_API_URL": upstream,
        "BUGSNAG_AUTH_TOKEN": "sandbox-admin-token",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "bugwarden", "serve", "--transport", "http", "--port", "0", "--stateless"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        assert server.stdout
        url = server.stdout.readline().split()[-1]
        httpx.post(f"{upstream}/_sandbox/faults", json={"latency_ms": 1500})
        headers = {**HEADERS, "Authorization": f"Bearer {secret}", "MCP-Protocol-Version": "2025-11-25"}

        def terminate_once_in_flight() -> None:
            """SIGTERM as soon as the upstream has the call's request (so it is certainly in flight)."""
            for _ in range(300):
                seen = httpx.get(f"{upstream}/_sandbox/requests").json()["requests"]
                if any(r.endswith(f"/projects/{API_PROJECT}/errors") for r in seen):
                    server.send_signal(signal.SIGTERM)
                    return
                time.sleep(0.01)

        with httpx.Client(headers=headers, timeout=30) as http:
            assert http.post(url, json=INIT).status_code == 200
            timer = threading.Thread(target=terminate_once_in_flight)
            timer.start()
            call = {
                "jsonrpc": "2.0",
                "id": 2,
                "method": "tools/call",
                "params": {"name": "list_errors", "arguments": {"project_id": API_PROJECT, "limit": 1}},
            }
            response = http.post(url, json=call)
            timer.join()
        assert response.status_code == 200
        assert json.loads(response.text)["result"]["isError"] is False
        server.wait(30)
    finally:
        for proc in (server, sandbox):
            proc.kill()
            proc.wait(10)
            proc.stdout.close()  # type: ignore[union-attr]


class ResumeElsewhere(httpx2.AsyncBaseTransport):
    """Sends every request to the first server, except a retry carrying `requestState`, which goes to the second."""

    def __init__(self, first: int, second: int) -> None:
        self.first, self.second = first, second
        self.inner = httpx2.AsyncHTTPTransport()
        self.resumed_at_second = 0

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        body = await request.aread()
        port = self.second if b'"requestState"' in body else self.first
        self.resumed_at_second += port == self.second
        request.url = request.url.copy_with(port=port)
        request.headers["host"] = f"127.0.0.1:{port}"
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.mark.parametrize("shared_key", [True, False])
async def test_replicas_with_a_shared_state_key_resume_each_others_confirmations(
    sandbox: Starlette, home: Path, shared_key: bool
) -> None:
    _, secret = token(home, "admin")
    asked: list[str] = []

    async def approve(ctx, params):
        asked.append(params.message)
        from mcp.types import ElicitResult

        return ElicitResult(action="accept", content={"approve": True})

    keys = ("k" * 40, "k" * 40) if shared_key else ("a" * 40, "b" * 40)
    async with (
        serving(sandbox, home, state_key=keys[0], stateless=True) as (url_a, _),
        serving(sandbox, home, state_key=keys[1], stateless=True) as (url_b, _),
    ):
        route = ResumeElsewhere(int(url_a.rsplit(":", 1)[1]), int(url_b.rsplit(":", 1)[1]))
        async with (
            httpx2.AsyncClient(
                transport=route, headers={"Authorization": f"Bearer {secret}"}, timeout=httpx2.Timeout(30)
            ) as http,
            Client(streamable_http_client(f"{url_a}/mcp", http_client=http), elicitation_callback=approve) as client,
        ):
            args = {"project_id": API_PROJECT, "error_id": INTEGRITY}
            if shared_key:
                result = await client.call_tool("delete_error", args)
                assert not result.is_error and "Deleted error" in text_of(result)
            else:
                with pytest.raises(MCPError, match="Invalid or expired requestState"):
                    await client.call_tool("delete_error", args)
    assert asked and route.resumed_at_second >= 1
    assert any(r.method == "DELETE" for r in sandbox.state.control.log) == shared_key


async def test_a_store_outage_reaches_the_client_as_a_json_rpc_error_with_the_reason(
    sandbox: Starlette, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bugwarden.store import StoreError

    _, secret = token(home, "read")
    async with serving(sandbox, home) as (url, _), mcp_client(url, secret) as client:
        assert (await client.list_tools()).tools

        def down(self: TokenStore, presented: str) -> Any:
            raise StoreError("the database went away")

        monkeypatch.setattr(TokenStore, "check", down)
        with pytest.raises(MCPError) as raised:
            await client.call_tool("list_projects", {})
    assert "state store is unavailable" in str(raised.value)
    assert raised.value.error.code == -32000
