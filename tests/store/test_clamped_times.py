"""Stored times are trusted only within their lifetimes: a budget, a quota block or a sent-request row dated in the
future (a replica's clock ahead, an edited store) does not refuse calls for a day, and a confirmation code that
claims to outlive the code lifetime is refused."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bugwarden.backends.quota import StoredQuota
from bugwarden.guard.consent import CODE_TTL, ConsentBook
from bugwarden.guard.errors import Refusal
from bugwarden.store import Store
from bugwarden.store.buckets import CallBudgets
from bugwarden.store.quota import SqlQuotaRepository

NOW = 1_800_000_000.0
DAY = 86_400.0


def _state(home: Path, statement: str, *params: object) -> None:
    db = sqlite3.connect(home / "state.sqlite3")
    db.execute(statement, params)
    db.commit()
    db.close()


def test_a_budget_dated_a_day_ahead_refuses_for_about_a_minute_at_most(tmp_path: Path) -> None:
    store = Store.sqlite(tmp_path)
    budgets = CallBudgets(store.state, limit=60)
    assert budgets.take("calls:p", NOW, 0) == 0
    _state(tmp_path, "UPDATE buckets SET tat = ? WHERE key = 'calls:p'", NOW + DAY)
    wait = budgets.take("calls:p", NOW, 0)
    assert 0 < wait <= 61 + 1
    assert budgets.take("calls:p", NOW + 125, 0) == 0  # and it is over after its lifetime
    store.close()


@pytest.mark.anyio
async def test_a_quota_block_dated_a_day_ahead_lasts_at_most_the_longest_retry_after(tmp_path: Path) -> None:
    store = Store.sqlite(tmp_path)
    ledger = StoredQuota(SqlQuotaRepository(store.state))
    assert await ledger.acquire("k", NOW) == 0
    await ledger.record("k", NOW, limit=30, remaining=29, retry_after=5)
    _state(tmp_path, "UPDATE quota_word SET blocked_until = ? WHERE key = 'k'", NOW + DAY)
    assert 0 < await ledger.acquire("k", NOW) <= 3600
    assert await ledger.acquire("k", NOW + 3601) == 0
    store.close()


@pytest.mark.anyio
async def test_sent_rows_dated_a_day_ahead_age_out_within_a_window(tmp_path: Path) -> None:
    store = Store.sqlite(tmp_path)
    ledger = StoredQuota(SqlQuotaRepository(store.state))
    assert await ledger.acquire("k", NOW) == 0
    await ledger.record("k", NOW, limit=1, remaining=0, retry_after=None)
    _state(tmp_path, "UPDATE quota_sent SET at = ? WHERE key = 'k'", NOW + DAY)
    assert 0 < await ledger.acquire("k", NOW + 1) <= 60
    assert await ledger.acquire("k", NOW + 200) == 0
    store.close()


def test_a_code_that_outlives_the_code_lifetime_is_refused(tmp_path: Path) -> None:
    store = Store.sqlite(tmp_path)
    book = ConsentBook(store.state, lambda: b"k" * 32, clock=lambda: NOW)
    expires = int(NOW + 10 * CODE_TTL)
    nonce = "0123456789ab"
    forged = f"cf_{expires:x}_{nonce}_{book._mac(expires, nonce, 'digest')}"
    with pytest.raises(Refusal, match="longer than any code"):
        book.redeem(forged, "digest")
    book.redeem(book.issue("digest"), "digest")  # a fresh code still works
    store.close()
