"""The audit log: every call recorded, hash-chained, tamper-evident, safe across processes and crashes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import anyio
import pytest
from mcp import Client

from bugwarden.cli import main as cli
from bugwarden.guard.audit import AuditError, AuditLog, redact
from bugwarden.store import Store
from bugwarden.store.keys import KeyRing
from tests.conftest import API_PROJECT, Servers

pytestmark = pytest.mark.anyio


def filled_log(home: Path, n: int = 5) -> AuditLog:
    """A log written as a server writes it: its head keyed with the store's key."""
    store = Store.sqlite(home)
    key = KeyRing(store.state).key("audit-head")
    store.state.close()
    store.tokens.close()
    log = AuditLog(store.audit, head_key=lambda: key)
    for i in range(n):
        log.append({"tool": f"t{i}", "decision": "allowed", "phase": "result"})
    return log


def reopened(home: Path) -> AuditLog:
    return AuditLog(Store.sqlite(home).audit)


def _sql(home: Path, statement: str, *params: object) -> None:
    db = sqlite3.connect(home / "audit.sqlite3")
    db.execute(statement, params)
    db.commit()
    db.close()


def test_a_fresh_chain_verifies(tmp_path: Path) -> None:
    log = filled_log(tmp_path)
    assert log.verify() == (True, "ok: 5 records, chain intact")
    assert oct(os.stat(tmp_path / "audit.sqlite3").st_mode & 0o777) == "0o600"


def test_an_edit_is_detected(tmp_path: Path) -> None:
    filled_log(tmp_path).close()
    _sql(tmp_path, "UPDATE audit SET record = replace(record, '\"t2\"', '\"tX\"') WHERE seq = 3")
    ok, message = reopened(tmp_path).verify()
    assert not ok and message.startswith("record 3:")


def test_a_deletion_is_detected(tmp_path: Path) -> None:
    filled_log(tmp_path).close()
    _sql(tmp_path, "DELETE FROM audit WHERE seq = 2")
    ok, message = reopened(tmp_path).verify()
    assert not ok and message.startswith("record 3:")


def test_cutting_off_the_end_is_detected(tmp_path: Path) -> None:
    filled_log(tmp_path).close()
    _sql(tmp_path, "DELETE FROM audit WHERE seq = 5")
    ok, message = reopened(tmp_path).verify()
    assert not ok and "removed from the end" in message


def test_an_insertion_is_detected(tmp_path: Path) -> None:
    log = filled_log(tmp_path)
    rows = list(log.rows())
    log.close()
    _sql(tmp_path, "UPDATE audit SET seq = -seq WHERE seq >= 3")
    _sql(tmp_path, "UPDATE audit SET seq = 1 - seq WHERE seq < 0")
    _, ts, body, _, digest = rows[1]
    _sql(tmp_path, "INSERT INTO audit VALUES (3, ?, ?, ?, ?)", ts, body.replace('"t1"', '"forged"'), digest, digest)
    ok, message = reopened(tmp_path).verify()
    assert not ok and message.startswith("record 3:")


def test_a_reordering_is_detected(tmp_path: Path) -> None:
    filled_log(tmp_path).close()
    _sql(tmp_path, "UPDATE audit SET seq = -1 WHERE seq = 2")
    _sql(tmp_path, "UPDATE audit SET seq = 2 WHERE seq = 4")
    _sql(tmp_path, "UPDATE audit SET seq = 4 WHERE seq = -1")
    ok, message = reopened(tmp_path).verify()
    assert not ok and message.startswith("record 2:")


def test_a_replaced_tail_is_detected(tmp_path: Path) -> None:
    filled_log(tmp_path, 5).close()
    db = sqlite3.connect(tmp_path / "audit.sqlite3")
    head = db.execute("SELECT seq, hash FROM audit_head").fetchone()
    db.close()
    _sql(tmp_path, "DELETE FROM audit WHERE seq >= 4")
    _sql(tmp_path, "UPDATE audit_head SET seq = 3, hash = (SELECT hash FROM audit WHERE seq = 3)")
    forged = reopened(tmp_path)
    forged.append({"tool": "forged", "decision": "allowed", "phase": "result"})
    forged.append({"tool": "forged", "decision": "allowed", "phase": "result"})
    forged.close()
    _sql(tmp_path, "UPDATE audit_head SET seq = ?, hash = ?", *head)  # the old head: seq 5 now has another hash
    ok, message = reopened(tmp_path).verify()
    assert not ok and message.startswith("record 5:")


def test_a_head_left_by_version_0_1_is_honoured(tmp_path: Path) -> None:
    """A 0.1 log kept its head in a file; moving it into the database must not forgive a cut tail."""
    db = sqlite3.connect(tmp_path / "audit.sqlite3")
    db.execute("CREATE TABLE audit (seq INTEGER PRIMARY KEY, ts TEXT, record TEXT, prev_hash TEXT, hash TEXT)")
    db.commit()
    db.close()
    (tmp_path / "audit.head").write_text(f"2 {'a' * 64}\n")
    ok, message = reopened(tmp_path).verify()
    assert not ok and "removed from the end" in message


def test_cli_verify_exits_non_zero_naming_the_record(tmp_path: Path, monkeypatch, capsys) -> None:
    filled_log(tmp_path).close()
    monkeypatch.setenv("BUGWARDEN_HOME", str(tmp_path))
    assert cli(["audit", "verify"]) == 0
    _sql(tmp_path, "UPDATE audit SET record = replace(record, 't4', 'tY') WHERE seq = 5")
    assert cli(["audit", "verify"]) == 1
    assert "record 5:" in capsys.readouterr().err
    assert cli(["audit", "export", "--format", "jsonl"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 5 and json.loads(lines[0])["seq"] == 1


def test_secrets_in_arguments_are_redacted() -> None:
    assert redact({"token": "abc", "q": "bw_" + "x" * 40, "nested": {"api_key": "k"}}) == {
        "token": "[redacted]",
        "q": "[redacted]",
        "nested": {"api_key": "[redacted]"},
    }


def test_a_store_failure_is_an_audit_error_without_paths(tmp_path: Path) -> None:
    log = filled_log(tmp_path, 1)
    log.db.close()
    with pytest.raises(AuditError) as caught:
        log.append({"tool": "t"})
    assert str(caught.value) == "the audit log could not record this call" and str(tmp_path) not in str(caught.value)


async def test_concurrent_invocations_get_unique_contiguous_sequence_numbers(servers: Servers) -> None:
    server = servers()
    async with Client(server) as client, anyio.create_task_group() as tg:
        for i in range(40):
            tg.start_soon(client.call_tool, "list_errors", {"project_id": API_PROJECT, "limit": 1 + i % 5})
    records = list(server.audit.records())
    assert [r["seq"] for r in records] == list(range(1, 41))
    assert server.audit.verify()[0]
    assert all(r["principal_name"] and r["transport"] == "stdio" and r["duration_ms"] is not None for r in records)


async def test_a_record_carries_the_invocation_facts(servers: Servers) -> None:
    server = servers()
    async with Client(server, client_info=None) as client:
        await client.call_tool("resolve_error", {"project_id": API_PROJECT, "error_id": "ec0d6c73fe01b5443e71589e"})
    intent, result = list(server.audit.records())
    assert intent["phase"] == "intent" and result["phase"] == "result"
    assert intent["invocation"] == result["invocation"] and intent["seq"] < result["seq"]
    assert result["targets"] == {"project_id": API_PROJECT, "error_id": "ec0d6c73fe01b5443e71589e"}
    assert result["decision"] == "allowed" and result["outcome"] == "ok" and result["result_bytes"] > 0
    assert result["backend"] == "bugsnag" and result["prev_hash"] == intent["hash"]


async def test_records_carry_the_upstream_status(servers: Servers) -> None:
    server = servers()
    async with Client(server) as client:
        await client.call_tool("list_errors", {"project_id": API_PROJECT})
        await client.call_tool("get_error", {"project_id": API_PROJECT, "error_id": "000000000000000000000000"})
    ok, missing = list(server.audit.records())
    assert (ok["outcome"], ok["upstream_status"]) == ("ok", 200)
    assert (missing["outcome"], missing["upstream_status"]) == ("NotFound", 404)


def test_killing_the_server_mid_run_leaves_a_verifiable_log(tmp_path: Path) -> None:
    """Every answered call has its record, and the chain still verifies after SIGKILL."""
    env = {"BUGWARDEN_HOME": str(tmp_path), "PATH": os.environ.get("PATH", "")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bugwarden", "demo", "--rate-limit", "100000"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    assert proc.stdin and proc.stdout and proc.stderr
    announced = proc.stderr.readline()
    state = Path(announced.split("throw-away state in ", 1)[1].split(" (deleted on exit)")[0])
    assert state.parent != tmp_path  # the demo keeps away from BUGWARDEN_HOME

    def send(message: dict) -> None:
        proc.stdin.write(json.dumps(message) + "\n")  # type: ignore[union-attr]
        proc.stdin.flush()  # type: ignore[union-attr]

    init = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "crash-test", "version": "1"}}
    send({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": init})
    proc.stdout.readline()
    send({"jsonrpc": "2.0", "method": "notifications/initialized"})
    answered = 0
    for i in range(1, 9):
        name = "list_projects" if i % 2 else "list_errors"
        send({"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": {"name": name, "arguments": {}}})
        json.loads(proc.stdout.readline())
        answered += 1
    for i in range(9, 30):  # in flight when the kill lands
        send({"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": {"name": "list_projects", "arguments": {}}})
    time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    proc.stdin.close()
    proc.stdout.close()
    proc.stderr.close()
    assert not (tmp_path / "audit.sqlite3").exists()
    log = reopened(state)
    ok, message = log.verify()
    assert ok, message
    records = list(log.records())
    assert len(records) >= answered
    assert {r["client_name"] for r in records} == {"crash-test"}
    log.close()
    shutil.rmtree(state)  # SIGKILL left it: nothing ran the demo's clean-up


WRITER = textwrap.dedent(
    """
    import sys
    import anyio, httpx
    from mcp import Client
    from bugwarden.app import build_server
    from bugwarden.config import Settings
    from bugwarden.guard.principal import local_principal
    from bugwarden.sandbox.bugsnag_app import create_bugsnag_app
    from bugwarden.sandbox.bugsnag_seed import ADMIN_TOKEN, oid

    home, calls = sys.argv[1], int(sys.argv[2])
    settings = Settings.from_env({}, bugsnag_token=ADMIN_TOKEN, bugsnag_api_url="http://sandbox.test", home=home)
    sandbox = create_bugsnag_app(rate_limit=100_000)
    server = build_server(settings, principal=local_principal("triage"),
                          backend_transport=httpx.ASGITransport(app=sandbox))
    project, error = oid("project", "api-server"), oid("error", "api-server", "1")

    async def main() -> None:
        failures = 0
        async with Client(server) as client:
            for i in range(calls):
                if i % 2:
                    r = await client.call_tool("update_error", {"project_id": project, "error_id": error,
                                                                "operation": "ignore" if i % 4 == 1 else "open"})
                else:
                    r = await client.call_tool("list_errors", {"project_id": project, "limit": 1})
                failures += r.is_error
        print(failures)

    anyio.run(main)
    """
)


def test_three_processes_append_to_one_chain_and_verify_never_cries_wolf(tmp_path: Path) -> None:
    """Three servers sharing one BUGWARDEN_HOME (two editors and a desktop client): one chain, no lost or
    duplicated records, nothing an agent sees goes wrong, and `audit verify` is right while they write."""
    home = tmp_path / "home"
    Store.sqlite(home).close()
    calls = 60
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(home), str(calls)], stdout=subprocess.PIPE, text=True, env=env
        )
        for _ in range(3)
    ]
    verdicts = []
    log = reopened(home)
    while any(p.poll() is None for p in procs):
        verdicts.append(log.verify())
        time.sleep(0.02)
    outputs = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0]
    assert outputs == ["0", "0", "0"], "an agent saw an error"
    assert verdicts and all(ok for ok, _ in verdicts), [m for ok, m in verdicts if not ok][:3]
    records = list(log.records())
    results = [r for r in records if r["phase"] == "result"]
    intents = [r for r in records if r["phase"] == "intent"]
    assert len(results) == 3 * calls and len(intents) == 3 * calls // 2
    assert [r["seq"] for r in records] == list(range(1, len(records) + 1))
    assert {r["invocation"] for r in intents} <= {r["invocation"] for r in results}
    assert log.verify() == (True, f"ok: {len(records)} records, chain intact")
    log.close()
