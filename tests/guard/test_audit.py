"""The audit log: every call recorded, hash-chained, tamper-evident, concurrent-safe and crash-safe."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import anyio
import pytest
from mcp import Client
from starlette.applications import Starlette

from bugwarden.cli import main as cli
from bugwarden.guard.audit import AuditLog, redact
from tests.conftest import API_PROJECT, make_settings, server_for

pytestmark = pytest.mark.anyio


def filled_log(tmp_path: Path, n: int = 5) -> AuditLog:
    log = AuditLog(tmp_path / "audit.sqlite3")
    for i in range(n):
        log.append({"tool": f"t{i}", "decision": "allowed", "phase": "result"})
    return log


def test_a_fresh_chain_verifies(tmp_path: Path) -> None:
    log = filled_log(tmp_path)
    assert log.verify() == (True, "ok: 5 records, chain intact")
    assert oct(os.stat(tmp_path / "audit.sqlite3").st_mode & 0o777) == "0o600"


def _sql(tmp_path: Path, statement: str, *params: object) -> None:
    db = sqlite3.connect(tmp_path / "audit.sqlite3")
    db.execute(statement, params)
    db.commit()
    db.close()


def test_an_edit_is_detected(tmp_path: Path) -> None:
    filled_log(tmp_path).close()
    _sql(tmp_path, "UPDATE audit SET record = replace(record, '\"t2\"', '\"tX\"') WHERE seq = 3")
    ok, message = AuditLog(tmp_path / "audit.sqlite3").verify()
    assert not ok and message.startswith("record 3:")


def test_a_deletion_is_detected(tmp_path: Path) -> None:
    filled_log(tmp_path).close()
    _sql(tmp_path, "DELETE FROM audit WHERE seq = 2")
    ok, message = AuditLog(tmp_path / "audit.sqlite3").verify()
    assert not ok and message.startswith("record 3:")


def test_cutting_off_the_end_is_detected(tmp_path: Path) -> None:
    filled_log(tmp_path).close()
    _sql(tmp_path, "DELETE FROM audit WHERE seq = 5")
    ok, message = AuditLog(tmp_path / "audit.sqlite3").verify()
    assert not ok and "removed from the end" in message


def test_an_insertion_is_detected(tmp_path: Path) -> None:
    log = filled_log(tmp_path)
    rows = list(log.rows())
    log.close()
    _sql(tmp_path, "UPDATE audit SET seq = -seq WHERE seq >= 3")
    _sql(tmp_path, "UPDATE audit SET seq = 1 - seq WHERE seq < 0")
    _, ts, body, _, digest = rows[1]
    _sql(tmp_path, "INSERT INTO audit VALUES (3, ?, ?, ?, ?)", ts, body.replace('"t1"', '"forged"'), digest, digest)
    ok, message = AuditLog(tmp_path / "audit.sqlite3").verify()
    assert not ok and message.startswith("record 3:")


def test_a_reordering_is_detected(tmp_path: Path) -> None:
    filled_log(tmp_path).close()
    _sql(tmp_path, "UPDATE audit SET seq = -1 WHERE seq = 2")
    _sql(tmp_path, "UPDATE audit SET seq = 2 WHERE seq = 4")
    _sql(tmp_path, "UPDATE audit SET seq = 4 WHERE seq = -1")
    ok, message = AuditLog(tmp_path / "audit.sqlite3").verify()
    assert not ok and message.startswith("record 2:")


def test_cli_verify_exits_non_zero_naming_the_record(tmp_path: Path, monkeypatch, capsys) -> None:  # type: ignore
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


async def test_concurrent_invocations_get_unique_contiguous_sequence_numbers(sandbox: Starlette, home) -> None:  # type: ignore
    server = server_for(sandbox, make_settings(home))
    async with Client(server) as client, anyio.create_task_group() as tg:
        for i in range(40):
            tg.start_soon(client.call_tool, "list_errors", {"project_id": API_PROJECT, "limit": 1 + i % 5})
    records = list(server.audit.records())
    assert [r["seq"] for r in records] == list(range(1, 41))
    assert server.audit.verify()[0]
    assert all(r["principal_name"] and r["transport"] == "stdio" and r["duration_ms"] is not None for r in records)
    server.audit.close()


async def test_a_record_carries_the_invocation_facts(sandbox: Starlette, home) -> None:  # type: ignore
    server = server_for(sandbox, make_settings(home))
    async with Client(server, client_info=None) as client:
        await client.call_tool("resolve_error", {"project_id": API_PROJECT, "error_id": "ec0d6c73fe01b5443e71589e"})
    intent, result = list(server.audit.records())
    assert intent["phase"] == "intent" and result["phase"] == "result"
    assert intent["invocation"] == result["invocation"] and intent["seq"] < result["seq"]
    assert result["targets"] == {"project_id": API_PROJECT, "error_id": "ec0d6c73fe01b5443e71589e"}
    assert result["decision"] == "allowed" and result["outcome"] == "ok" and result["result_bytes"] > 0
    assert result["prev_hash"] == intent["hash"]
    server.audit.close()


def test_killing_the_server_mid_run_leaves_a_verifiable_log(tmp_path: Path) -> None:
    """Every answered call has its record, and the chain still verifies after SIGKILL."""
    env = {"BUGWARDEN_HOME": str(tmp_path), "PATH": os.environ.get("PATH", "")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bugwarden", "demo", "--rate-limit", "100000"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        text=True,
    )
    assert proc.stdin and proc.stdout

    def send(message: dict) -> None:  # type: ignore[type-arg]
        proc.stdin.write(json.dumps(message) + "\n")  # type: ignore[union-attr]
        proc.stdin.flush()  # type: ignore[union-attr]

    send(
        {
            "jsonrpc": "2.0",
            "id": 0,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "crash-test", "version": "1"},
            },
        }
    )
    proc.stdout.readline()
    send({"jsonrpc": "2.0", "method": "notifications/initialized"})
    answered = 0
    for i in range(1, 9):
        send(
            {
                "jsonrpc": "2.0",
                "id": i,
                "method": "tools/call",
                "params": {"name": "list_projects" if i % 2 else "list_errors", "arguments": {}},
            }
        )
        json.loads(proc.stdout.readline())
        answered += 1
    for i in range(9, 30):  # in flight when the kill lands
        send({"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": {"name": "list_projects", "arguments": {}}})
    time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    proc.stdin.close()
    proc.stdout.close()
    log = AuditLog(tmp_path / "audit.sqlite3")
    ok, message = log.verify()
    assert ok, message
    records = list(log.records())
    assert len(records) >= answered
    assert {r["client_name"] for r in records} == {"crash-test"}


async def test_records_carry_the_upstream_status(sandbox: Starlette, home) -> None:  # type: ignore
    server = server_for(sandbox, make_settings(home))
    async with Client(server) as client:
        await client.call_tool("list_errors", {"project_id": API_PROJECT})
        await client.call_tool("get_error", {"project_id": API_PROJECT, "error_id": "000000000000000000000000"})
    ok, missing = list(server.audit.records())
    assert (ok["outcome"], ok["upstream_status"]) == ("ok", 200)
    assert (missing["outcome"], missing["upstream_status"]) == ("NotFound", 404)
    server.audit.close()


def test_a_crash_between_commit_and_checkpoint_is_not_tampering(tmp_path: Path) -> None:
    log = filled_log(tmp_path, 3)
    checkpoint = log.head_path.read_text()
    log.append({"tool": "t3", "decision": "allowed", "phase": "result"})
    log.close()
    log.head_path.write_text(checkpoint)  # the process died before rewriting the head
    ok, message = AuditLog(tmp_path / "audit.sqlite3").verify()
    assert ok and "1 after the last checkpoint" in message


def test_a_replaced_tail_is_detected(tmp_path: Path) -> None:
    filled_log(tmp_path, 5).close()
    _sql(tmp_path, "DELETE FROM audit WHERE seq >= 4")
    forged = AuditLog(tmp_path / "audit.sqlite3")
    head = forged.head_path.read_text()
    forged.append({"tool": "forged", "decision": "allowed", "phase": "result"})
    forged.append({"tool": "forged", "decision": "allowed", "phase": "result"})
    forged.close()
    (tmp_path / "audit.head").write_text(head)  # keep the old checkpoint: seq 5 now has another hash
    ok, message = AuditLog(tmp_path / "audit.sqlite3").verify()
    assert not ok and message.startswith("record 5:")
