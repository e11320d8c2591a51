"""Token lifecycle at the shell: a token limited to an empty or unknown project is refused, and creations and
revocations are audited without their secrets (review 3, item 7)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from bugwarden.cli import main as cli
from bugwarden.guard.audit import AuditLog
from bugwarden.guard.tokens import TokenStore
from bugwarden.project_check import unknown_projects
from bugwarden.store import Store
from tests.conftest import API_PROJECT, make_settings


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BUGWARDEN_HOME", str(tmp_path))
    return tmp_path


@pytest.mark.parametrize("project", ["", "   "])
def test_an_empty_project_is_refused_not_read_as_all_projects(
    home: Path, project: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(["token", "create", "--name", "bot", "--scopes", "read", "--project", project]) == 2
    assert "--project must not be empty" in capsys.readouterr().err
    store = Store.sqlite(home)
    try:
        assert TokenStore(store.tokens).list() == []
    finally:
        store.close()


@pytest.mark.anyio
async def test_an_unknown_project_is_found_out_before_a_token_is_minted(sandbox: Starlette, home: Path) -> None:
    settings = make_settings(home)
    unknown = await unknown_projects(
        settings, [API_PROJECT, "000000000000000000000000"], transport=httpx.ASGITransport(app=sandbox)
    )
    assert unknown == ["000000000000000000000000"]


def test_creating_and_revoking_a_token_is_audited_without_its_secret(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(["token", "create", "--name", "ci-bot", "--scopes", "read", "--project", "p1"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    secret, token_id = out[-1], out[0].split()[1]
    assert cli(["token", "revoke", token_id]) == 0
    assert cli(["token", "revoke", "tok_nope"]) == 2
    store = Store.sqlite(home)
    try:
        records = list(AuditLog.for_store(store).records())
        ok, message = AuditLog.for_store(store).verify()
    finally:
        store.close()
    assert ok, message
    assert secret not in json.dumps(records)
    outcomes = [(r["tool"], r["decision"], r["targets"].get("token_id")) for r in records if r["phase"] == "result"]
    assert outcomes == [
        ("token.create", "allowed", token_id),
        ("token.revoke", "allowed", token_id),
        ("token.revoke", "invalid", None),
    ]
    created = next(r for r in records if r["tool"] == "token.create" and r["phase"] == "result")
    assert created["arguments"]["projects"] == ["p1"] and created["principal_id"].startswith("os:")
