"""The store contract, run against both stores: SQLite files under one BUGWARDEN_HOME, and one PostgreSQL
database. Each test opens two stores on the same state, as two processes or two replicas would, and holds
them to what the repositories promise: one audit chain, tokens and revocations seen by both, single-use
confirmation codes, one signing key, one call budget and one upstream quota between them."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bugwarden.backends.quota import StoredQuota
from bugwarden.config import Settings
from bugwarden.guard.audit import AuditLog
from bugwarden.guard.consent import ConsentBook
from bugwarden.guard.errors import Refusal
from bugwarden.guard.tokens import TokenError, TokenStore
from bugwarden.store import Store, StoreError
from bugwarden.store.buckets import CallBudgets
from bugwarden.store.keys import KeyRing
from bugwarden.store.quota import SqlQuotaRepository
from bugwarden.store.schema import COMPONENTS, Schema

Opener = Callable[[], Store]


@pytest.fixture(params=["sqlite", "postgres"])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """Opens another store on the same state each time it is called (closed when the test ends)."""
    if request.param == "sqlite":
        settings = Settings.from_env({}, home=str(tmp_path / "home"))
    else:
        settings = Settings.from_env({}, home=str(tmp_path / "unused"), database_url=request.getfixturevalue("pg_url"))
    opened: list[Store] = []

    def opener() -> Store:
        opened.append(Store.open(settings))
        return opened[-1]

    yield opener
    for store in opened:
        store.close()


def test_a_token_made_by_one_is_known_to_the_other_and_revoked_for_both(open_store: Opener) -> None:
    a, b = TokenStore(open_store().tokens), TokenStore(open_store().tokens)
    info, secret = a.create("agent", "read")
    assert b.verify(secret).id == info.id
    assert b.revoke(info.id)[1] is True and a.revoke(info.id)[1] is False
    with pytest.raises(TokenError, match="revoked"):
        a.verify(secret)


def test_concurrent_appends_from_two_stores_make_one_chain(open_store: Opener) -> None:
    logs = [AuditLog(open_store().audit), AuditLog(open_store().audit)]
    verdicts: list[tuple[bool, str]] = []
    done = threading.Event()

    def append(n: int) -> int:
        return logs[n % 2].append({"tool": "t", "n": n})

    def keep_verifying() -> None:
        while not done.is_set():
            verdicts.append(logs[0].verify())

    watcher = threading.Thread(target=keep_verifying)
    watcher.start()
    with ThreadPoolExecutor(8) as pool:
        seqs = list(pool.map(append, range(200)))
    done.set()
    watcher.join()
    assert sorted(seqs) == list(range(1, 201))
    assert logs[1].verify() == (True, "ok: 200 records, chain intact")
    assert verdicts and all(ok for ok, _ in verdicts), [m for ok, m in verdicts if not ok][:1]


def test_a_confirmation_code_is_good_once_whichever_store_redeems_it(open_store: Opener) -> None:
    a, b = open_store(), open_store()
    books = [ConsentBook(s.state, lambda s=s: KeyRing(s.state).key("consent")) for s in (a, b)]  # type: ignore[misc]
    code = books[0].issue("digest")
    books[1].redeem(code, "digest")
    with pytest.raises(Refusal, match="already used"):
        books[0].redeem(code, "digest")
    # Two replicas racing with one code: exactly one wins.
    code = books[1].issue("other")
    results: list[str] = []

    def redeem(n: int) -> None:
        try:
            books[n % 2].redeem(code, "other")
            results.append("ok")
        except Refusal:
            results.append("refused")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(redeem, range(8)))
    assert sorted(results) == ["ok"] + ["refused"] * 7


def test_a_decline_seen_by_one_holds_at_the_other(open_store: Opener) -> None:
    a, b = open_store(), open_store()
    ConsentBook(a.state, lambda: b"k" * 32).decline("digest")
    with pytest.raises(Refusal, match="declined"):
        ConsentBook(b.state, lambda: b"k" * 32).issue("digest")


def test_both_get_the_same_signing_keys_even_when_they_race_to_create_them(open_store: Opener) -> None:
    stores = [open_store(), open_store()]
    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda n: KeyRing(stores[n % 2].state).key("cursor"), range(8)))
    assert len(keys) == 1 and len(next(iter(keys))) == 32


def test_the_call_budget_is_one_budget(open_store: Opener) -> None:
    budgets = [CallBudgets(open_store().state, 10), CallBudgets(open_store().state, 10)]
    with ThreadPoolExecutor(8) as pool:
        waits = list(pool.map(lambda n: budgets[n % 2].take("calls:tok", 1000.0, 0.0), range(12)))
    assert sorted(w == 0 for w in waits) == [False, False] + [True] * 10


def test_the_upstream_quota_is_one_quota(open_store: Opener) -> None:
    ledgers = [StoredQuota(SqlQuotaRepository(open_store().state)), StoredQuota(SqlQuotaRepository(open_store().state))]
    ledgers[0].observe("bugsnag:k", 1000.0, limit=30, remaining=30, retry_after=None)
    assert ledgers[0].reserve("bugsnag:k", 1000.0) == 0  # what the upstream said is written with this request
    with ThreadPoolExecutor(8) as pool:
        waits = list(pool.map(lambda n: ledgers[n % 2].reserve("bugsnag:k", 1000.0 + n / 100), range(1, 40)))
    assert 1 + sum(1 for w in waits if w <= 0) == 30  # never more than the upstream allows, whoever asks
    assert ledgers[1].last_word("bugsnag:k") == (30, 30)
    assert ledgers[1].reserve("bugsnag:k", 1061.0) == 0  # the window moved on
    ledgers[1].observe("bugsnag:k", 1061.0, limit=None, remaining=None, retry_after=120)
    assert ledgers[0].reserve("bugsnag:k", 1062.0) == pytest.approx(119.0)  # a 429's Retry-After binds both


def test_the_schema_is_current_and_a_newer_one_is_refused(open_store: Opener) -> None:
    store = open_store()
    schema = Schema(store.audit, ("audit",))
    assert all(s.ok for s in schema.status())
    with store.audit.transaction(write=True) as tx:
        tx.execute(
            "UPDATE schema_versions SET version = ? WHERE component = 'audit'", (COMPONENTS["audit"][-1].version + 1,)
        )
    with pytest.raises(StoreError, match="newer than this bugwarden knows"):
        schema.require_current()
    with pytest.raises(StoreError, match="upgrade bugwarden"):
        schema.migrate()
