"""`bugwarden audit tail|export` with the console's filters: a table with headers, sentences, JSON lines identical
to `audit export`, and `--since 7d`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bugwarden.cli import main as cli
from bugwarden.guard.audit import AuditLog
from bugwarden.store import Store


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BUGWARDEN_HOME", str(tmp_path))
    store = Store.sqlite(tmp_path)
    log = AuditLog(store.audit)
    base = {"phase": "result", "outcome": "ok", "targets": {"project_id": "p1", "error_id": "e1"}}
    rows: list[dict[str, Any]] = [
        {"tool": "list_errors", "decision": "allowed", "principal_id": "tok_a", "principal_name": "ci-bot"},
        {
            "tool": "delete_error",
            "decision": "denied",
            "outcome": "denied",
            "reason": "denied: tool delete_error needs the errors:delete scope, which this agent's token does not have",
            "principal_id": "tok_a",
            "principal_name": "ci-bot",
            "client_name": "\x1b[2J\x1b[31mevil\nclient",
        },
        {
            "tool": "resolve_error",
            "decision": "allowed",
            "principal_id": "grant_1",
            "principal_name": "claude",
            "person": "alice",
            "client_name": "claude-code",
        },
    ]
    for row in rows:
        log.append({**base, **row})
    store.close()
    return tmp_path


def test_tail_prints_a_table_with_headers_and_clean_cells(home: Path, capsys) -> None:
    assert cli(["audit", "tail"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["SEQ", "TIME", "WHO", "CLIENT", "TOOL", "TARGET", "DECISION", "OUTCOME", "MS", "REASON"]
    assert [line.split()[0] for line in lines[1:]] == ["1", "2", "3"]
    assert "\x1b" not in "".join(lines) and "evil ⏎ client" in lines[2]
    assert "project=p1 error=e1" in lines[2] and "denied" in lines[2]


def test_tail_filters_by_tool_decision_who_and_time(home: Path, capsys) -> None:
    assert cli(["audit", "tail", "--tool", "delete_error"]) == 0
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()[1:]] == ["2"]
    assert cli(["audit", "tail", "--decision", "allowed", "--since", "7d"]) == 0
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()[1:]] == ["1", "3"]
    assert cli(["audit", "tail", "--who", "alice", "-n", "5"]) == 0
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()[1:]] == ["3"]
    assert cli(["audit", "tail", "--tool", "nothing"]) == 0
    out = capsys.readouterr()
    assert out.out == "" and "no records match these filters" in out.err
    assert cli(["audit", "tail", "-n", "1"]) == 0
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()[1:]] == ["3"]


def test_tail_plain_reads_each_record_as_a_sentence(home: Path, capsys) -> None:
    assert cli(["audit", "tail", "--plain", "--decision", "denied"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("2  20") and line.endswith(
        'ci-bot (token tok_a, via "evil ⏎ client") tried to delete error e1 in project p1 — denied: the token may '
        "not delete errors"
    )


def test_tail_json_and_export_write_the_same_lines(home: Path, capsys) -> None:
    assert cli(["audit", "tail", "--json", "--who", "ci-bot"]) == 0
    tail = capsys.readouterr().out
    assert cli(["audit", "export", "--who", "ci-bot"]) == 0
    assert capsys.readouterr().out == tail
    assert [json.loads(line)["seq"] for line in tail.splitlines()] == [1, 2]
    assert cli(["audit", "export", "--since", "7d"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3
    assert cli(["audit", "export", "--since", "2099-01-01"]) == 0
    assert capsys.readouterr().out == ""


def test_a_bad_filter_is_one_line(home: Path, capsys) -> None:
    with pytest.raises(SystemExit):
        cli(["audit", "tail", "--since", "last tuesday"])
    assert "is not a time: use an age like 15m" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli(["audit", "tail", "--decision", "maybe"])
    assert "invalid choice" in capsys.readouterr().err


def test_tail_follow_prints_new_matching_records_as_they_land(home: Path, capsys) -> None:
    from bugwarden.cli_audit import follow, show
    from bugwarden.store.audit_queries import AuditFilter, AuditQueries

    store = Store.sqlite(home)
    log, queries = AuditLog(store.audit), AuditQueries(store.audit)
    filters = AuditFilter(tool="resolve_error")
    widths = show(queries.page(filters).records, "table", header=True)
    capsys.readouterr()
    landing = iter([[{"tool": "resolve_error", "principal_name": "late-bot"}, {"tool": "list_errors"}], [], []])

    def sleep(seconds: float) -> None:
        for record in next(landing):
            log.append({"decision": "allowed", "phase": "result", **record})

    follow(queries, filters, 3, "table", widths, sleep=sleep, polls=3)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].split()[0] == "4" and "late-bot" in lines[0]
    assert lines[0].index("20") == widths[0] + 2  # the columns of the table above
    follow(queries, AuditFilter(), 4, "plain", [], sleep=lambda s: None, polls=1)
    assert capsys.readouterr().out.startswith("5  ")
    store.close()
