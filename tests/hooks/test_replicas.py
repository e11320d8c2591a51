"""Two replicas on one PostgreSQL database: a delivery lands on one, a client subscribed on the other is told,
reads the signal and resolves the error."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from starlette.applications import Starlette

from bugwarden.store import Store
from bugwarden.store.hooks import HookStore
from bugwarden.store.signals import SignalStore
from tests.conftest import API_PROJECT, make_settings
from tests.hooks.test_end_to_end import SIGNALS, raise_in_sandbox
from tests.snapshot import text_of
from tests.test_http import mcp_client, serving
from tests.test_replicas import issue

pytestmark = pytest.mark.anyio


async def test_a_delivery_to_one_replica_reaches_a_subscriber_on_the_other(
    sandbox: Starlette, home: Path, pg_url: str
) -> None:
    _, secret = issue(home, pg_url, "triage")
    store = Store.open(make_settings(home, database_url=pg_url))
    try:
        _, hook_secret = HookStore(store.hooks).create(API_PROJECT)
        db = {"database_url": pg_url}
        async with (
            serving(sandbox, home, settings=db) as (url_a, _),
            serving(sandbox, home, settings=db) as (url_b, _),
            mcp_client(url_b, secret) as client,
        ):
            sandbox.state.control.hooks = [f"{url_a}/hooks/bugsnag/{hook_secret}"]
            async with client.listen(resource_subscriptions=[SIGNALS]) as subscription:
                raised = await raise_in_sandbox(sandbox)
                assert raised["deliveries"] == [200, 200]
                with anyio.fail_after(10):
                    event = await subscription.__anext__()
            assert getattr(event, "uri", None) == SIGNALS
            listed = await client.call_tool("list_signals", {"project_id": API_PROJECT})
            (row,) = listed.structured_content["signals"]
            assert row["error_id"] == raised["error_id"]
            resolved = await client.call_tool("resolve_error", {"project_id": API_PROJECT, "error_id": row["error_id"]})
            assert not resolved.is_error, text_of(resolved)
        assert SignalStore(store.hooks).count() == 1
        assert HookStore(store.hooks).list()[0].accepted == 2
    finally:
        store.close()
