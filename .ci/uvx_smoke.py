"""CI: `uvx --from . bugwarden demo`, driven by the MCP SDK client over stdio: list tools, call two."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import anyio
from mcp import Client, StdioServerParameters


async def main() -> None:
    root = Path(__file__).parents[1]
    uvx = shutil.which("uvx")
    if uvx is None:
        raise SystemExit("uvx not found on PATH")
    env = {
        k: v
        for k, v in os.environ.items()
        if k in ("PATH", "HOME", "UV_CACHE_DIR", "SSL_CERT_FILE", "PIP_INDEX_URL", "UV_INDEX_URL", "UV_DEFAULT_INDEX")
    }
    env["BUGWARDEN_HOME"] = str(root / ".ci-venv" / "uvx-home")
    params = StdioServerParameters(command=uvx, args=["--from", str(root), "bugwarden", "demo"], env=env)
    async with Client(params) as client:
        tools = {t.name for t in (await client.list_tools()).tools}
        assert {"list_projects", "get_bug_context"} <= tools, tools
        projects = await client.call_tool("list_projects", {})
        assert not projects.is_error, projects
        project = projects.structured_content["projects"][0]["id"]
        errors = await client.call_tool("list_errors", {"project_id": project, "limit": 1})
        assert not errors.is_error, errors
    print(f"uvx smoke: {len(tools)} tools listed, list_projects and list_errors answered")


if __name__ == "__main__":
    anyio.run(main)
    sys.exit(0)
