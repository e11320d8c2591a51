"""Tables for people at a terminal (like `gh` and `kubectl`), and the same rows as JSON for scripts.

A table is a list of `Column`s: a header, how to show a row's cell, and the JSON key and value it stands for.
Commands build their rows once and hand them to `table` (text) or `records` (JSON); adding a column is adding
one `Column` to a list, and it appears in both.

    COLUMNS = [Column("ID", lambda t: t.id, "id"), Column("NAME", lambda t: t.name, "name")]
    print(table(tokens, COLUMNS, empty="no tokens yet"))
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from .text import inline

Row = TypeVar("Row")
GAP = "  "


@dataclass(frozen=True, slots=True)
class Column(Generic[Row]):
    """One column: `header` over `cell(row)` in text; `key` with `value(row)` (default: the cell) in JSON."""

    header: str
    cell: Callable[[Row], str]
    key: str
    value: Callable[[Row], Any] | None = field(default=None)
    width: int = 60
    """Cells longer than this are cut with an ellipsis (the JSON keeps the whole value)."""

    def json_value(self, row: Row) -> Any:
        return self.value(row) if self.value is not None else self.cell(row)


def table(rows: Iterable[Row], columns: Sequence[Column[Row]], *, empty: str = "") -> str:
    """Rows under upper-case headers, columns aligned, two spaces apart; `empty` when there are no rows.

    Cells are one line each: newlines, tabs and control characters cannot break the layout."""
    cells = [[inline(column.cell(row), column.width) or "-" for column in columns] for row in rows]
    if not cells:
        return empty
    headers = [column.header.upper() for column in columns]
    widths = [max(len(line[i]) for line in [headers, *cells]) for i in range(len(columns))]
    lines = [
        GAP.join(text.ljust(width) for text, width in zip(line, widths, strict=True)).rstrip()
        for line in [headers, *cells]
    ]
    return "\n".join(lines)


def records(rows: Iterable[Row], columns: Sequence[Column[Row]]) -> list[dict[str, Any]]:
    """The rows as JSON-ready dicts keyed by each column's `key`."""
    return [{column.key: column.json_value(row) for column in columns} for row in rows]


def to_json(rows: Iterable[Row], columns: Sequence[Column[Row]]) -> str:
    """`records` as one indented JSON array (stable key order: the columns')."""
    return json.dumps(records(rows, columns), indent=2)
