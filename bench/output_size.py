"""Output size: what a model reads vs the raw API JSON behind it, and the size of tools/list per toolset.

python bench/output_size.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from urllib.parse import urlencode

import anyio
import httpx
from mcp import Client

sys.path.insert(0, str(Path(__file__).parent))
from _inproc import ERROR, PROJECT, URL, server
from _util import readme_row

from bugwarden.guard.principal import Principal
from bugwarden.guard.scopes import BUNDLES
from bugwarden.sandbox.bugsnag_seed import oid

MONSTER = oid("error", "api-server", "monster")


async def raw_bytes(sandbox, paths: list[str]) -> int:  # type: ignore[no-untyped-def]
    headers = {"Authorization": "token sandbox-admin-token", "X-Version": "2"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox), base_url=URL, headers=headers) as c:
        total = 0
        for path in paths:
            total += len((await c.get(path)).content)
        return total


async def smartbear_get_error(sandbox, project: str, error: str) -> int:  # type: ignore[no-untyped-def]
    """The bytes SmartBear's `bugsnag_get_error` answers for the same error, rebuilt from the same upstream
    answers as its source does (SmartBear/smartbear-mcp src/bugsnag/tool/error/get-error.ts): JSON.stringify of
    the error, the latest full event with its threads removed, the error's pivots with summary_size=5, and the
    dashboard URL with the filters it applied."""
    headers = {"Authorization": "token sandbox-admin-token", "X-Version": "2"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox), base_url=URL, headers=headers) as c:
        details = (await c.get(f"/projects/{project}/errors/{error}")).json()
        events = f"/projects/{project}/errors/{error}/events"
        latest = (await c.get(events, params={"per_page": "1", "full_reports": "true"})).json()[0]
        latest.pop("threads", None)
        pivots = (await c.get(f"/projects/{project}/errors/{error}/pivots", params={"summary_size": "5"})).json()
    query = urlencode([("filters[error][][type]", "eq"), ("filters[error][][value]", error)])
    content = {
        "error_details": details,
        "latest_event": latest,
        "pivots": pivots,
        "url": f"https://app.bugsnag.com/acme/api-server/errors/{error}?{query}",  # its filters ride along
    }
    return len(json.dumps(content, separators=(",", ":"), ensure_ascii=False).encode())


async def main() -> None:
    print("# get_bug_context vs SmartBear's bugsnag_get_error on the same error (reference: IntegrityError)")
    srv, sandbox = server()
    async with Client(srv) as client:
        result = await client.call_tool("get_bug_context", {"project_id": PROJECT, "error_id": ERROR})
    ours = len(result.content[0].text.encode())
    theirs = await smartbear_get_error(sandbox, PROJECT, ERROR)
    print(f"get_bug_context {ours:,} bytes vs bugsnag_get_error {theirs:,} bytes ({ours / theirs:.3f}x)")
    print("# output size: text a model reads vs the raw API JSON behind it")
    sizes: dict[str, tuple[int, int]] = {}
    for error in (ERROR, MONSTER):
        srv, sandbox = server()
        async with Client(srv) as client:
            result = await client.call_tool("get_bug_context", {"project_id": PROJECT, "error_id": error})
        text = len(result.content[0].text.encode())
        raw = await raw_bytes(
            sandbox,
            [
                f"/projects/{PROJECT}/errors/{error}",
                f"/errors/{error}/latest_event",
                f"/projects/{PROJECT}/errors/{error}/pivots?summary_size=3",
                f"/projects/{PROJECT}/errors/{error}/trend?buckets_count=14",
            ],
        )
        label = "hostile 500-frame/200 KB event" if error == MONSTER else "typical error"
        print(f"get_bug_context, {label:31s} {text:>8,} bytes of text vs {raw:>9,} raw JSON  ({text / raw:.3f}x)")
        sizes[error] = (text, raw)
    print("# tools/list bytes (JSON as sent), admin token")
    (text, raw), (hostile, hostile_raw) = sizes[ERROR], sizes[MONSTER]
    readme_row(
        "output size (`output_size.py`)",
        f"`get_bug_context` on the reference error: {ours / 1000:.1f} KB vs {theirs / 1000:.1f} KB for SmartBear's "
        f"`bugsnag_get_error` on the same error, rebuilt from the same upstream answers (**{ours / theirs:.3f}x**); "
        f"{text / 1000:.1f} KB of text for {raw / 1000:.1f} KB of API JSON ({text / raw:.2f}x); for "
        f"the hostile 500-frame, 200 KB-metadata event {hostile / 1000:.1f} KB for {hostile_raw / 1000:.0f} KB "
        f"({hostile / hostile_raw:.3f}x)",
    )
    listed: list[str] = []
    for toolsets in ("core", "core,insights", "all"):
        srv, _ = server(toolsets=toolsets, principal=Principal(id="b", name="bench", scopes=BUNDLES["admin"]))
        async with Client(srv) as client:
            tools = (await client.list_tools()).tools
        size = len(json.dumps([t.model_dump(by_alias=True, exclude_none=True, mode="json") for t in tools]))
        print(f"toolsets={toolsets:15s} {len(tools):>3} tools  {size:>7,} bytes  ({size / len(tools):,.0f} per tool)")
        listed.append(f"`{toolsets}` {len(tools)} tools {size / 1000:.1f} KB")
    readme_row(
        "`tools/list`, BugSnag only, admin token (`output_size.py`)",
        "; ".join(listed) + f" ({size / len(tools) / 1000:.1f} KB per tool)",
    )


if __name__ == "__main__":
    import logging

    logging.disable(logging.WARNING)
    anyio.run(main)
