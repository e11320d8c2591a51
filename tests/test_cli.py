"""The command line: every failure is one line saying what is wrong and what to do, and a non-zero exit."""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bugwarden.cli import main as cli


def run(*args: str, home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bugwarden", *args],
        capture_output=True,
        text=True,
        timeout=60,
        input="",
        env={"PATH": os.environ.get("PATH", ""), "BUGWARDEN_HOME": str(home), **env},
    )


def one_line_failure(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert proc.returncode != 0, proc.stdout
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip() and " INFO " not in line]
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["token", "create", "--name", "x", "--scopes", "read", "--expires-in", "99999999999999d"], ["at most 3650d"]),
        (["token", "create", "--name", "x", "--scopes", "read", "--expires-in", "0d"], ["at least 1m"]),
        (["token", "create", "--name", "x", "--scopes", "everything"], ["unknown scope 'everything'"]),
        (["serve", "--transport", "http", "--port", "99999"], ["is not a port"]),
        (["serve", "--transport", "http", "--path", "mcp"], ["is not a URL path"]),
        (["serve", "--transport", "http", "--http-rate-limit", "0"], ["'off'"]),
        (["serve", "--transport", "http", "--http-rate-limit", "-1"], ["'off'"]),
        (["audit", "export", "--since", "yesterday"], ["is not a time"]),
        (["audit", "export", "--since", "2026-13-45"], ["is not a time"]),
        (["audit", "export", "--since", "2026-11-01T00:00:00"], ["no time zone"]),
        (["audit", "tail", "-n", "-1"], ["0 or more"]),
        (["token", "revoke", "tok_nope"], ["no token with id 'tok_nope'"]),
        (["serve"], ["no tracker configured"]),
        (["serve", "--toolsets", "foo"], ["argument --toolsets: 'foo': choose from core, insights"]),
        (["demo", "--toolsets", "core,nope"], ["argument --toolsets: 'core,nope'"]),
        (["token", "list", "--database-url", "mysql://u:pw@db/x"], ["--database-url: not a PostgreSQL URL"]),
    ],
)
def test_usage_mistakes_are_one_clear_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    needles: list[str],
) -> None:
    monkeypatch.setenv("BUGWARDEN_HOME", str(tmp_path))
    try:
        code = cli(args)
    except SystemExit as exit:  # argparse's own refusals
        code = exit.code if isinstance(exit.code, int) else 2
    captured = capsys.readouterr()
    one_line_failure(subprocess.CompletedProcess(args, code, captured.out, captured.err), *needles)


def test_a_busy_port_is_named(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = str(busy.getsockname()[1])
        proc = run("serve", "--transport", "http", "--port", port, home=tmp_path, BUGSNAG_AUTH_TOKEN="t")
    one_line_failure(proc, f"port {port} on 127.0.0.1 is already in use")


def test_a_state_directory_that_is_a_file(tmp_path: Path) -> None:
    home = tmp_path / "not-a-dir"
    home.write_text("")
    one_line_failure(run("token", "list", home=home), "is not a directory", "BUGWARDEN_HOME")


def test_an_unwritable_state_directory(tmp_path: Path) -> None:
    """A BUGWARDEN_HOME that cannot be created, for root too: its parent is a regular file."""
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    one_line_failure(run("token", "list", home=blocker / "home"), "cannot open", str(blocker / "home"))


def test_an_unwritable_audit_database(tmp_path: Path) -> None:
    cli_home = tmp_path / "home"
    created = run("token", "list", home=cli_home)  # creates the state files
    assert created.returncode == 0, created.stderr
    (cli_home / "audit.sqlite3").unlink()
    (cli_home / "audit.sqlite3").mkdir()  # a directory where the database should be: unusable even for root
    one_line_failure(run("audit", "verify", home=cli_home), "audit.sqlite3")


def test_a_reader_that_leaves_early_is_not_an_error(tmp_path: Path) -> None:
    from bugwarden.guard.audit import AuditLog
    from bugwarden.store import Store

    store = Store.sqlite(tmp_path)
    log = AuditLog(store.audit)
    for i in range(3000):
        log.append({"tool": f"t{i}", "decision": "allowed", "phase": "result", "padding": "x" * 200})
    store.close()
    proc = subprocess.run(
        f"{sys.executable} -m bugwarden audit export | head -2",
        shell=True,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": os.environ.get("PATH", ""), "BUGWARDEN_HOME": str(tmp_path)},
    )
    assert len(proc.stdout.splitlines()) == 2 and "Traceback" not in proc.stderr and "Broken" not in proc.stderr


def test_tokens_show_their_state_and_revoking_twice_says_so(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("BUGWARDEN_HOME", str(tmp_path))
    assert cli(["token", "list"]) == 0
    assert "no tokens yet" in capsys.readouterr().out
    assert cli(["token", "create", "--name", "short", "--scopes", "read", "--expires-in", "1m"]) == 0
    token_id = capsys.readouterr().out.split()[1]
    import sqlite3

    db = sqlite3.connect(tmp_path / "tokens.sqlite3")
    db.execute("UPDATE tokens SET expires_at = '2000-01-01T00:00:00+00:00' WHERE id = ?", (token_id,))
    db.commit()
    db.close()
    assert cli(["token", "create", "--name", "gone", "--scopes", "read"]) == 0
    gone = capsys.readouterr().out.split()[1]
    assert cli(["token", "revoke", gone]) == 0 and "revoked" in capsys.readouterr().out
    assert cli(["token", "revoke", gone]) == 0 and "was already revoked" in capsys.readouterr().out
    assert cli(["token", "list"]) == 0
    header, *rows = capsys.readouterr().out.splitlines()
    assert header.split() == ["ID", "NAME", "STATE", "SCOPES", "PROJECTS", "CREATED", "EXPIRES", "LAST", "USED"]
    assert {tuple(row.split()[:3]) for row in rows} == {(token_id, "short", "expired"), (gone, "gone", "revoked")}
    assert cli(["token", "list", "--json"]) == 0
    listed = {t["id"]: t for t in json.loads(capsys.readouterr().out)}
    assert listed[token_id]["state"] == "expired" and listed[token_id]["expires_at"].startswith("2000-01-01")
    assert listed[gone] == {
        "id": gone,
        "name": "gone",
        "state": "revoked",
        "scopes": ["errors:read", "projects:read"],
        "projects": [],
        "created_at": listed[gone]["created_at"],
        "expires_at": None,
        "last_used_at": None,
    }


def test_audit_since_compares_times_not_strings(tmp_path: Path, monkeypatch, capsys) -> None:
    from bugwarden.guard.audit import AuditLog
    from bugwarden.store import Store

    store = Store.sqlite(tmp_path)
    log = AuditLog(store.audit)
    for i in range(9):
        log.append({"tool": f"t{i}", "decision": "allowed", "phase": "result"})
    first = next(log.records())["ts"]
    store.close()
    monkeypatch.setenv("BUGWARDEN_HOME", str(tmp_path))
    from datetime import datetime, timedelta, timezone

    start = datetime.fromisoformat(first.replace("Z", "+00:00")).replace(microsecond=0)
    in_utc = start.isoformat().replace("+00:00", "Z")
    in_paris = start.astimezone(timezone(timedelta(hours=1))).isoformat()
    counts = []
    for since in (in_utc, in_paris):
        assert cli(["audit", "export", "--since", since]) == 0
        counts.append(len(capsys.readouterr().out.splitlines()))
    assert counts == [9, 9]
    assert cli(["audit", "tail", "-n", "0"]) == 0 and capsys.readouterr().out == ""
    assert cli(["audit", "tail", "-n", "2"]) == 0
    header, *rows = capsys.readouterr().out.splitlines()
    assert header.split()[:3] == ["SEQ", "TIME", "WHO"] and len(rows) == 2


def test_help_shows_defaults_and_every_subcommand_says_what_it_does(capsys) -> None:
    with pytest.raises(SystemExit):
        cli(["serve", "--help"])
    text = capsys.readouterr().out
    assert "(default: 8000)" in text and "(default: /mcp)" in text and "(default: 120)" in text
    with pytest.raises(SystemExit):
        cli(["--help"])
    top = capsys.readouterr().out
    for command in ("serve", "demo", "sandbox", "token", "audit", "db", "doctor", "connect"):
        assert command in top
    with pytest.raises(SystemExit):
        cli(["token", "--help"])
    assert "issue a token" in capsys.readouterr().out


def subcommands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    """Every (sub)command's parser, by its words: ('token', 'list') -> the parser of `bugwarden token list`."""
    found = {path: parser}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                found |= subcommands(child, (*path, name))
    return found


def test_help_shows_the_defaults_the_code_uses_and_nothing_else() -> None:
    """Generated from the parser: every option with a default shows it; switches, empty repeatables and options
    without a default show none (no `--no-bugport (default: True)`); the text is the parser's own."""
    from bugwarden.cli import _parser

    for words, parser in subcommands(_parser()).items():
        text = parser.format_help()
        assert not re.search(r"\(default: (True|False|None|\[\])\)", text), (words, text)
        for action in parser._actions:
            shown = action.option_strings and action.nargs != 0 and action.default not in (None, [])
            if shown and "default" not in (action.help or ""):
                assert f"(default: {action.default})" in " ".join(text.split()), (words, action.dest)
    demo = " ".join(subcommands(_parser())[("demo",)].format_help().split())
    assert "--no-bugport serve only the BugSnag sandbox (without it: BugSnag and BugPort) --trust" in demo
    assert "(default: core)" in demo and "BUGWARDEN_TOOLSETS" not in demo  # the demo ignores the variable


def test_a_bad_toolsets_variable_is_still_blamed_on_the_variable(monkeypatch, capsys) -> None:
    monkeypatch.setenv("BUGWARDEN_TOOLSETS", "foo")
    monkeypatch.setenv("BUGSNAG_AUTH_TOKEN", "t")
    assert cli(["serve"]) == 2
    assert "Config 'BUGWARDEN_TOOLSETS' has value 'foo'" in capsys.readouterr().err


def test_db_status_and_migrate_on_sqlite(tmp_path: Path, monkeypatch, capsys) -> None:
    from bugwarden.store import SQLITE_FILES

    monkeypatch.setenv("BUGWARDEN_HOME", str(tmp_path / "home"))
    assert cli(["db", "status"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"SQLite files in {tmp_path / 'home'} (BUGWARDEN_HOME); each is created and migrated on first use",
        *(f"{component}: no {name} yet (created on first use)" for component, name in SQLITE_FILES.items()),
    ]
    assert cli(["token", "list"]) == 0
    capsys.readouterr()
    assert cli(["db", "status"]) == 0
    lines = capsys.readouterr().out.splitlines()[1:]
    assert [line.split(":")[0] for line in lines] == list(SQLITE_FILES) and "tokens" in SQLITE_FILES
    assert all(re.fullmatch(r"\w+: version (\d+) of \1", line) for line in lines), lines
    assert cli(["db", "migrate"]) == 0
    assert "the schema is current" in capsys.readouterr().out


def test_http_rate_limit_off_is_explicit(capsys) -> None:
    from bugwarden.cli import _parser

    args = _parser().parse_args(["serve", "--transport", "http", "--http-rate-limit", "off"])
    assert args.http_rate_limit is None


def test_the_demo_never_touches_the_real_state(tmp_path: Path) -> None:
    """With BUGWARDEN_HOME and a (bogus) BUGWARDEN_TOKEN set, the demo starts, runs as its own bundle, and
    leaves the real state directory untouched; stopped by SIGTERM, it deletes its throw-away state."""
    home = tmp_path / "real-state"
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bugwarden", "demo", "--transport", "http", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={
            "PATH": os.environ.get("PATH", ""),
            "BUGWARDEN_HOME": str(home),
            "BUGWARDEN_TOKEN": "bw_bogus",
            "TMPDIR": str(scratch),
        },
    )
    try:
        assert proc.stdout
        token_line = proc.stdout.readline()
        url_line = proc.stdout.readline()
        assert token_line.startswith("demo token (triage bundle") and url_line.startswith("mcp: http://127.0.0.1:")
        import httpx

        secret = token_line.rsplit(" ", 1)[1].strip()
        init = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "t", "version": "1"},
            },
        }
        r = httpx.post(
            url_line.split(" ", 1)[1].strip(),
            json=init,
            timeout=30,
            headers={"Authorization": f"Bearer {secret}", "Accept": "application/json, text/event-stream"},
        )
        assert r.status_code == 200
        assert [p.name[:15] for p in scratch.iterdir()] == ["bugwarden-demo-"]
    finally:
        proc.terminate()
        proc.wait(30)
        for stream in (proc.stdout, proc.stderr):
            if stream:
                stream.close()
    assert not home.exists(), "the demo wrote into BUGWARDEN_HOME"
    assert proc.returncode == 0 and list(scratch.iterdir()) == [], "SIGTERM left the demo's state behind"


def test_the_stdio_demo_stopped_by_sigterm_leaves_no_state(tmp_path: Path) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bugwarden", "demo"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={"PATH": os.environ.get("PATH", ""), "TMPDIR": str(scratch)},
    )
    try:
        assert proc.stderr
        while "serving MCP on stdio" not in proc.stderr.readline():
            assert proc.poll() is None, "the demo exited before serving"
        assert [p.name[:15] for p in scratch.iterdir()] == ["bugwarden-demo-"]
        proc.terminate()
        assert proc.wait(30) == 0
    finally:
        proc.kill()
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream:
                stream.close()
    assert list(scratch.iterdir()) == [], "SIGTERM left the demo's state behind"
