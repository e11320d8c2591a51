"""The hooks component on both stores: hooks stored hashed, signals de-duplicated, ordered by change, kept for
their retention, and their hook counted in the same transaction."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bugwarden.hooks.payload import merge, read_delivery
from bugwarden.store import Store
from bugwarden.store.hooks import HookError, HookStore
from bugwarden.store.signals import SignalStore
from tests.conftest import API_PROJECT, WEB_PROJECT, make_settings


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, home: Path) -> Any:
    if request.param == "postgres":
        url = request.getfixturevalue("pg_url")
        opened = Store.open(make_settings(home, database_url=url))
    else:
        opened = Store.sqlite(home)
    yield opened
    opened.close()


def record(signals: SignalStore, project: str, event: int, trigger: str, received: float, hook: str | None = None):
    body = {
        "project": {"id": project},
        "trigger": {"type": trigger},
        "error": {"id": f"{event:024x}", "errorId": f"{event:024x}", "message": "m"},
    }
    delivery = read_delivery(body, project)
    fields = {**delivery.fields, "hook_id": "h", "received_at": "2026-12-03T00:00:00.000Z"}
    return signals.record(delivery.dedup_key, fields, received, merge, keep_for=1000.0, hook_id=hook)


def test_signals_merge_replay_page_and_expire(store: Any) -> None:
    hooks, signals = HookStore(store.hooks), SignalStore(store.hooks)
    hook, secret = hooks.create(API_PROJECT)
    assert hooks.find(secret) == hook and hooks.find(secret + "x") is None
    assert record(signals, API_PROJECT, 1, "exception", 100.0, hook.id) == ("new", 1)
    assert record(signals, API_PROJECT, 1, "firstException", 101.0, hook.id) == ("merged", 2)
    assert record(signals, API_PROJECT, 1, "firstException", 102.0, hook.id) == ("duplicate", 2)
    assert record(signals, WEB_PROJECT, 2, "exception", 103.0) == ("new", 3)
    (listed,) = hooks.list()
    assert (listed.accepted, listed.refused) == (2, 1) and listed.last_delivery_at is not None
    rows, after = signals.page(projects={API_PROJECT})
    assert [r["trigger_type"] for r in rows] == ["firstException"] and after is None
    rows, after = signals.page(limit=1)
    assert [r["project_id"] for r in rows] == [WEB_PROJECT] and after == 3
    rows, _ = signals.page(limit=1, before=after)
    assert rows[0]["triggers"] == ",firstException,exception,"
    assert signals.changes_after(1) == [(2, API_PROJECT), (3, WEB_PROJECT)]
    record(signals, API_PROJECT, 3, "exception", 1103.5)  # kept 1000 s: the first two are gone
    assert {r["project_id"] for r in signals.page()[0]} == {API_PROJECT} and signals.count() == 1
    hooks.remove(hook.id)
    assert hooks.find(secret) is None
    with pytest.raises(HookError, match="already removed"):
        hooks.remove(hook.id)
