"""`bugwarden hooks add|list|remove|tail`: one command mints the URL to paste into BugSnag."""

from __future__ import annotations

from pathlib import Path

import pytest

from bugwarden.cli import main
from bugwarden.store import Store
from bugwarden.store.hooks import HookStore, secret_hash
from tests.conftest import API_PROJECT, make_settings


@pytest.fixture
def env(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BUGWARDEN_HOME", str(home))
    return home


def test_add_prints_the_url_once_as_the_last_line_and_stores_only_its_hash(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["hooks", "add", "--project", API_PROJECT, "--public-url", "https://bw.example.com/"]) == 0
    url = capsys.readouterr().out.strip().splitlines()[-1]
    assert url.startswith("https://bw.example.com/hooks/bugsnag/")
    secret = url.rsplit("/", 1)[1]
    assert len(secret) >= 40
    store = Store.open(make_settings(env))
    try:
        assert HookStore(store.hooks).find(secret) is not None
        raw = (env / "hooks.sqlite3").read_bytes()
        assert secret.encode() not in raw and secret_hash(secret).encode() in raw
    finally:
        store.close()


def test_add_uses_bugwarden_public_url_and_refuses_without_one(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["hooks", "add", "--project", API_PROJECT]) == 2
    assert "--public-url" in capsys.readouterr().err
    assert main(["hooks", "add", "--project", "../x", "--public-url", "https://a.example"]) == 2
    monkeypatch.setenv("BUGWARDEN_PUBLIC_URL", "https://public.example")
    assert main(["hooks", "add", "--project", API_PROJECT]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("https://public.example/hooks/bugsnag/")


def test_list_remove_and_tail(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["hooks", "add", "--project", API_PROJECT, "--public-url", "https://a.example"])
    secret = capsys.readouterr().out.strip().splitlines()[-1].rsplit("/", 1)[1]
    assert main(["hooks", "list"]) == 0
    listed = capsys.readouterr().out
    hook_id = listed.split("\t")[0]
    assert hook_id.startswith("hook_") and "accepted 0\trefused 0" in listed and secret not in listed
    assert main(["hooks", "tail"]) == 0
    assert "no signals yet" in capsys.readouterr().out
    assert main(["hooks", "remove", hook_id]) == 0
    assert "404" in capsys.readouterr().out
    assert main(["hooks", "remove", hook_id]) == 2
    assert "already removed" in capsys.readouterr().err
    assert main(["hooks", "list"]) == 0
    assert "no hooks yet" in capsys.readouterr().out


def test_serve_refuses_a_bad_allow_list(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["serve", "--transport", "http", "--hooks-from", "not-a-network"])
    assert code == 2 and "not an address or CIDR" in capsys.readouterr().err
