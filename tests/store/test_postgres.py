"""PostgreSQL as the store: schema ceremony (`db migrate`, refusing what it does not know), messages without
passwords, `doctor`, and an outage: fail closed while the database is away, recover by itself when it is back."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from bugwarden.cli import main as cli
from bugwarden.config import Settings
from bugwarden.guard.audit import AuditLog
from bugwarden.guard.tokens import TokenStore
from bugwarden.store import Store, StoreError
from bugwarden.store.postgres import PostgresDatabase, redacted, translate
from bugwarden.store.schema import COMPONENTS
from tests.postgres import Cluster

T = TypeVar("T")


def recovered(attempt: Callable[[], T], within: float = 15.0) -> T:
    """The first result of `attempt` that does not raise StoreError, trying for up to `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        try:
            return attempt()
        except StoreError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def settings_for(url: str, tmp_path: Path) -> Settings:
    return Settings.from_env({}, home=str(tmp_path / "unused"), database_url=url)


def test_placeholders_and_redaction() -> None:
    assert translate("SELECT a FROM t WHERE b = ? AND c = ?") == "SELECT a FROM t WHERE b = %s AND c = %s"
    assert redacted("postgresql://bw:s3cret@db.internal:5432/bw") == "postgresql://bw:***@db.internal:5432/bw"
    assert redacted("postgresql://db.internal/bw") == "postgresql://db.internal/bw"
    assert redacted("postgresql://db/bw?sslmode=require&Password=x1&user=u") == (
        "postgresql://db/bw?sslmode=require&Password=***&user=u"
    )


def test_a_server_refuses_a_database_that_was_never_migrated(pg_cluster: Any, tmp_path: Path, capsys) -> None:
    url = pg_cluster.create_database("never_migrated")
    with pytest.raises(StoreError, match=r"version 0, this bugwarden needs \d+: run `bugwarden db migrate`"):
        Store.open(settings_for(url, tmp_path))
    assert cli(["db", "status", "--database-url", url]) == 0
    assert "(run `bugwarden db migrate`)" in capsys.readouterr().out
    assert cli(["db", "migrate", "--database-url", url]) == 0
    out = capsys.readouterr().out
    applied = "applied: tokens 1, tokens 2, tokens 3, tokens 4, audit 1, audit 2, audit 3, audit 4"
    assert applied in out and "(run" not in out
    assert cli(["db", "migrate", "--database-url", url]) == 0
    assert "\nthe schema is current\n" in capsys.readouterr().out
    Store.open(settings_for(url, tmp_path)).close()


def test_an_unreachable_database_is_one_line_without_the_password(tmp_path: Path, capsys) -> None:
    from tests.postgres import _free_port

    url = f"postgresql://bw:hunter2secret@127.0.0.1:{_free_port()}/bw"
    started = time.monotonic()
    with pytest.raises(StoreError) as caught:
        Store.open(settings_for(url, tmp_path))
    assert time.monotonic() - started < 10
    assert "hunter2secret" not in str(caught.value) and "127.0.0.1" in str(caught.value)
    assert cli(["token", "list", "--database-url", url]) == 2
    err = capsys.readouterr().err
    assert "hunter2secret" not in err and len(err.strip().splitlines()) == 1


def test_doctor_checks_the_database(pg_url: str, tmp_path: Path, monkeypatch, capsys) -> None:
    store = Store.open(settings_for(pg_url, tmp_path))
    AuditLog.for_store(store).append({"tool": "x"})
    store.close()
    monkeypatch.setenv("BUGWARDEN_DATABASE_URL", pg_url)
    cli(["doctor"])
    out = capsys.readouterr().out
    assert "ok   database: PostgreSQL at postgresql://" in out
    latest = ", ".join(f"{name} {steps[-1].version}/{steps[-1].version}" for name, steps in COMPONENTS.items())
    assert f"ok   database schema current ({latest})" in out
    assert "ok   audit log: ok: 1 records, chain intact" in out


def test_a_database_outage_fails_closed_and_recovers_by_itself(
    own_cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bugwarden.store.postgres.CHECKOUT_TIMEOUT", 0.5)  # the same path, sooner
    url = own_cluster.create_database("outage")
    db = PostgresDatabase(url)
    from bugwarden.store.schema import Schema

    Schema(db, Store.COMPONENTS).migrate()
    db.close()
    store = Store.open(settings_for(url, tmp_path))
    audit, tokens = AuditLog(store.audit), TokenStore(store.tokens)
    _, secret = tokens.create("agent", "read")
    audit.append({"n": 1})
    own_cluster.stop()
    try:
        started = time.monotonic()
        with pytest.raises(Exception, match="could not record"):
            audit.append({"n": 2})
        with pytest.raises(StoreError, match=r"PostgreSQL at postgresql://bugwarden@127\.0\.0\.1.* unreachable"):
            tokens.verify(secret)
        assert time.monotonic() - started < 20  # bounded waits, not a hang
    finally:
        own_cluster.start()
    assert recovered(lambda: tokens.verify(secret)).name == "agent"  # the same store, no restart
    audit.append({"n": 3})
    assert audit.verify() == (True, "ok: 2 records, chain intact")
    store.close()
