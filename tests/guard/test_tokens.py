"""Agent tokens: format, storage as hashes only, revocation and expiry, and the CLI around them."""

from __future__ import annotations

import os
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bugwarden.cli import main as cli
from bugwarden.guard.tokens import TokenError, TokenStore, parse_duration
from bugwarden.store import Store


def tokens(home: Path) -> TokenStore:
    return TokenStore(Store.sqlite(home).tokens)


def test_created_tokens_are_long_random_and_stored_only_as_hashes(tmp_path: Path) -> None:
    store = tokens(tmp_path)
    info, secret = store.create("ci-agent", "read", ["p1"], "30d")
    assert secret.startswith("bw_") and len(secret) >= 3 + 43  # 32 random bytes, base64url
    assert info.scopes == {"errors:read", "projects:read"} and info.projects == {"p1"}
    assert secret not in (tmp_path / "tokens.sqlite3").read_bytes().decode("latin-1")
    assert oct(os.stat(tmp_path / "tokens.sqlite3").st_mode & 0o777) == "0o600"
    principal = store.verify(secret)
    assert principal.id == info.id and principal.projects == {"p1"}
    assert store.get(info.id).last_used_at is not None


def test_unknown_revoked_and_expired_tokens_are_refused(tmp_path: Path) -> None:
    store = tokens(tmp_path)
    with pytest.raises(TokenError, match="unknown"):
        store.verify("bw_nope")
    info, secret = store.create("a", "triage")
    store.revoke(info.id)
    with pytest.raises(TokenError, match="revoked"):
        store.verify(secret)
    info, secret = store.create("b", "read", expires_in="1m")
    db = sqlite3.connect(tmp_path / "tokens.sqlite3")
    db.execute(
        "UPDATE tokens SET expires_at = ? WHERE id = ?",
        ((datetime.now(UTC) - timedelta(seconds=1)).isoformat(), info.id),
    )
    db.commit()
    with pytest.raises(TokenError, match="expired"):
        store.verify(secret)


def test_an_empty_scope_list_grants_nothing(tmp_path: Path) -> None:
    info, secret = tokens(tmp_path).create("nothing", "")
    assert info.scopes == frozenset() and tokens(tmp_path).verify(secret).scopes == frozenset()


def test_durations() -> None:
    assert parse_duration("30d") == timedelta(days=30) and parse_duration("2w") == timedelta(weeks=2)
    with pytest.raises(ValueError, match="30d"):
        parse_duration("forever")


def test_cli_prints_the_secret_once_as_the_last_line(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("BUGWARDEN_HOME", str(tmp_path))
    assert cli(["token", "create", "--name", "bot", "--scopes", "errors:read,projects:read", "--project", "p1"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    secret = out[-1]
    assert secret.startswith("bw_")
    assert cli(["token", "list"]) == 0
    listing = capsys.readouterr().out
    assert "bot" in listing and secret not in listing and "active" in listing
    token_id = listing.splitlines()[1].split()[0]  # under the table's header
    assert cli(["token", "revoke", token_id]) == 0
    assert cli(["token", "list"]) == 0 and "revoked" in capsys.readouterr().out
    assert cli(["token", "create", "--name", "x", "--scopes", "everything"]) == 2
    assert "unknown scope 'everything'" in capsys.readouterr().err
