"""`bugwarden connect CLIENT`, against sample configuration files of each client (tests/data/clients/)."""

from __future__ import annotations

import json
import shlex
import shutil
import stat
import sys
from pathlib import Path
from typing import Any

import pytest

from bugwarden import connect
from bugwarden.cli import main as cli
from bugwarden.connect import CARRIED, SECRETS, ConnectError, Request

SAMPLES = Path(__file__).parent / "data" / "clients"
BUGWARDEN = ["/opt/bugwarden/bin/bugwarden"]
SHELL = {"BUGSNAG_AUTH_TOKEN": "bs-secret-value", "BUGSNAG_PROJECT_ID": "p1", "PATH": "/usr/bin", "TERM": "xterm"}
URL = "http://127.0.0.1:8000/mcp"


class Run:
    """`connect.run` in a fake home and project directory, with what it printed."""

    def __init__(self, tmp_path: Path, environ: dict[str, str] | None = None) -> None:
        self.home = tmp_path / "home"
        self.project = tmp_path / "project"
        self.home.mkdir()
        self.project.mkdir()
        self.environ = {"HOME": str(self.home), **(SHELL if environ is None else environ)}
        self.out: list[str] = []
        self.notes: list[str] = []

    def __call__(self, client: str, **kw: Any) -> int:
        self.out.clear()
        self.notes.clear()
        request = Request(client, **kw)
        return connect.run(request, self.environ, self.project, self.out.append, self.notes.append, BUGWARDEN)

    def place(self, sample: str, where: Path) -> Path:
        where.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(SAMPLES / sample, where)
        return where


def backups(path: Path) -> list[Path]:
    return sorted(path.parent.glob(f"{path.name}.bak-*"))


def others(doc: dict[str, Any], key: str) -> dict[str, Any]:
    return {**doc, key: {k: v for k, v in doc[key].items() if k != "bugwarden"}}


STDIO_ENTRY = {
    "command": BUGWARDEN[0],
    "args": ["serve"],
    "env": {"BUGSNAG_AUTH_TOKEN": "bs-secret-value", "BUGSNAG_PROJECT_ID": "p1"},
}


def test_claude_desktop_merges_into_its_own_file_keeping_everything_else(tmp_path: Path) -> None:
    run = Run(tmp_path)
    path = run.place("claude_desktop_config.json", run.home / ".config" / "Claude" / "claude_desktop_config.json")
    original = path.read_text()
    assert run("claude-desktop") == 0
    doc = json.loads(path.read_text())
    assert others(doc, "mcpServers") == json.loads(original)
    assert doc["mcpServers"]["bugwarden"] == STDIO_ENTRY  # Claude Desktop cannot expand references: values
    assert [b.read_text() for b in backups(path)] == [original]
    assert run.notes == [f"added bugwarden to {path} (backup: {backups(path)[0]})", "restart Claude Desktop to load it"]


def test_claude_desktop_file_locations() -> None:
    env = {"HOME": "/h", "APPDATA": "C:/Users/me/AppData/Roaming", "XDG_CONFIG_HOME": "/h/.cfg"}
    assert str(connect.claude_desktop_path(env, "darwin")) == (
        "/h/Library/Application Support/Claude/claude_desktop_config.json"
    )
    assert connect.claude_desktop_path(env, "win32").as_posix().endswith("Roaming/Claude/claude_desktop_config.json")
    assert str(connect.claude_desktop_path(env, "linux")) == "/h/.cfg/Claude/claude_desktop_config.json"


def test_a_new_file_with_secrets_is_owner_only(tmp_path: Path) -> None:
    run = Run(tmp_path)
    assert run("claude-desktop") == 0
    path = run.home / ".config" / "Claude" / "claude_desktop_config.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and backups(path) == []
    assert json.loads(path.read_text()) == {"mcpServers": {"bugwarden": STDIO_ENTRY}}


def test_vscode_writes_the_workspace_file_with_inputs_not_secrets(tmp_path: Path) -> None:
    run = Run(tmp_path)
    path = run.place("vscode.mcp.json", run.project / ".vscode" / "mcp.json")
    original = json.loads(path.read_text())
    assert run("vscode") == 0
    doc = json.loads(path.read_text())
    assert "bs-secret-value" not in path.read_text()
    assert doc["servers"]["github"] == original["servers"]["github"]
    assert doc["servers"]["bugwarden"] == {
        "type": "stdio",
        "command": BUGWARDEN[0],
        "args": ["serve"],
        "env": {"BUGSNAG_AUTH_TOKEN": "${input:bugwarden-bugsnag-auth-token}", "BUGSNAG_PROJECT_ID": "p1"},
    }
    assert doc["inputs"] == [
        *original["inputs"],
        {
            "type": "promptString",
            "id": "bugwarden-bugsnag-auth-token",
            "description": "bugwarden: BUGSNAG_AUTH_TOKEN",
            "password": True,
        },
    ]
    # Switching to HTTP: the entry is replaced, and bugwarden's input that nothing uses any more goes with it.
    assert run("vscode", url=URL) == 0
    doc = json.loads(path.read_text())
    assert doc["servers"]["bugwarden"] == {
        "type": "http",
        "url": URL,
        "headers": {"Authorization": "Bearer ${input:bugwarden-bugwarden-token}"},
    }
    assert [i["id"] for i in doc["inputs"]] == ["github-pat", "bugwarden-bugwarden-token"]
    assert run.notes[0].startswith(f"replaced the bugwarden entry in {path} (backup: ")
    assert len(backups(path)) == 2


def test_claude_code_prints_the_command_with_options_before_the_name(tmp_path: Path) -> None:
    run = Run(tmp_path)
    assert run("claude-code") == 0
    [line] = run.out
    words = shlex.split(line)
    assert words[:3] == ["claude", "mcp", "add"]
    name = words.index("bugwarden")
    assert words[name + 1] == "--"
    assert words[name + 2 :] == [BUGWARDEN[0], "serve"]
    options = words[3:name]
    assert options[-2:] == ["--transport", "stdio"], "--transport last: it ends --env's list of values"
    assert options[:-2] == ["--env", "BUGSNAG_AUTH_TOKEN=$BUGSNAG_AUTH_TOKEN", "--env", "BUGSNAG_PROJECT_ID=p1"]
    assert '"BUGSNAG_AUTH_TOKEN=$BUGSNAG_AUTH_TOKEN"' in line, "the shell fills in the secret; it is not printed"
    assert "bs-secret-value" not in line
    assert run("claude-code", url=URL) == 0
    assert run.out == [
        f'claude mcp add --header "Authorization: Bearer $BUGWARDEN_TOKEN" --transport http bugwarden {URL}'
    ]
    assert run("claude-code", url=URL, oauth=True) == 0
    assert run.out == [f"claude mcp add --transport http bugwarden {URL}"]


def test_claude_code_writes_the_project_file_with_references(tmp_path: Path) -> None:
    run = Run(tmp_path)
    path = run.place("claude_code.mcp.json", run.project / ".mcp.json")
    original = json.loads(path.read_text())
    assert run("claude-code", file=path) == 0
    doc = json.loads(path.read_text())
    assert others(doc, "mcpServers") == original
    assert doc["mcpServers"]["bugwarden"] == {
        "type": "stdio",
        "command": BUGWARDEN[0],
        "args": ["serve"],
        "env": {"BUGSNAG_AUTH_TOKEN": "${BUGSNAG_AUTH_TOKEN}", "BUGSNAG_PROJECT_ID": "p1"},
    }
    assert run("claude-code", file=path, url=URL) == 0
    assert json.loads(path.read_text())["mcpServers"]["bugwarden"] == {
        "type": "http",
        "url": URL,
        "headers": {"Authorization": "Bearer ${BUGWARDEN_TOKEN}"},
    }
    assert any("BUGWARDEN_TOKEN is not set here" in n for n in run.notes)


def test_cursor_user_file_gets_values_and_a_project_file_gets_references(tmp_path: Path) -> None:
    run = Run(tmp_path, {**SHELL, "BUGWARDEN_TOKEN": "bw_agent"})
    path = run.place("cursor.mcp.json", run.home / ".cursor" / "mcp.json")
    original = json.loads(path.read_text())
    assert run("cursor", url=URL) == 0
    doc = json.loads(path.read_text())
    assert others(doc, "mcpServers") == original
    assert doc["mcpServers"]["bugwarden"] == {"url": URL, "headers": {"Authorization": "Bearer bw_agent"}}
    project = run.place("cursor.mcp.json", run.project / ".cursor" / "mcp.json")
    assert run("cursor", file=project) == 0
    entry = json.loads(project.read_text())["mcpServers"]["bugwarden"]
    assert entry["env"] == {
        "BUGSNAG_AUTH_TOKEN": "${env:BUGSNAG_AUTH_TOKEN}",
        "BUGSNAG_PROJECT_ID": "p1",
        "BUGWARDEN_TOKEN": "${env:BUGWARDEN_TOKEN}",
    }


def test_a_bearer_for_a_file_that_holds_values_needs_the_token(tmp_path: Path) -> None:
    run = Run(tmp_path)
    with pytest.raises(ConnectError, match=r"BUGWARDEN_TOKEN is not set.*--oauth"):
        run("cursor", url=URL)
    assert not (run.home / ".cursor").exists()
    assert run("cursor", url=URL, oauth=True) == 0
    assert json.loads((run.home / ".cursor" / "mcp.json").read_text())["mcpServers"]["bugwarden"] == {"url": URL}


def test_the_inspector_commands_and_config_file(tmp_path: Path) -> None:
    run = Run(tmp_path)
    assert run("inspector") == 0
    env = '-e "BUGSNAG_AUTH_TOKEN=$BUGSNAG_AUTH_TOKEN" -e BUGSNAG_PROJECT_ID=p1'
    assert run.out == [
        f"npx -y @modelcontextprotocol/inspector {env} {BUGWARDEN[0]} serve",
        f"npx -y @modelcontextprotocol/inspector --cli {env} {BUGWARDEN[0]} serve --method tools/list",
    ]
    assert any("Node.js >= 22.19" in n for n in run.notes)
    assert run("inspector", url=URL) == 0
    assert run.out[1] == (
        f'npx -y @modelcontextprotocol/inspector --cli {URL} --header "Authorization: Bearer $BUGWARDEN_TOKEN" '
        "--method tools/list"
    )
    path = run.place("inspector.json", run.project / "inspector.json")
    original = json.loads(path.read_text())
    assert run("inspector", file=path, demo=True) == 0
    doc = json.loads(path.read_text())
    assert others(doc, "mcpServers") == original
    assert doc["mcpServers"]["bugwarden"] == {"command": BUGWARDEN[0], "args": ["demo"]}
    assert run.notes[-1] == f"npx -y @modelcontextprotocol/inspector --config {path} --server bugwarden"


def test_claude_remote_prints_the_connector_steps(tmp_path: Path) -> None:
    run = Run(tmp_path)
    for client in ("claude", "claude-desktop"):
        assert run(client, url="https://mcp.example.com/mcp") == 0
        text = "\n".join(run.out)
        assert "Settings > Connectors > Add custom connector" in text and "https://mcp.example.com/mcp" in text
        assert "BUGWARDEN_PUBLIC_URL" in text
    assert not (run.home / ".config").exists()


@pytest.mark.parametrize(
    ("client", "sample", "where", "message"),
    [
        (
            "claude-desktop",
            "malformed.json",
            ".config/Claude/claude_desktop_config.json",
            r"is not valid JSON \(line 4",
        ),
        ("vscode", "vscode_with_comments.mcp.json", ".vscode/mcp.json", "has comments or trailing commas"),
        ("cursor", "malformed.json", ".cursor/mcp.json", "is not valid JSON"),
    ],
)
def test_a_file_that_cannot_be_merged_safely_is_refused_and_left_alone(
    tmp_path: Path, client: str, sample: str, where: str, message: str
) -> None:
    run = Run(tmp_path)
    base = run.project if client == "vscode" else run.home
    path = run.place(sample, base / where)
    before = path.read_bytes()
    with pytest.raises(ConnectError, match=message) as refused:
        run(client)
    assert "nothing was changed" in str(refused.value)
    assert path.read_bytes() == before and backups(path) == []
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


@pytest.mark.parametrize("content", ['["a list"]', '{"mcpServers": ["not", "an", "object"]}'])
def test_a_file_of_the_wrong_shape_is_refused(tmp_path: Path, content: str) -> None:
    run = Run(tmp_path)
    path = run.project / "x.json"
    path.write_text(content)
    with pytest.raises(ConnectError, match="nothing was changed"):
        run("claude-desktop", file=path)
    assert path.read_text() == content


def test_connecting_twice_changes_nothing_the_second_time(tmp_path: Path) -> None:
    run = Run(tmp_path)
    path = run.place("cursor.mcp.json", run.home / ".cursor" / "mcp.json")
    assert run("cursor") == 0
    after = path.read_bytes()
    assert run("cursor") == 0
    assert run.notes[0] == f"{path}: the bugwarden entry is already there; nothing changed"
    assert path.read_bytes() == after and len(backups(path)) == 1


def test_print_writes_nothing_and_hides_values(tmp_path: Path) -> None:
    run = Run(tmp_path)
    assert run("claude-desktop", print_only=True) == 0
    doc = json.loads("\n".join(run.out))
    assert doc["mcpServers"]["bugwarden"]["env"]["BUGSNAG_AUTH_TOKEN"] == "<BUGSNAG_AUTH_TOKEN>"
    assert not (run.home / ".config").exists() and "bs-secret-value" not in "\n".join(run.out + run.notes)
    assert run("vscode", print_only=True, url=URL) == 0
    assert json.loads("\n".join(run.out))["inputs"][0]["id"] == "bugwarden-bugwarden-token"
    assert not (run.project / ".vscode").exists()


def test_stdio_without_a_tracker_refuses_unless_demo(tmp_path: Path) -> None:
    run = Run(tmp_path, {"PATH": "/usr/bin"})
    with pytest.raises(ConnectError, match=r"no tracker configured in this shell.*--demo"):
        run("claude-desktop")
    assert run("claude-desktop", demo=True) == 0
    path = run.home / ".config" / "Claude" / "claude_desktop_config.json"
    assert json.loads(path.read_text()) == {"mcpServers": {"bugwarden": {"command": BUGWARDEN[0], "args": ["demo"]}}}


def test_only_bugwarden_variables_are_carried_and_secrets_are_known() -> None:
    launch = connect.launch(
        {**SHELL, "AWS_SECRET_ACCESS_KEY": "x", "BUGPORT_TOKEN": "bp"}, demo=False, command=BUGWARDEN
    )
    assert set(launch.env) == {"BUGSNAG_AUTH_TOKEN", "BUGSNAG_PROJECT_ID", "BUGPORT_TOKEN"}
    assert all(name.startswith(("BUGSNAG_", "BUGPORT_", "BUGWARDEN_")) for name in CARRIED)
    assert set(CARRIED) >= SECRETS


def test_the_command_refuses_in_one_line_and_names_the_client_choices(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".cursor").mkdir()
    (tmp_path / ".cursor" / "mcp.json").write_text("{nope")
    monkeypatch.setenv("BUGSNAG_AUTH_TOKEN", "t")
    assert cli(["connect", "cursor"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("bugwarden: ") and "is not valid JSON" in err[0]
    with pytest.raises(SystemExit):
        cli(["connect", "emacs"])
    assert "'claude-desktop', 'claude-code', 'vscode', 'cursor', 'inspector', 'claude'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli(["connect", "vscode", "--url", "ftp://x"])
    assert "is not an http(s) URL" in capsys.readouterr().err


def test_the_configured_stdio_entry_starts_a_working_server(tmp_path: Path) -> None:
    """What `connect` writes is what a client runs: start the entry's command as a host would and list tools."""
    import anyio
    from mcp import Client, StdioServerParameters

    run = Run(tmp_path, {"PATH": "/usr/bin"})
    assert (
        connect.run(
            Request("claude-desktop", demo=True),
            run.environ,
            run.project,
            run.out.append,
            run.notes.append,
            [sys.executable, "-m", "bugwarden"],
        )
        == 0
    )
    entry = json.loads((run.home / ".config" / "Claude" / "claude_desktop_config.json").read_text())["mcpServers"][
        "bugwarden"
    ]

    async def tools() -> set[str]:
        params = StdioServerParameters(command=entry["command"], args=entry["args"], env=entry.get("env"))
        async with Client(params) as client:
            return {t.name for t in (await client.list_tools()).tools}

    assert {"list_projects", "resolve_error"} <= anyio.run(tools)


def test_every_variable_bugwarden_reads_is_carried_to_a_stdio_launch() -> None:
    """A variable added to config.py reaches the client's entry too (HTTP-only settings excepted)."""
    import re

    config = (Path(connect.__file__).parent / "config.py").read_text()
    read = set(re.findall(r'"((?:BUGSNAG|BUGPORT|BUGWARDEN)_[A-Z_]+)"', config))
    http_only = {"BUGWARDEN_PUBLIC_URL", "BUGWARDEN_ALLOWED_HOSTS", "BUGWARDEN_ALLOWED_ORIGINS"}
    assert read - http_only <= set(CARRIED), sorted(read - http_only - set(CARRIED))
