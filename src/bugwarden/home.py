"""`GET /` on the HTTP server: a small page saying what this is and where an MCP client connects.

Someone who opens the server's address in a browser (or with curl) learns that it is an MCP server, the URL of
its MCP endpoint, how a client authenticates, and the `bugwarden connect` lines that configure one. It shows no
configuration, no data and nothing secret: the same page for everyone, without a token.

Links to other pages come from `LINKS`: each entry gets the HTTP options and returns a (label, path) or None.
The console adds itself there (`/console`, served when the server has a public URL).
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response


class Served(Protocol):
    """What the page reads of `config.HttpSettings`."""

    @property
    def base_url(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def public_url(self) -> str | None: ...


def _console(options: Served) -> tuple[str, str] | None:
    return ("Console: audit log, agents and their access (sign in)", "/console") if options.public_url else None


LINKS: list[Callable[[Served], tuple[str, str] | None]] = [_console]
"""Extra links on the page, in order; an entry returns None to leave itself out."""

CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"


def page(options: Served) -> str:
    """The page's HTML for a server with these options."""
    endpoint = f"{options.base_url}{options.path}"
    e = html.escape
    auth = (
        "Clients sign in with OAuth (they discover it from the endpoint's 401), or send an agent token as "
        "<code>Authorization: Bearer bw_…</code>."
        if options.public_url
        else "Clients send an agent token: <code>Authorization: Bearer bw_…</code> "
        "(<code>bugwarden token create --name NAME --scopes triage</code> prints one)."
    )
    connect = "\n".join(
        f"<li><code>bugwarden connect {client} --url {e(endpoint)}</code></li>"
        for client in ("claude-code", "vscode", "cursor", "inspector")
    )
    links = [link for make in LINKS if (link := make(options)) is not None]
    more = "".join(f'<li><a href="{e(href)}">{e(label)}</a></li>' for label, href in links)
    return f"""<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>bugwarden: MCP server</title>
<style>body{{font-family:system-ui,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem;line-height:1.5}}
code{{background:#f3f3f3;padding:0 .2rem}}</style></head>
<body>
<h1>bugwarden</h1>
<p>This is an <strong>MCP server</strong>: it gives AI agents governed access to error trackers (BugSnag, BugPort),
with scoped agent tokens and a tamper-evident audit log. There is nothing to browse here; connect an MCP client.</p>
<h2>Where to connect</h2>
<p>MCP endpoint (Streamable HTTP): <code>{e(endpoint)}</code></p>
<p>{auth}</p>
<h2>Set up a client</h2>
<ul>
{connect}
</ul>
<p>Claude (claude.ai, Desktop) adds remote servers as connectors:
<code>bugwarden connect claude --url {e(endpoint)}</code> prints the steps.</p>
{f"<h2>More</h2><ul>{more}</ul>" if more else ""}
<p><a href="/healthz">/healthz</a> answers <code>{{"status": "ok"}}</code> while the server is up.</p>
</body>
</html>
"""


def home_route(options: Served) -> Callable[[Request], Any]:
    """The handler for `GET /` (the page is built once: it depends only on the options)."""
    body = page(options)

    async def home(request: Request) -> Response:
        response = HTMLResponse(body)
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    return home
