"""An agent's access as a person reads it: one row per kind of resource, each Off, Read or Full where that applies,
mapped to and from the scopes the checkpoint enforces.

    level(ROWS[1], scopes)                  -> "Off" | "Full"
    scopes_for({"Resolve and update errors": "Off", ...}, scopes)   -> the new scope set
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

OFF = "Off"


@dataclass(frozen=True, slots=True)
class GridRow:
    name: str
    levels: tuple[tuple[str, frozenset[str]], ...]
    """The choices above Off, lowest first, with the scopes each means."""

    @property
    def choices(self) -> tuple[str, ...]:
        return (OFF, *(name for name, _ in self.levels))

    @property
    def scopes(self) -> frozenset[str]:
        """Every scope this row decides."""
        return frozenset().union(*(scopes for _, scopes in self.levels))


ROWS: tuple[GridRow, ...] = (
    GridRow("Read errors and events", (("Read", frozenset({"errors:read"})),)),
    GridRow("Resolve and update errors", (("Full", frozenset({"errors:write"})),)),
    GridRow("Delete or discard errors and events", (("Full", frozenset({"errors:delete"})),)),
    GridRow(
        "Manage projects and releases",
        (("Read", frozenset({"projects:read"})), ("Full", frozenset({"projects:read", "projects:admin"}))),
    ),
    GridRow("Read collaborators", (("Read", frozenset({"collaborators:read"})),)),
)


def level(row: GridRow, scopes: frozenset[str]) -> str:
    """The highest choice of `row` that `scopes` hold in full."""
    found = OFF
    for name, needs in row.levels:
        if needs <= scopes:
            found = name
    return found


def grid(scopes: frozenset[str]) -> dict[str, str]:
    return {row.name: level(row, scopes) for row in ROWS}


class GridError(ValueError):
    """A submitted grid that cannot be applied; the message says which row."""


def scopes_for(choices: Mapping[str, str], current: frozenset[str]) -> frozenset[str]:
    """The scopes after applying `choices` (row name -> choice) to `current`; rows not submitted keep theirs."""
    result = set(current)
    for row in ROWS:
        choice = choices.get(row.name)
        if choice is None:
            continue
        if choice not in row.choices:
            raise GridError(f"{row.name}: choose one of {', '.join(row.choices)}")
        result -= row.scopes
        result |= dict(row.levels).get(choice, frozenset())
    return frozenset(result)


def changes(before: frozenset[str], after: frozenset[str]) -> dict[str, str]:
    """What changed, row by row, as `Read → Off`."""
    return {
        row.name: f"{level(row, before)} → {level(row, after)}"
        for row in ROWS
        if level(row, before) != level(row, after)
    }
