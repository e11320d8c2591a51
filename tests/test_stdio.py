"""A real stdio subprocess: `bugwarden demo`, driven by the SDK client; stdout carries only JSON-RPC."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

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
