"""The layers of shared/DESIGN.md hold: each package imports only the packages below it.

model, config                     nothing of bugwarden
render                            model
store                             config (types only)
backends                          model, config
guard                             backends, store, render (the words of refusals and failures), model, config
tools                             guard, render, backends, model
runtime                           guard, backends, model, config
web                               guard, store, render, model, config
app, http_app, cli, doctor        anything
sandbox                           nothing of bugwarden (a shared misunderstanding could not pass a test)
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).parents[1] / "src" / "bugwarden"
ALLOWED = {
    "model": set(),
    "config": set(),
    "render": {"model"},
    "store": {"config"},
    "backends": {"model", "config", "__version__"},
    "guard": {"backends", "store", "render", "model", "config"},
    "tools": {"guard", "render", "backends", "model"},
    "runtime": {"guard", "backends", "model", "config"},
    "web": {"guard", "store", "render", "model", "config"},
    "sandbox": set(),
}


def layer_of(path: Path) -> str:
    relative = path.relative_to(SRC)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def imported_layers(path: Path) -> set[str]:
    """The bugwarden layers a module imports (relative or absolute), at any depth of the file."""
    package = path.relative_to(SRC.parent).with_suffix("").parts[:-1]  # the package the module is in
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                parts = [*base[1:], *(node.module.split(".") if node.module else [])]
                if not parts:  # `from .. import __version__`
                    found |= {alias.name for alias in node.names}
                    continue
            elif node.module and node.module.split(".")[0] == "bugwarden":
                parts = node.module.split(".")[1:]
                if not parts:
                    found |= {alias.name for alias in node.names}
                    continue
            else:
                continue
            found.add(parts[0])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "bugwarden" and len(alias.name.split(".")) > 1:
                    found.add(alias.name.split(".")[1])
    return found


MODULES = sorted(p for p in SRC.rglob("*.py") if layer_of(p) in ALLOWED)


@pytest.mark.parametrize("path", MODULES, ids=[str(p.relative_to(SRC)) for p in MODULES])
def test_a_module_imports_only_the_layers_below_it(path: Path) -> None:
    layer = layer_of(path)
    outside = imported_layers(path) - {layer} - ALLOWED[layer]
    assert outside == set(), f"{path.relative_to(SRC)} ({layer}) imports {sorted(outside)}"


def test_the_rule_is_checked_on_something() -> None:
    assert len(MODULES) > 30 and {layer_of(p) for p in MODULES} == set(ALLOWED)
    assert imported_layers(SRC / "tools" / "errors.py") >= {"guard", "render", "backends"}
