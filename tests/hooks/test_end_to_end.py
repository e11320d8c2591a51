"""From a new error in the sandbox to an agent that was told of it: the webhook, the store, the notification, the
tool, and the error tools on the signal's ids, over real HTTP with the SDK's client."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from starlette.applications import Starlette

from bugwarden.store import Store
from bugwarden.store.hooks import HookStore
from tests.conftest import API_PROJECT, make_settings
from tests.snapshot import text_of
from tests.test_http import mcp_client, serving, token

pytestmark = pytest.mark.anyio
SIGNALS = f"bugsnag://projects/{API_PROJECT}/signals"


def add_hook(home: Path, project: str = API_PROJECT, **settings: Any) -> tuple[str, str]:
    store = Store.open(make_settings(home, **settings))
    try:
        hook, secret = HookStore(store.hooks).create(project)
    finally:
        store.close()
    return hook.id, secret


async def raise_in_sandbox(sandbox: Starlette, project: str = API_PROJECT, **spec: Any) -> dict[str, Any]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox), base_url="http://sandbox.test") as c:
        response = await c.post(f"/_sandbox/projects/{project}/raise", json=spec)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_a_new_sandbox_error_reaches_a_subscribed_client_which_reads_and_resolves_it(
    sandbox: Starlette, home: Path
) -> None:
    _, secret = token(home, "triage")
    _, hook_secret = add_hook(home)
    async with serving(sandbox, home) as (url, _), mcp_client(url, secret) as client:
        sandbox.state.control.hooks = [f"{url}/hooks/bugsnag/{hook_secret}"]
        async with client.listen(resource_subscriptions=[SIGNALS]) as subscription:
            assert subscription.honored.resource_subscriptions == [SIGNALS]
            raised = await raise_in_sandbox(sandbox, message="'sku' missing from the cart")
            assert raised["deliveries"] == [200, 200]
            with anyio.fail_after(10):
                event = await subscription.__anext__()
        assert getattr(event, "uri", None) == SIGNALS
        listed = await client.call_tool("list_signals", {"project_id": API_PROJECT, "since": "15m"})
        assert not listed.is_error, text_of(listed)
        rows = listed.structured_content["signals"]
        assert [r["error_id"] for r in rows] == [raised["error_id"]]
        assert rows[0]["triggers"] == ["firstException", "exception"] and rows[0]["event_id"] == raised["event_id"]
        assert "get_error" in text_of(listed) and "'sku' missing from the cart" in text_of(listed)
        read = await client.call_tool("get_error", {"project_id": API_PROJECT, "error_id": rows[0]["error_id"]})
        assert not read.is_error and "'sku' missing from the cart" in text_of(read)
        resolved = await client.call_tool("resolve_error", {"project_id": API_PROJECT, "error_id": raised["error_id"]})
        assert not resolved.is_error and "fixed" in text_of(resolved)


async def test_a_handshake_session_subscribes_with_resources_subscribe_and_is_notified(
    sandbox: Starlette, home: Path
) -> None:
    _, secret = token(home, "read")
    _, hook_secret = add_hook(home)
    updates: list[str] = []
    got = anyio.Event()

    async def on_message(message: Any) -> None:
        uri = getattr(getattr(message, "params", None), "uri", None)
        if uri is not None:
            updates.append(str(uri))
            got.set()

    async with (
        serving(sandbox, home) as (url, _),
        mcp_client(url, secret, mode="legacy", message_handler=on_message) as client,
    ):
        sandbox.state.control.hooks = [f"{url}/hooks/bugsnag/{hook_secret}"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            await client.subscribe_resource(SIGNALS)
        await raise_in_sandbox(sandbox)
        with anyio.fail_after(10):
            await got.wait()
        read = await client.read_resource(SIGNALS)
    assert updates[0] == SIGNALS
    assert "new error (firstException, exception)" in read.contents[0].text  # type: ignore[union-attr]


async def test_a_flood_of_deliveries_is_refused_past_the_rate_while_mcp_calls_go_on(
    sandbox: Starlette, home: Path
) -> None:
    from bugwarden.config import HookOptions

    _, secret = token(home, "read")
    _, hook_secret = add_hook(home)
    body = json.dumps({"project": {"id": API_PROJECT}, "trigger": {"type": "projectSpiking", "rate": 1}})
    statuses: list[int] = []
    answered: list[bool] = []
    peak = 0
    async with serving(sandbox, home, hooks=HookOptions(rate=10, max_in_flight=4)) as (url, server):
        receiver = server.receiver

        async def flood(task: int, n: int) -> None:
            nonlocal peak
            async with httpx.AsyncClient(timeout=30) as http:
                for i in range(n):
                    response = await http.post(
                        f"{url}/hooks/bugsnag/{hook_secret}",
                        content=body.replace('"rate": 1', f'"rate": {task * 1000 + i}'),  # no two alike
                        headers={"Content-Type": "application/json"},
                    )
                    statuses.append(response.status_code)
                    peak = max(peak, receiver.in_flight)

        async def agent() -> None:
            async with mcp_client(url, secret) as client:
                for _ in range(5):
                    result = await client.call_tool("list_errors", {"project_id": API_PROJECT, "limit": 1})
                    answered.append(not result.is_error)

        async with anyio.create_task_group() as tg:
            for task in range(6):
                tg.start_soon(flood, task, 40)
            tg.start_soon(agent)
        await receiver.flush(everything=True)
    assert answered == [True] * 5
    assert statuses.count(200) == 10 and set(statuses) <= {200, 429}
    assert peak <= 4
    store = Store.open(make_settings(home))
    try:
        hook = HookStore(store.hooks).list()[0]
        # Turned away for room, before the hook is looked up, a delivery is not counted on the hook.
        assert hook.accepted == 10 and 0 < hook.refused <= statuses.count(429)
    finally:
        store.close()


async def test_a_subscription_ends_when_its_token_is_revoked_and_hears_nothing_more(
    sandbox: Starlette, home: Path
) -> None:
    from bugwarden.guard.tokens import TokenStore

    token_id, secret = token(home, "read")
    _, hook_secret = add_hook(home)
    async with serving(sandbox, home) as (url, server), mcp_client(url, secret) as client:
        sandbox.state.control.hooks = [f"{url}/hooks/bugsnag/{hook_secret}"]
        async with client.listen(resource_subscriptions=[SIGNALS]) as subscription:
            TokenStore(server.store.tokens).revoke(token_id)
            await raise_in_sandbox(sandbox)
            with anyio.fail_after(10), pytest.raises(StopAsyncIteration):
                await subscription.__anext__()
        assert server.watch is not None and server.watch.announced == 0
