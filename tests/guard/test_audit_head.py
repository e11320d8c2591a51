"""An audit chain that proves its tail: the head is keyed, and `audit verify --against EXPORT.jsonl` proves the
live log still holds an earlier export unchanged (review 3, item 7)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from bugwarden.cli import main as cli
from bugwarden.guard.audit import GENESIS, AuditLog, canonical, chain_hash
from bugwarden.store import Store
from bugwarden.store.keys import KeyRing


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BUGWARDEN_HOME", str(tmp_path))
    return tmp_path


def head_key(home: Path) -> bytes:
    store = Store.sqlite(home)
    try:
        return KeyRing(store.state).key("audit-head")
    finally:
        store.close()


def write(home: Path, n: int, start: int = 0) -> None:
    key = head_key(home)
    store = Store.sqlite(home)
    log = AuditLog(store.audit, head_key=lambda: key)
    for i in range(start, start + n):
        log.append({"tool": f"t{i}", "decision": "allowed", "phase": "result"})
    store.close()


def sql(home: Path, statement: str, *params: object) -> None:
    db = sqlite3.connect(home / "audit.sqlite3")
    db.execute(statement, params)
    db.commit()
    db.close()


def export(home: Path, path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    assert cli(["audit", "export"]) == 0
    path.write_text(capsys.readouterr().out)
    return path


def cut_tail(home: Path, keep: int) -> None:
    """What the review did: delete the last records and move the head back onto the last one kept."""
    sql(home, "DELETE FROM audit WHERE seq > ?", keep)
    sql(home, "UPDATE audit_head SET seq = ?, hash = (SELECT hash FROM audit WHERE seq = ?)", keep, keep)


def test_a_cut_tail_with_the_head_moved_back_is_noticed(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(home, 6)
    assert cli(["audit", "verify"]) == 0
    cut_tail(home, 4)
    assert cli(["audit", "verify"]) == 1
    assert "record 4: the chain head was not written by bugwarden" in capsys.readouterr().err


def test_a_head_stripped_of_its_key_is_noticed(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(home, 6)
    cut_tail(home, 4)
    sql(home, "UPDATE audit_head SET mac = NULL")
    assert cli(["audit", "verify"]) == 1
    assert "the chain head carries no key" in capsys.readouterr().err


def test_the_live_log_still_holds_an_earlier_export(
    home: Path, tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    write(home, 5)
    shipped = export(home, tmp_path_factory.mktemp("elsewhere") / "day1.jsonl", capsys)
    write(home, 3, start=5)
    assert cli(["audit", "verify", "--against", str(shipped)]) == 0
    assert "still holds the export's 5 records (1..5) unchanged" in capsys.readouterr().out


def test_an_export_catches_what_the_key_cannot(
    home: Path, tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    """An attacker who also holds the key can cut the tail and re-key the head: the chain and the head then
    verify, and only an export kept elsewhere shows the cut."""
    write(home, 6)
    shipped = export(home, tmp_path_factory.mktemp("elsewhere") / "day1.jsonl", capsys)
    cut_tail(home, 3)
    log = AuditLog(Store.sqlite(home).audit, head_key=lambda: head_key(home))
    digest = sql_value(home, "SELECT hash FROM audit WHERE seq = 3")
    sql(home, "UPDATE audit_head SET mac = ?", log._head_mac(3, digest))
    log.close()
    assert cli(["audit", "verify"]) == 0
    capsys.readouterr()
    assert cli(["audit", "verify", "--against", str(shipped)]) == 1
    assert "record 4: in the export but not in the live log, which ends at 3" in capsys.readouterr().err


def test_an_export_catches_a_rewritten_and_rechained_log(
    home: Path, tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    write(home, 4)
    shipped = export(home, tmp_path_factory.mktemp("elsewhere") / "day1.jsonl", capsys)
    rows = sqlite3.connect(home / "audit.sqlite3").execute("SELECT seq, record FROM audit ORDER BY seq").fetchall()
    prev = GENESIS
    for seq, body in rows:  # rewrite record 2 and recompute every hash after it, as a key-holding attacker would
        record = json.loads(body)
        if seq == 2:
            record["tool"] = "innocent"
        body = canonical(record)
        digest = chain_hash(prev, body)
        sql(home, "UPDATE audit SET record = ?, prev_hash = ?, hash = ? WHERE seq = ?", body, prev, digest, seq)
        prev = digest
    key = head_key(home)
    log = AuditLog(Store.sqlite(home).audit, head_key=lambda: key)
    sql(home, "UPDATE audit_head SET hash = ?, mac = ?", prev, log._head_mac(4, prev))
    log.close()
    assert cli(["audit", "verify"]) == 0
    capsys.readouterr()
    assert cli(["audit", "verify", "--against", str(shipped)]) == 1
    assert "record 2: differs from the export" in capsys.readouterr().err


def test_a_file_that_is_not_an_export_is_refused(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(home, 2)
    bogus = tmp_path / "bogus.jsonl"
    bogus.write_text("not json\n")
    assert cli(["audit", "verify", "--against", str(bogus)]) == 2
    assert "line 1 is not JSON" in capsys.readouterr().err
    assert cli(["audit", "verify", "--against", str(tmp_path / "missing.jsonl")]) == 2


def sql_value(home: Path, statement: str) -> str:
    db = sqlite3.connect(home / "audit.sqlite3")
    try:
        return str(db.execute(statement).fetchone()[0])
    finally:
        db.close()
