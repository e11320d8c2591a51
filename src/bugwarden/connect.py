"""`bugwarden connect CLIENT`: write (or print) a client's configuration for bugwarden, entry named `bugwarden`.

Clients: `claude-desktop`, `claude-code`, `vscode`, `cursor`, `inspector`, and `claude` (Claude's remote
connectors). Over stdio the entry launches this installation (`serve`, or `demo` with `--demo`) with the
`BUGSNAG_*`/`BUGPORT_*`/`BUGWARDEN_*` variables set in the current shell; with `--url URL` it points at a
Streamable HTTP endpoint, with a bearer header (the agent token in `BUGWARDEN_TOKEN`) unless `--oauth` leaves
the sign-in to the client.

Files are merged: other servers, inputs and settings are kept, a changed file is backed up first
(`NAME.bak-YYYYMMDDTHHMMSSZ`) and replaced atomically with its permissions kept, and a file that cannot be
parsed (or that has comments a rewrite would lose) is refused with nothing changed.

Secrets: a file only the user reads (Claude Desktop's, Cursor's `~/.cursor/mcp.json`, an Inspector file) gets
the values, and is created owner-only; project files (`.mcp.json`, `.vscode/mcp.json`, a Cursor `--file`) and
printed commands get references the client or the shell resolves (`${BUGSNAG_AUTH_TOKEN}`,
`${input:bugwarden-…}`, `"$BUGSNAG_AUTH_TOKEN"`), never the value. `--print` shows secrets as placeholders.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

ENTRY = "bugwarden"
NODE_FOR_INSPECTOR = "22.19"

CARRIED = (
    "BUGSNAG_AUTH_TOKEN",
    "BUGSNAG_USER_EMAIL",
    "BUGSNAG_PASSWORD",
    "BUGSNAG_PASSWORD_FILE",
    "BUGSNAG_API_URL",
    "BUGSNAG_PROJECT_ID",
    "BUGPORT_TOKEN",
    "BUGPORT_API_URL",
    "BUGWARDEN_TOKEN",
    "BUGWARDEN_HOME",
    "BUGWARDEN_DATABASE_URL",
    "BUGWARDEN_STATE_KEY",
    "BUGWARDEN_TOOLSETS",
    "BUGWARDEN_CACHE_TTL",
    "BUGWARDEN_CACHE_FRESH",
    "BUGWARDEN_CONFIRM",
)
"""The variables a stdio launch takes from the current shell (hosts start servers with a minimal environment)."""
SECRETS = frozenset(
    {
        "BUGSNAG_AUTH_TOKEN",
        "BUGSNAG_PASSWORD",
        "BUGPORT_TOKEN",
        "BUGWARDEN_TOKEN",
        "BUGWARDEN_DATABASE_URL",
        "BUGWARDEN_STATE_KEY",
    }
)

Style = Literal["value", "shell", "dollar", "cursor", "vscode"]
"""How a secret is written: its value; "$NAME" for a shell; ${NAME} (Claude Code); ${env:NAME} (Cursor);
${input:bugwarden-name} (VS Code, which asks once and keeps it in its secret storage)."""


class ConnectError(Exception):
    """The configuration cannot be written as asked; nothing was changed. The message says what to do."""


@dataclass(frozen=True, slots=True)
class Launch:
    """A stdio server: the command line and the variables it needs."""

    command: str
    args: tuple[str, ...]
    env: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Remote:
    """A Streamable HTTP server; `bearer` says whether the entry sends `Authorization: Bearer BUGWARDEN_TOKEN`."""

    url: str
    bearer: bool


Server = Launch | Remote


@dataclass
class Refs:
    """Writes secrets in one style; remembers the VS Code inputs it referenced."""

    style: Style
    env: Mapping[str, str]
    placeholders: bool = False
    inputs: list[dict[str, Any]] = field(default_factory=list)

    def secret(self, name: str) -> str:
        if self.style == "value":
            if self.placeholders:
                return f"<{name}>"
            value = self.env.get(name)
            if value is None:
                raise ConnectError(_missing(name))
            return value
        if self.style == "shell":
            return f"${name}"
        if self.style == "dollar":
            return "${" + name + "}"
        if self.style == "cursor":
            return "${env:" + name + "}"
        input_id = f"bugwarden-{name.lower().replace('_', '-')}"
        if all(i.get("id") != input_id for i in self.inputs):
            self.inputs.append(
                {"type": "promptString", "id": input_id, "description": f"bugwarden: {name}", "password": True}
            )
        return "${input:" + input_id + "}"

    def env_of(self, launch: Launch) -> dict[str, str]:
        return {k: self.secret(k) if k in SECRETS else v for k, v in launch.env.items()}


def _missing(name: str) -> str:
    if name == "BUGWARDEN_TOKEN":
        return (
            "BUGWARDEN_TOKEN is not set: set it to the agent token this client should use (`bugwarden token create "
            "--name NAME --scopes triage` prints one), or pass --oauth to let the client sign in"
        )
    return f"{name} is not set in this shell"


# -- where each client keeps its configuration ------------------------------------------------------------


def claude_desktop_path(environ: Mapping[str, str], platform: str = sys.platform) -> Path:
    """Claude Desktop's `claude_desktop_config.json` on this platform."""
    home = Path(environ.get("HOME") or Path.home())
    if platform == "darwin":
        return home / "Library" / "Application Support" / "Claude" / "claude_desktop_config.json"
    if platform.startswith("win"):
        return Path(environ.get("APPDATA") or home / "AppData" / "Roaming") / "Claude" / "claude_desktop_config.json"
    return Path(environ.get("XDG_CONFIG_HOME") or home / ".config") / "Claude" / "claude_desktop_config.json"


@dataclass(frozen=True)
class Client:
    """One client's file format: the key servers live under, how an entry looks, where the file is."""

    name: str
    label: str
    servers_key: str
    default_file: Callable[[Mapping[str, str], Path], Path] | None
    """None: the default is to print a command (Claude Code, the Inspector)."""
    private_default: bool
    """Its default file is the user's own (secrets as values); other files get references."""
    file_style: Style

    def style(self, path_given: bool) -> Style:
        if self.private_default and not path_given:
            return "value"
        return self.file_style

    def entry(self, server: Server, refs: Refs) -> dict[str, Any]:
        if isinstance(server, Launch):
            out: dict[str, Any] = {"command": server.command, "args": list(server.args)}
            if self.name in ("vscode", "claude-code"):
                out = {"type": "stdio", **out}
            if server.env:
                out["env"] = refs.env_of(server)
            return out
        kind = {"vscode": "http", "claude-code": "http", "inspector": "streamable-http"}.get(self.name)
        out = {"type": kind, "url": server.url} if kind else {"url": server.url}
        if server.bearer:
            token = refs.secret("BUGWARDEN_TOKEN")
            out["headers"] = {"Authorization": f"Bearer {token}"}
        return out

    def document(self, server: Server, refs: Refs) -> dict[str, Any]:
        """A whole file holding only bugwarden (what `--print` shows and a new file contains)."""
        doc: dict[str, Any] = {self.servers_key: {ENTRY: self.entry(server, refs)}}
        if refs.inputs:
            doc = {"inputs": refs.inputs, **doc}
        return doc


CLIENTS: dict[str, Client] = {
    c.name: c
    for c in (
        Client(
            "claude-desktop",
            "Claude Desktop",
            "mcpServers",
            lambda env, cwd: claude_desktop_path(env),
            True,
            "value",
        ),
        Client("claude-code", "Claude Code", "mcpServers", None, False, "dollar"),
        Client("vscode", "VS Code", "servers", lambda env, cwd: cwd / ".vscode" / "mcp.json", False, "vscode"),
        Client(
            "cursor",
            "Cursor",
            "mcpServers",
            lambda env, cwd: Path(env.get("HOME") or Path.home()) / ".cursor" / "mcp.json",
            True,
            "cursor",
        ),
        Client("inspector", "the MCP Inspector", "mcpServers", None, True, "value"),
    )
}
NAMES = (*CLIENTS, "claude")


# -- what to launch --------------------------------------------------------------------------------------


def this_bugwarden() -> list[str]:
    """An absolute command line for this installation: hosts start servers without the user's PATH."""
    script = Path(sys.executable).parent / ("bugwarden.exe" if os.name == "nt" else "bugwarden")
    if script.exists():
        return [str(script)]
    found = shutil.which("bugwarden")
    return [str(Path(found).resolve())] if found else [sys.executable, "-m", "bugwarden"]


def launch(environ: Mapping[str, str], demo: bool, command: list[str] | None = None) -> Launch:
    """`serve` with the variables set in `environ`, or `demo` (which needs none)."""
    base = command or this_bugwarden()
    if demo:
        return Launch(base[0], (*base[1:], "demo"), {})
    env = {name: environ[name] for name in CARRIED if environ.get(name, "").strip()}
    if not {"BUGSNAG_AUTH_TOKEN", "BUGSNAG_USER_EMAIL", "BUGPORT_TOKEN"} & set(env):
        raise ConnectError(
            "no tracker configured in this shell: set BUGSNAG_AUTH_TOKEN and/or BUGPORT_TOKEN first (the client "
            "needs them to start bugwarden), or pass --demo to connect the sandbox demo"
        )
    return Launch(base[0], (*base[1:], "serve"), env)


# -- reading, merging and writing files ------------------------------------------------------------------


def read_config(path: Path, client: Client) -> dict[str, Any]:
    """The existing file as a dict ({} when absent); ConnectError when bugwarden could not merge into it safely."""
    if not path.exists():
        return {}
    if not path.is_file():
        raise ConnectError(f"{path} is not a file: pass --file with the configuration file's path")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConnectError(f"cannot read {path} ({exc}): nothing was changed") from None
    if not text.strip():
        return {}
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        if _parses_without_comments(text):
            raise ConnectError(
                f"{path} has comments or trailing commas, which rewriting it would lose: nothing was changed; "
                "add the entry by hand (see `--print`)"
            ) from None
        raise ConnectError(
            f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}): nothing was changed; "
            "fix the file, or see the entry with `--print`"
        ) from None
    if not isinstance(doc, dict):
        raise ConnectError(f"{path} does not hold a JSON object: nothing was changed")
    servers = doc.get(client.servers_key)
    if servers is not None and not isinstance(servers, dict):
        raise ConnectError(f'{path}: "{client.servers_key}" is not an object: nothing was changed')
    inputs = doc.get("inputs")
    if client.name == "vscode" and inputs is not None and not isinstance(inputs, list):
        raise ConnectError(f'{path}: "inputs" is not a list: nothing was changed')
    return doc


def _parses_without_comments(text: str) -> bool:
    """Whether `text` is JSON once `//` and `/* */` comments and trailing commas are removed (JSONC)."""
    token = re.compile(r'"(?:\\.|[^"\\])*"|//[^\n]*|/\*.*?\*/', re.S)
    stripped = token.sub(lambda m: m.group(0) if m.group(0).startswith('"') else "", text)
    stripped = re.sub(r",(\s*[}\]])", r"\1", stripped)
    try:
        json.loads(stripped)
    except json.JSONDecodeError:
        return False
    return True


def merged(existing: dict[str, Any], addition: dict[str, Any], client: Client) -> dict[str, Any]:
    """`existing` with bugwarden's entry (and VS Code inputs) put in; everything else kept, in order."""
    doc = dict(existing)
    servers = dict(doc.get(client.servers_key) or {})
    servers[ENTRY] = addition[client.servers_key][ENTRY]
    doc[client.servers_key] = servers
    if client.name == "vscode":  # inputs named bugwarden-… are ours: keep the ones the entry uses now
        kept = [i for i in doc.get("inputs") or [] if not _ours(i)]
        if kept or addition.get("inputs") or "inputs" in doc:
            doc["inputs"] = kept + list(addition.get("inputs") or [])
    return doc


def _ours(item: object) -> bool:
    return isinstance(item, dict) and str(item.get("id", "")).startswith(f"{ENTRY}-")


@dataclass(frozen=True, slots=True)
class Written:
    path: Path
    changed: bool
    backup: Path | None
    replaced: bool
    """An entry named bugwarden was there before (and differed)."""


def write_config(path: Path, doc: dict[str, Any], client: Client, *, private: bool) -> Written:
    """Merge `doc` into the file at `path`: back up, then replace atomically; nothing changes on a refusal."""
    existing = read_config(path, client)
    new = merged(existing, doc, client)
    before = (existing.get(client.servers_key) or {}).get(ENTRY)
    if new == existing:
        return Written(path, False, None, False)
    backup = None
    text = json.dumps(new, indent=2, ensure_ascii=False) + "\n"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        mode = (path.stat().st_mode & 0o777) if path.exists() else (0o600 if private else 0o644)
        if path.exists():
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            backup = path.with_name(f"{path.name}.bak-{stamp}")
            n = 1
            while backup.exists():  # never overwrite an earlier backup (two runs in one second)
                backup, n = path.with_name(f"{path.name}.bak-{stamp}-{n}"), n + 1
            shutil.copy2(path, backup)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text)
            os.chmod(tmp, mode)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise ConnectError(f"cannot write {path} ({exc.strerror or exc}): check the path and its permissions") from None
    return Written(path, True, backup, before is not None)


# -- commands a user runs --------------------------------------------------------------------------------


def _env_flag(name: str, value: str, refs: Refs) -> str:
    return f"{name}={refs.secret(name)}" if name in SECRETS else f"{name}={value}"


def _shell(words: list[str]) -> str:
    """Quote for a POSIX shell, keeping "$NAME" references expandable."""
    out = []
    for word in words:
        if "$" in word and re.fullmatch(r"[^\"'`\\]*", word):
            out.append(f'"{word}"' if shlex.quote(word) != word else word)
        else:
            out.append(shlex.quote(word))
    return " ".join(out)


def claude_code_command(server: Server, refs: Refs) -> str:
    """`claude mcp add …`: every option before the server name (`--env` takes several values, so `--transport`
    comes last to end them), then `-- command args` for stdio."""
    if isinstance(server, Launch):
        words = ["claude", "mcp", "add"]
        for name, value in server.env.items():
            words += ["--env", _env_flag(name, value, refs)]
        words += ["--transport", "stdio", ENTRY, "--", server.command, *server.args]
        return _shell(words)
    words = ["claude", "mcp", "add"]
    if server.bearer:
        words += ["--header", f"Authorization: Bearer {refs.secret('BUGWARDEN_TOKEN')}"]
    words += ["--transport", "http", ENTRY, server.url]
    return _shell(words)


def inspector_commands(server: Server, refs: Refs, config: Path | None = None) -> list[str]:
    """How to open the Inspector on bugwarden (its web UI, and its CLI listing the tools)."""
    npx = ["npx", "-y", "@modelcontextprotocol/inspector"]
    if config is not None:
        return [_shell([*npx, "--config", str(config), "--server", ENTRY])]
    if isinstance(server, Launch):
        env: list[str] = []
        for name, value in server.env.items():
            env += ["-e", _env_flag(name, value, refs)]
        target = [server.command, *server.args]
        return [_shell([*npx, *env, *target]), _shell([*npx, "--cli", *env, *target, "--method", "tools/list"])]
    header = ["--header", f"Authorization: Bearer {refs.secret('BUGWARDEN_TOKEN')}"] if server.bearer else []
    return [
        _shell([*npx, "--transport", "http", "--server-url", server.url, *header]),
        _shell([*npx, "--cli", server.url, *header, "--method", "tools/list"]),
    ]


def connector_steps(url: str | None) -> list[str]:
    """Claude (claude.ai, Desktop, mobile) adds remote servers only as connectors, in its settings."""
    where = url or "https://YOUR-HOST/mcp"
    return [
        "Claude connects remote MCP servers as connectors, added in its settings (not from a file):",
        "  1. Claude > Settings > Connectors > Add custom connector",
        "  2. Name: bugwarden",
        f"  3. Remote MCP server URL: {where}",
        "  4. Add, then Connect: Claude signs in through bugwarden's OAuth (the server needs BUGWARDEN_PUBLIC_URL"
        " set to a public https address Claude can reach); Claude cannot send a static bearer token.",
        "Claude Desktop can also launch bugwarden locally over stdio: `bugwarden connect claude-desktop` (no --url).",
    ]


# -- the command -----------------------------------------------------------------------------------------


@dataclass
class Request:
    client: str
    url: str | None = None
    file: Path | None = None
    print_only: bool = False
    demo: bool = False
    oauth: bool = False


def run(
    request: Request,
    environ: Mapping[str, str],
    cwd: Path,
    out: Callable[[str], None],
    note: Callable[[str], None],
    command: list[str] | None = None,
) -> int:
    """Carry out `bugwarden connect`; `out` gets what the user copies (stdout), `note` what is said about it."""
    if request.client == "claude" or (request.client == "claude-desktop" and request.url):
        for line in connector_steps(request.url):
            out(line)
        return 0
    client = CLIENTS[request.client]
    server: Server = (
        Remote(request.url, bearer=not request.oauth) if request.url else launch(environ, request.demo, command)
    )
    if request.print_only:
        refs = Refs(client.style(request.file is not None), environ, placeholders=True)
        if client.name == "claude-code":
            out(claude_code_command(server, Refs("shell", environ)))
            return 0
        out(json.dumps(client.document(server, refs), indent=2))
        if client.name == "inspector":
            note("then: " + inspector_commands(server, refs, Path("FILE"))[0].replace("FILE", "<the file>"))
        if refs.style == "value" and _has_secrets(server):
            note("secrets are shown as <NAME> placeholders; without --print they are written into the file")
        return 0
    if client.default_file is None and request.file is None:
        refs = Refs("shell", environ)
        if client.name == "claude-code":
            out(claude_code_command(server, refs))
            note("run the line above (in the project directory), or write the project's file with --file .mcp.json")
        else:
            for line in inspector_commands(server, refs):
                out(line)
            note(
                f"the Inspector needs Node.js >= {NODE_FOR_INSPECTOR} (older versions fetch one that cannot send "
                "a bearer token and get 401); --file PATH writes a config file for `--config` instead"
            )
        _warn_unset(server, environ, note)
        return 0
    assert client.default_file is not None or request.file is not None
    path = request.file or client.default_file(environ, cwd)  # type: ignore[misc]
    style = client.style(request.file is not None)
    refs = Refs(style, environ)
    doc = client.document(server, refs)
    written = write_config(path, doc, client, private=style == "value")
    if not written.changed:
        note(f"{path}: the bugwarden entry is already there; nothing changed")
    else:
        what = "replaced the bugwarden entry in" if written.replaced else "added bugwarden to"
        note(f"{what} {path}" + (f" (backup: {written.backup})" if written.backup else ""))
    for line in _next_steps(client, path, server, refs):
        note(line)
    if style in ("dollar", "cursor"):
        _warn_unset(server, environ, note)
    return 0


def _has_secrets(server: Server) -> bool:
    return server.bearer if isinstance(server, Remote) else bool(SECRETS & set(server.env))


def _warn_unset(server: Server, environ: Mapping[str, str], note: Callable[[str], None]) -> None:
    """A bearer written as a reference needs BUGWARDEN_TOKEN where the client (or the pasted command) runs."""
    if isinstance(server, Remote) and server.bearer and not environ.get("BUGWARDEN_TOKEN"):
        note(
            "BUGWARDEN_TOKEN is not set here: set it where the client runs to the agent token it should use "
            "(`bugwarden token create --name NAME --scopes triage`), or use --oauth"
        )


def _next_steps(client: Client, path: Path, server: Server, refs: Refs) -> list[str]:
    steps = {
        "claude-desktop": ["restart Claude Desktop to load it"],
        "claude-code": ["Claude Code reads it in this project; approve the server when it asks (`/mcp` shows it)"],
        "vscode": ["open the Chat view in agent mode; VS Code starts the server (MCP: List Servers shows it)"],
        "cursor": ["Cursor picks it up in Settings > MCP (toggle bugwarden on)"],
        "inspector": inspector_commands(server, refs, path),
    }[client.name]
    if client.name == "vscode" and refs.inputs:
        steps.append("VS Code asks once for " + ", ".join(i["description"].split(": ")[1] for i in refs.inputs))
    if client.name == "claude-code" and refs.style == "dollar" and _has_secrets(server):
        steps.append("the file names variables (${NAME}), not their values: set them where Claude Code runs")
    if client.name == "cursor" and refs.style == "cursor" and _has_secrets(server):
        steps.append("the file names variables (${env:NAME}), not their values: set them where Cursor runs")
    return steps
