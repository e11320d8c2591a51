"""The console's Signals page: the signals newest first, upstream text escaped and cleaned, a live poll, admins
only; and a webhook to the server with its pages on (a public URL) still lands."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from bugwarden.hooks.payload import merge, read_delivery
from bugwarden.store.hooks import HookStore
from bugwarden.store.signals import SignalStore
from tests.conftest import API_PROJECT
from tests.web.helpers import Site, sign_in, site

pytestmark = pytest.mark.anyio
HOSTILE = '<img src=x onerror="window.pwned=1">\u202eexe.txt'


def land(s: Site, n: int, message: str = "'sku'") -> None:
    body = {
        "project": {"id": API_PROJECT},
        "trigger": {"type": "firstException", "message": "New unhandled error"},
        "error": {"id": f"{n:024x}", "errorId": f"{n + 7:024x}", "exceptionClass": "KeyError", "message": message},
    }
    delivery = read_delivery(body, API_PROJECT)
    fields = {**delivery.fields, "hook_id": "h", "received_at": "2026-12-03T10:00:00.000Z"}
    SignalStore(s.store.hooks).record(delivery.dedup_key, fields, time.time(), merge, 86400)


async def test_the_signals_page_lists_escapes_and_polls(sandbox: Starlette, home: Path) -> None:
    async with site(sandbox, home) as s:
        s.add_person("ada", admin=True)
        s.add_person("dev", bundle="triage")
        land(s, 1, HOSTILE)
        async with httpx.AsyncClient(base_url=s.url) as http:
            await sign_in(http, "ada")
            page = await http.get("/console/signals")
            assert page.status_code == 200 and 'data-seq="1"' in page.text and f"{8:024x}" in page.text
            assert "<img" not in page.text and "&lt;img" in page.text and "\u202e" not in page.text
            assert 'data-poll="/console/signals/poll?"' in page.text
            land(s, 2)
            new = (await http.get("/console/signals/poll", params={"after": 1})).json()
            assert new["count"] == 1 and new["after"] == 2 and 'data-seq="2"' in new["rows"]
        async with httpx.AsyncClient(base_url=s.url) as http:
            await sign_in(http, "dev")
            assert (await http.get("/console/signals")).status_code == 403
            assert (await http.get("/console/signals/poll")).status_code == 403


async def test_a_delivery_lands_with_the_pages_on_and_a_wrong_secret_looks_like_any_unknown_route(
    sandbox: Starlette, home: Path
) -> None:
    async with site(sandbox, home) as s:
        _, secret = HookStore(s.store.hooks).create(API_PROJECT)
        body = {"project": {"id": API_PROJECT}, "trigger": {"type": "projectSpiking", "rate": 12}}
        async with httpx.AsyncClient(base_url=s.url) as http:
            accepted = await http.post(f"/hooks/bugsnag/{secret}", json=body)
            wrong = await http.post(f"/hooks/bugsnag/{'B' * 43}", json=body)
            unknown = await http.post("/no/such/page", json=body)
        assert accepted.status_code == 200
        assert (wrong.status_code, wrong.text) == (unknown.status_code, unknown.text)
        assert SignalStore(s.store.hooks).count() == 1
