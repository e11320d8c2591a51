"""Upstream credentials and agent secrets appear nowhere: not in the state directory, logs or tool outputs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

from bugwarden.guard.tokens import TokenStore
from bugwarden.sandbox.bugsnag_seed import ADMIN_TOKEN
from bugwarden.store import Store
from tests.conftest import SandboxProcess

pytestmark = pytest.mark.anyio


def env_for(home: Path, **extra: str) -> dict[str, str]:
    return {"BUGWARDEN_HOME": str(home), "PATH": os.environ.get("PATH", ""), **extra}


def state_files(home: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in home.rglob("*") if p.is_file()}


def tokens(home: Path) -> TokenStore:
    return TokenStore(Store.sqlite(home).tokens)


async def test_no_secret_anywhere_after_a_session(tmp_path: Path, sandbox_process: SandboxProcess) -> None:
    info, secret = tokens(tmp_path).create("grep-test", "admin")
    outputs: list[str] = []
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "bugwarden", "serve", "-v"],
        env=sandbox_process.env(tmp_path, BUGWARDEN_TOKEN=secret),
    )
    async with Client(params) as client:
        outputs.append(str(await client.list_tools()))
        projects = await client.call_tool("list_projects", {})
        outputs.append(str(projects))
        for project in projects.structured_content["projects"]:
            errors = await client.call_tool("list_errors", {"project_id": project["id"], "limit": 100})
            outputs.append(str(errors))
            for error in errors.structured_content["errors"][:3]:
                for tool in ("get_bug_context", "generate_fix_prompt", "get_error"):
                    args = {"project_id": project["id"], "error_id": error["id"]}
                    outputs.append(str(await client.call_tool(tool, args)))
                    outputs.append(str(await client.call_tool(tool, {**args, "token": secret})))
        outputs.append(str(await client.call_tool("list_errors", {"project_id": "nope", "cursor": secret})))
    haystacks = state_files(tmp_path)
    for needle in (secret, ADMIN_TOKEN):
        for path, data in haystacks.items():
            if path.name == "tokens.sqlite3" and needle == ADMIN_TOKEN:
                continue
            assert needle.encode() not in data, f"{needle[:6]}… found in {path.name}"
        assert all(needle not in o for o in outputs)
    assert info.id.encode() in (tmp_path / "audit.sqlite3").read_bytes() or any(
        info.id.encode() in d for p, d in haystacks.items() if p.name.startswith("audit")
    )


@pytest.mark.parametrize("state", ["unknown", "revoked"])
def test_a_bad_bugwarden_token_stops_stdio_with_a_clear_message(tmp_path: Path, state: str) -> None:
    store = tokens(tmp_path)
    info, secret = store.create("stopped", "read")
    if state == "revoked":
        store.revoke(info.id)
    else:
        secret = "bw_" + "x" * 43
    proc = subprocess.run(
        [sys.executable, "-m", "bugwarden", "serve"],
        capture_output=True,
        text=True,
        timeout=30,
        input="",
        env=env_for(tmp_path, BUGWARDEN_TOKEN=secret, BUGSNAG_AUTH_TOKEN="t"),
    )
    assert proc.returncode != 0 and proc.stdout == ""
    assert f"BUGWARDEN_TOKEN refused: {'unknown' if state == 'unknown' else 'bugwarden token'}" in proc.stderr
    assert secret not in proc.stderr
