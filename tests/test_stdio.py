"""A real stdio subprocess: `bugwarden demo`, driven by the SDK client; stdout carries only JSON-RPC."""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

from bugwarden.stdio import NOTICE
from tests.snapshot import text_of

pytestmark = pytest.mark.anyio


async def test_demo_over_stdio_lists_and_calls_tools(tmp_path: Path) -> None:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "bugwarden", "demo"], env={"BUGWARDEN_HOME": str(tmp_path)}
    )
    async with Client(params) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        assert "resolve_error" in names and "list_projects" in names
        projects = await client.call_tool("list_projects", {})
        assert not projects.is_error and "Api Server" in text_of(projects)
        pid = next(p["id"] for p in projects.structured_content["projects"] if p["untrusted"]["name"] == "Api Server")
        errors = await client.call_tool("list_errors", {"project_id": pid, "limit": 2})
        assert not errors.is_error and len(errors.structured_content["errors"]) == 2


def test_stdout_carries_only_json_rpc(tmp_path: Path) -> None:
    """Every stdout line is a JSON-RPC message; logs (the demo announces itself) go to stderr."""
    requests = [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "t", "version": "1"},
            },
        },
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
        {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "list_errors", "arguments": {}}},
    ]
    proc = subprocess.Popen(
        [sys.executable, "-m", "bugwarden", "demo", "-v"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={"BUGWARDEN_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    assert proc.stdin and proc.stdout
    proc.stdin.write("".join(json.dumps(r) + "\n" for r in requests))
    proc.stdin.flush()
    # Keep stdin open until every answer is in: EOF means the client left, and in-flight calls are cancelled.
    lines = [proc.stdout.readline() for _ in range(3)]
    rest, stderr = proc.communicate(timeout=60)  # closes stdin: the server then shuts down
    lines += [line for line in rest.splitlines() if line.strip()]
    assert len(lines) == 3
    messages = [json.loads(line) for line in lines]
    assert all(m["jsonrpc"] == "2.0" for m in messages)
    assert {m["id"] for m in messages} == {1, 2, 3}
    assert "demo: sandbox APIs at" in stderr


def start_in(stdin: int, *args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    """`bugwarden ARGS` with the given stdin, returned once it logged that it serves (its stderr lines so far in
    `.seen`)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bugwarden", *args],
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={"PATH": "/usr/bin:/bin", **env},
    )
    assert proc.stderr
    seen: list[str] = []
    while "serving MCP on stdio" not in (seen[-1] if seen else ""):
        line = proc.stderr.readline()
        assert line or proc.poll() is None, f"exited before serving: {''.join(seen)}"
        seen.append(line)
    proc.seen = seen  # type: ignore[attr-defined]
    return proc


def finish(proc: subprocess.Popen[str]) -> str:
    proc.wait(30)
    rest = proc.stderr.read() if proc.stderr else ""
    for stream in (proc.stdout, proc.stderr):
        if stream:
            stream.close()
    return "".join(proc.seen) + rest  # type: ignore[attr-defined]


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 0)])
def test_the_demo_in_a_terminal_says_it_waits_and_stops_on_ctrl_c_or_sigterm(
    tmp_path: Path, signum: int, code: int
) -> None:
    """A person who runs the demo by hand reads that it waits for a client and how to stop it; Ctrl-C (SIGINT)
    and SIGTERM both stop it, and it deletes its throw-away state."""
    primary, terminal = pty.openpty()
    try:
        proc = start_in(terminal, "demo", env={"TMPDIR": str(tmp_path)})
        assert any(NOTICE in line for line in proc.seen)  # type: ignore[attr-defined]
        assert [p.name[:15] for p in tmp_path.iterdir()] == ["bugwarden-demo-"]
        proc.send_signal(signum)
        stderr = finish(proc)
    finally:
        os.close(primary)
        os.close(terminal)
    assert proc.returncode == code, stderr
    assert "Traceback" not in stderr and list(tmp_path.iterdir()) == []


def test_serve_in_a_terminal_stops_on_ctrl_c(tmp_path: Path) -> None:
    primary, terminal = pty.openpty()
    try:
        proc = start_in(
            terminal,
            "serve",
            env={"BUGWARDEN_HOME": str(tmp_path), "BUGSNAG_AUTH_TOKEN": "t", "BUGSNAG_API_URL": "http://127.0.0.1:9"},
        )
        assert any(NOTICE in line for line in proc.seen)  # type: ignore[attr-defined]
        proc.send_signal(signal.SIGINT)
        stderr = finish(proc)
    finally:
        os.close(primary)
        os.close(terminal)
    assert proc.returncode == 130 and "Traceback" not in stderr, stderr


def test_a_host_gets_no_notice_and_closing_stdin_stops_the_demo(tmp_path: Path) -> None:
    """A host's pipe is not a terminal: no notice. EOF on stdin ends the demo normally, state deleted."""
    proc = start_in(subprocess.PIPE, "demo", env={"TMPDIR": str(tmp_path)})
    assert not any(NOTICE in line for line in proc.seen)  # type: ignore[attr-defined]
    assert proc.stdin
    proc.stdin.close()
    stderr = finish(proc)
    assert proc.returncode == 0 and NOTICE not in stderr and "Traceback" not in stderr, stderr
    assert list(tmp_path.iterdir()) == []
