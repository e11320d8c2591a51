"""Failed bearer authentications over HTTP are audited, without secrets, one record per source per interval."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from bugwarden.guard.audit import AuditLog
from bugwarden.guard.auth_failures import AuthFailures
from bugwarden.store import Store
from tests.conftest import FakeClock
from tests.test_http import HEADERS, INIT, serving, token, tokens

pytestmark = pytest.mark.anyio


def failures(audit: AuditLog) -> list[dict]:
    return [r for r in audit.records() if r["tool"] == "auth.bearer"]


async def test_wrong_and_revoked_bearers_are_audited_without_the_secret(sandbox: Starlette, home: Path) -> None:
    token_id, secret = token(home, "read")
    tokens(home).revoke(token_id)
    wrong = "bw_" + "x" * 43
    async with serving(sandbox, home) as (url, server), httpx.AsyncClient() as http:
        for credential in (wrong, secret, wrong, wrong):
            refused = await http.post(
                f"{url}/mcp", json=INIT, headers={**HEADERS, "Authorization": f"Bearer {credential}"}
            )
            assert refused.status_code == 401
        missing = await http.post(f"{url}/mcp", json=INIT, headers=HEADERS)  # no credential: a client discovering
        assert missing.status_code == 401
        recorded = failures(server.audit)
    assert len(recorded) == 1  # four failures from one address within the interval: one record
    (record,) = recorded
    assert record["decision"] == "denied" and record["outcome"] == "unauthenticated"
    assert record["arguments"]["source"] == "127.0.0.1" and record["arguments"]["failures"] == 1
    assert wrong not in json.dumps(record) and secret not in json.dumps(record)


async def test_failures_are_counted_per_source_and_interval(home: Path) -> None:
    store = Store.sqlite(home)
    clock = FakeClock()
    audit = AuditLog.for_store(store)
    counter = AuthFailures(audit, interval=60.0, clock=clock)
    for _ in range(5):
        await counter.failed("10.0.0.1", "unknown, expired or revoked token")
    await counter.failed("10.0.0.2", "unknown, expired or revoked token")
    clock.now += 61
    await counter.failed("10.0.0.1", "unknown, expired or revoked token")
    counts = [(r["arguments"]["source"], r["arguments"]["failures"]) for r in failures(audit)]
    store.close()
    assert counts == [("10.0.0.1", 1), ("10.0.0.2", 1), ("10.0.0.1", 5)]  # 4 held over, and this one
