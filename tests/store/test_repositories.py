"""The repositories that took the SQL out of guard/ and backends/ (issue 23), on both databases: each database gets
its own audit chain (the head is read for update where PostgreSQL needs it), a link that does not follow the head
is refused without touching the chain, and the token, consent and quota repositories keep what they promise."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bugwarden.backends.quota import Said, Word, decide
from bugwarden.config import Settings
from bugwarden.guard.audit import AuditLog
from bugwarden.store import Store, StoreError
from bugwarden.store.audit_chain import ChainHead, ChainLink, PostgresAuditChain, SqliteAuditChain, audit_chain
from bugwarden.store.consent import consent_repository
from bugwarden.store.quota import SqlQuotaRepository
from bugwarden.store.schema import GENESIS
from bugwarden.store.tokens import TokenInfo, token_repository


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        settings = Settings.from_env({}, home=str(tmp_path / "home"))
    else:
        settings = Settings.from_env({}, home=str(tmp_path / "unused"), database_url=request.getfixturevalue("pg_url"))
    opened = Store.open(settings)
    yield opened
    opened.close()


def test_each_database_gets_its_own_audit_chain(store: Store) -> None:
    chain = audit_chain(store.audit)
    expected = SqliteAuditChain if store.kind == "sqlite" else PostgresAuditChain
    assert type(chain) is expected
    assert PostgresAuditChain.HEAD_FOR_UPDATE.endswith(" FOR UPDATE")
    assert "FOR UPDATE" not in SqliteAuditChain.HEAD_FOR_UPDATE  # BEGIN IMMEDIATE holds the file's lock already


def test_the_chain_hands_the_head_under_the_lock_and_refuses_a_link_that_does_not_follow_it(store: Store) -> None:
    log = AuditLog(store.audit)
    log.append({"tool": "first"})
    seen: list[ChainHead] = []

    def stale(head: ChainHead) -> ChainLink:
        seen.append(head)
        return ChainLink(head.seq, "2026-12-01T00:00:00.000Z", "{}", GENESIS, "0" * 64, None, {})

    with pytest.raises(StoreError, match="cannot follow"):
        log.chain.append(stale)
    (head,) = seen
    assert head.seq == 1 and head.hash == log.last(1)[0]["hash"] and head.last_ts == log.last(1)[0]["ts"]
    assert log.count() == 1 and log.verify() == (True, "ok: 1 records, chain intact")
    log.append({"tool": "second"})
    assert log.verify() == (True, "ok: 2 records, chain intact")


def test_the_token_repository_tells_unknown_from_already_revoked(store: Store) -> None:
    tokens = token_repository(store.tokens)
    info = TokenInfo(
        "tok_1", "agent", frozenset({"errors:read"}), frozenset({"p"}), "2026-12-01T00:00:00+00:00", None, None, None
    )
    tokens.add(info, "h" * 64)
    assert tokens.get("tok_1") == info and tokens.list() == [info]
    stored = tokens.by_secret_hash("h" * 64)
    assert stored is not None and stored.info == info and stored.access_expires_at is None
    assert tokens.by_secret_hash("x" * 64) is None
    assert tokens.revoke("tok_1", "2026-12-02T00:00:00+00:00") is True
    assert tokens.revoke("tok_1", "2026-12-03T00:00:00+00:00") is False
    assert tokens.revoke("tok_nope", "2026-12-03T00:00:00+00:00") is None
    revoked = tokens.get("tok_1")
    assert revoked is not None and revoked.revoked_at == "2026-12-02T00:00:00+00:00"


def test_the_consent_repository_uses_a_code_once_and_lets_a_decline_lapse(store: Store) -> None:
    consent = consent_repository(store.state)
    assert consent.use("n1", expires_at=1_000.0, now=900.0) is True
    assert consent.use("n1", expires_at=1_000.0, now=950.0) is False
    assert consent.use("n1", expires_at=2_000.0, now=1_001.0) is True  # its row expired with the code
    consent.decline("digest", now=0.0)
    assert consent.declined("digest", now=1.0) and not consent.declined("other", now=1.0)
    assert not consent.declined("digest", now=24 * 3600.0 + 1)


def test_the_quota_repository_records_a_send_only_when_the_decision_is_go(store: Store) -> None:
    quota = SqlQuotaRepository(store.state)

    def reserve(now: float, said: Said | None = None) -> float:
        def paced(sent: list[float], word: Word) -> float:
            return decide(sent, now, *word)

        return quota.reserve("k", now, said=said, forget_before=now - 120, max_block=3600, decide=paced)

    assert reserve(100.0, said=(2, 1, 100.0)) == 0  # the upstream says one is left of two: ours
    assert quota.last_word("k") == (2, 1)
    assert reserve(101.0) == 0
    assert reserve(102.0) == pytest.approx(58.0)  # both taken: the first ages out a minute after it was sent
    assert reserve(102.5) == pytest.approx(57.5)  # a refused request was not recorded as sent
    quota.block("k", (None, None, 103.0), until=500.0)
    assert quota.last_word("k") == (2, 1)  # a 429 without headers keeps what was said before
    assert reserve(200.0) == pytest.approx(300.0)
    assert reserve(501.0) == 0
