"""render/table.py and render/tokens.py: aligned tables under headers, the same rows as JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass

from bugwarden.render import tokens
from bugwarden.render.table import Column, records, table, to_json


@dataclass
class Thing:
    name: str
    size: int


COLUMNS: list[Column[Thing]] = [
    Column("name", lambda t: t.name, "name", width=12),
    Column("SIZE", lambda t: str(t.size), "size", lambda t: t.size),
]


def test_columns_align_under_upper_case_headers() -> None:
    assert table([Thing("a", 1), Thing("longer name", 12345)], COLUMNS) == (
        "NAME         SIZE\na            1\nlonger name  12345"
    )


def test_no_rows_prints_the_empty_message_and_empty_cells_show_a_dash() -> None:
    assert table([], COLUMNS, empty="nothing yet") == "nothing yet"
    assert table([Thing("", 0)], COLUMNS).splitlines()[1] == "-     0"


def test_a_cell_cannot_break_the_layout() -> None:
    out = table([Thing("two\nlines\tand \x1b[31mred\x1b[0m and more text", 1)], COLUMNS)
    assert out.splitlines()[1] == "two ⏎ lines…  1"
    assert "\x1b" not in out and len(out.splitlines()) == 2


def test_json_keeps_whole_typed_values_in_column_order() -> None:
    rows = [Thing("a very long name indeed", 3)]
    assert records(rows, COLUMNS) == [{"name": "a very long name indeed", "size": 3}]
    assert json.loads(to_json(rows, COLUMNS)) == [{"name": "a very long name indeed", "size": 3}]


@dataclass
class Token:
    id: str = "tok_1"
    name: str = "ci"
    scopes: frozenset[str] = frozenset({"projects:read", "errors:read"})
    projects: frozenset[str] = frozenset()
    created_at: str = "2026-12-03T15:04:05.123456+00:00"
    expires_at: str | None = None
    last_used_at: str | None = "2026-12-04T01:02:03+01:00"

    def state(self) -> str:
        return "active"


def test_the_token_table() -> None:
    assert table([Token()], tokens.COLUMNS).splitlines() == [
        "ID     NAME  STATE   SCOPES                     PROJECTS  CREATED            EXPIRES  LAST USED",
        "tok_1  ci    active  errors:read,projects:read  all       2026-12-03 15:04Z  never    2026-12-04 01:02+01:00",
    ]
    assert records([Token()], tokens.COLUMNS)[0]["scopes"] == ["errors:read", "projects:read"]
    assert table([], tokens.COLUMNS, empty=tokens.EMPTY).startswith("no tokens yet")
