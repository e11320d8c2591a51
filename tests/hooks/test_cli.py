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
    capsys.readouterr()
    assert main(["hooks", "add", "--project", API_PROJECT, "--public-url", "http://bw.example.com"]) == 0
    assert "plain HTTP" in capsys.readouterr().err
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


def test_tail_prints_signals_oldest_first(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import time

    from bugwarden.hooks.payload import merge, read_delivery
    from bugwarden.store.signals import SignalStore

    store = Store.open(make_settings(env))
    try:
        for n, message in enumerate(["first", "second"]):
            body = {
                "project": {"id": API_PROJECT},
                "trigger": {"type": "firstException"},
                "error": {"id": f"{n:024x}", "errorId": f"{n + 5:024x}", "exceptionClass": "E", "message": message},
            }
            d = read_delivery(body, API_PROJECT)
            fields = {**d.fields, "hook_id": "h", "received_at": "2026-12-03T10:00:00.000Z"}
            SignalStore(store.hooks).record(d.dedup_key, fields, time.time(), merge, 86400)
    finally:
        store.close()
    assert main(["hooks", "tail", "-n", "5"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "E: first" in lines[0] and "E: second" in lines[1] and f"error {5:024x}" in lines[0]


def test_the_sandbox_fires_its_webhook_at_a_receiver(home: Path, tmp_path: Path) -> None:
    """`bugwarden sandbox --hook URL`: raising an error there POSTs BugSnag's deliveries to URL."""
    import http.server
    import json
    import os
    import subprocess
    import sys
    import threading

    import httpx

    received: list[dict[str, object]] = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    listener = http.server.HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=listener.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{listener.server_address[1]}/hooks/bugsnag/s"
    proc = subprocess.Popen(
        [sys.executable, "-m", "bugwarden", "sandbox", "--port", "0", "--hook", url],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    try:
        assert proc.stdout is not None
        base = proc.stdout.readline().split(": ", 1)[1].strip()
        raised = httpx.post(f"{base}/_sandbox/projects/{API_PROJECT}/raise", json={"message": "boom"}, timeout=30)
        assert raised.status_code == 201 and raised.json()["deliveries"] == [200, 200]
        error = httpx.get(
            f"{base}/projects/{API_PROJECT}/errors/{raised.json()['error_id']}",
            headers={"Authorization": "token sandbox-admin-token"},
            timeout=30,
        )
        assert error.status_code == 200 and error.json()["message"] == "boom"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout:
            proc.stdout.close()
        listener.shutdown()
        listener.server_close()
    assert [d["trigger"]["type"] for d in received] == ["firstException", "exception"]  # type: ignore[index]
    frame = received[0]["error"]["stackTrace"][0]  # type: ignore[index]
    assert isinstance(frame["lineNumber"], str), "the vendor's quirk: line numbers as strings"
    assert received[0]["error"]["errorId"] == raised.json()["error_id"]  # type: ignore[index]
