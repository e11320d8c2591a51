"""The README's tools table, generated from the registry (tests/test_distribution.py fails when the README
drifts; `UPDATE_SNAPSHOTS=1` rewrites it). Test code: nothing in the package needs it."""

from __future__ import annotations

from bugwarden.config import TOOLSETS
from bugwarden.tools.registry import REGISTRY

START = "<!-- tools:start (generated from the tool registry; UPDATE_SNAPSHOTS=1 pytest rewrites it) -->"
END = "<!-- tools:end -->"


def tools_table() -> str:
    lines = ["| toolset | tool | scope | kind | what it does |", "| --- | --- | --- | --- | --- |"]
    for toolset in TOOLSETS:
        for spec in sorted((s for s in REGISTRY.values() if s.toolset == toolset), key=lambda s: s.name):
            kind = "read" if spec.read_only else "destructive write" if spec.destructive else "write"
            summary = " ".join(spec.description.split("\n\n")[0].split()).replace("<", "&lt;")
            lines.append(f"| {toolset} | `{spec.name}` | {spec.scope} | {kind} | {summary} |")
    return "\n".join(lines)


def splice(readme: str) -> str:
    """`readme` with the generated table between the markers."""
    head, rest = readme.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{tools_table()}\n{END}{tail}"
