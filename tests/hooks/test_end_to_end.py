"""From a new error in the sandbox to an agent that was told of it: the webhook, the store, the notification, the
tool, and the error tools on the signal's ids, over real HTTP with the SDK's client."""

from __future__ import annotations

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
