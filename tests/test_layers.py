"""The layers of shared/DESIGN.md hold: each package imports only the packages below it.

errors, model                     nothing of bugwarden (errors: the root of the exception tree)
config                            errors
render                            model
store                             config (types only)
backends                          model, config
call                              backends, model (what the checkpoint hands a tool: Call, Target, Consent)
tools                             call, render, backends, model: never the guard, which stands above them
guard                             call, backends, store, render (the words of refusals and failures), model, config
runtime                           guard, call, backends, model, config
web                               guard, store, render, model, config
app, http_app, cli, doctor        anything
sandbox                           nothing of bugwarden (a shared misunderstanding could not pass a test)

And only render builds a fence or sanitises text: no other module (the simulators aside) names the fence tag
in a string, calls `fence`, defines a sanitiser-like function or holds a pattern of invisible code points.

And only store speaks SQL: no other module (the simulators aside) imports a database driver, holds SQL text, runs
a statement or opens a transaction; the rest of the code asks store's repositories.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

SRC = Path(__file__).parents[1] / "src" / "bugwarden"
ALLOWED = {
    "errors": set(),
    "model": set(),
    "config": {"errors"},
    "render": {"model"},
    "store": {"config", "errors"},
    "backends": {"model", "config", "errors", "version"},
    "call": {"backends", "model", "errors"},
    "tools": {"call", "render", "backends", "model", "errors"},
    "guard": {"call", "backends", "store", "render", "model", "config", "errors"},
    "runtime": {"guard", "call", "backends", "model", "config", "errors"},
    "web": {"guard", "call", "store", "render", "model", "config", "errors"},
    "sandbox": set(),
}


def layer_of(path: Path) -> str:
    relative = path.relative_to(SRC)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def imported_layers(path: Path, src: Path = SRC) -> set[str]:
    """The bugwarden layers a module imports (relative or absolute), at any depth of the file (`src`: the
    package's folder)."""
    package = path.relative_to(src.parent).with_suffix("").parts[:-1]  # the package the module is in
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
    assert imported_layers(SRC / "tools" / "errors.py") >= {"call", "render", "backends"}
    assert imported_layers(SRC / "guard" / "checkpoint.py") >= {"call", "backends", "store", "render"}


def test_a_tool_importing_the_guard_would_be_caught(tmp_path: Path) -> None:
    """The rule that holds the tools below the guard fails on a tool module that imports any guard module."""
    src = tmp_path / "bugwarden"
    (src / "tools").mkdir(parents=True)
    sneaky = src / "tools" / "sneaky.py"
    for line in ("from ..guard.approval import Consented", "from bugwarden.guard import checkpoint"):
        sneaky.write_text(line + "\n")
        assert imported_layers(sneaky, src) - ALLOWED["tools"] == {"guard"}, line
    assert "guard" not in ALLOWED["tools"] and "guard" not in ALLOWED["call"]


# -- only the checkpoint builds a Call (issue 23) -----------------------------------------------------------------


def builds_a_call(path: Path) -> list[int]:
    """The lines of a module that construct a `Call(...)`."""
    tree = ast.parse(path.read_text())
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "Call"
    ]


def test_only_the_checkpoint_builds_a_call() -> None:
    builders = {str(p.relative_to(SRC)): lines for p in sorted(SRC.rglob("*.py")) if (lines := builds_a_call(p))}
    assert list(builders) == ["guard/checkpoint.py"], builders


def test_the_call_rule_would_catch_another_builder(tmp_path: Path) -> None:
    other = tmp_path / "other.py"
    other.write_text("from bugwarden.call.call import Call\nc = Call(principal=None, tool='x')\n")
    assert builds_a_call(other) == [2]


# -- only render/ builds a fence or sanitises (issue 23: one fence, one sanitiser) ------------------------------

OUTSIDE_RENDER = sorted(p for p in SRC.rglob("*.py") if layer_of(p) not in ("render", "sandbox"))
"""Every module but render's own and the simulators' (whose seeds are hostile on purpose)."""
SANITISER_NAME = re.compile(
    r"(^|_)(clean|inline|saniti[sz]e?|scrub|safe_detail|defang|neutrali[sz]e?|verbatim|confusables?)($|_)"
)
INVISIBLE = re.compile("[\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\U000e0000-\U000e007f]|\\\\u20[026]|\\\\U000e")


def strings_in(tree: ast.AST) -> list[str]:
    """Every string constant of a module but docstrings (prose may name the fence)."""
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


def fence_builders(path: Path) -> list[str]:
    """What in a module builds a fence or sanitises text: a string naming the fence tag, a call of `fence`,
    a function named like a sanitiser, a pattern of invisible code points."""
    tree = ast.parse(path.read_text())
    found = [f"string {s[:40]!r}" for s in strings_in(tree) if re.search(r"untrusted[-_ ]?data", s, re.I)]
    found += [f"pattern {s[:40]!r}" for s in strings_in(tree) if INVISIBLE.search(s)]
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name == "fence":
                found.append(f"a call of fence() on line {node.lineno}")
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and SANITISER_NAME.search(node.name):
            found.append(f"a sanitiser-like function {node.name}() on line {node.lineno}")
    return found


@pytest.mark.parametrize("path", OUTSIDE_RENDER, ids=[str(p.relative_to(SRC)) for p in OUTSIDE_RENDER])
def test_only_render_builds_a_fence_or_sanitises(path: Path) -> None:
    assert fence_builders(path) == [], f"{path.relative_to(SRC)}: use render/ (text.clean, text.fence, failures)"


def test_the_fence_rule_would_catch_a_second_fence(tmp_path: Path) -> None:
    second = tmp_path / "second.py"
    second.write_text(
        'def safe_detail(t: str) -> str:\n    """Prose may say <untrusted-data>."""\n    return t\n\n'
        "SAID = f'<untrusted-data source=\"x\">{1}</untrusted-data>'\n"
        "ZW = '[\\u200b-\\u200f]'\n"
        "fence('x', 'y')\n"
    )
    assert len(fence_builders(second)) == 5
    assert len(OUTSIDE_RENDER) > 40 and fence_builders(SRC / "render" / "text.py") != []


# -- only store/ speaks SQL (issue 23: typed repositories, one implementation per database) ----------------------

OUTSIDE_STORE = sorted(p for p in SRC.rglob("*.py") if layer_of(p) not in ("store", "sandbox"))
"""Every module but the store's own and the simulators' (which keep their state in memory, apart from ours)."""
DRIVERS = {"sqlite3", "psycopg", "psycopg2", "psycopg_pool", "asyncpg", "aiosqlite", "sqlalchemy", "apsw"}
SQL = re.compile(
    r"\bSELECT\s+(?:[\w*(]|DISTINCT\b)|\bINSERT\s+(?:OR\s+\w+\s+)?INTO\b|\bUPDATE\s+\w+\s+SET\b|\bDELETE\s+FROM\b"
    r"|\b(?:CREATE|ALTER|DROP)\s+(?:UNIQUE\s+)?(?:TABLE|INDEX|VIEW|TRIGGER)\b|\bBEGIN\s+(?:IMMEDIATE|EXCLUSIVE)\b"
    r"|\bPRAGMA\s+\w+|\bFOR\s+UPDATE\b|\bON\s+CONFLICT\b"
)
"""SQL as this code base writes it (upper-case keywords), so that prose saying "select" or "update" is not SQL."""
STATEMENT_RUNNERS = {"execute", "executemany", "executescript", "transaction"}


def sql_speakers(path: Path) -> list[str]:
    """What in a module speaks SQL: an import of a database driver, a string holding SQL (docstrings aside: prose
    may name a statement), a call that runs a statement or opens a transaction."""
    tree = ast.parse(path.read_text())
    found = [f"SQL {s.strip()[:50]!r}" for s in strings_in(tree) if SQL.search(s)]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names if a.name.split(".")[0] in DRIVERS]
        elif isinstance(node, ast.ImportFrom) and not node.level and (node.module or "").split(".")[0] in DRIVERS:
            found.append(f"from {node.module} import …")
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", None) in STATEMENT_RUNNERS:
            found.append(f"a call of .{getattr(node.func, 'attr', '')}() on line {node.lineno}")
    return found


@pytest.mark.parametrize("path", OUTSIDE_STORE, ids=[str(p.relative_to(SRC)) for p in OUTSIDE_STORE])
def test_only_store_speaks_sql(path: Path) -> None:
    assert sql_speakers(path) == [], f"{path.relative_to(SRC)}: ask a repository in store/ (tokens, audit_chain, …)"


def test_the_sql_rule_would_catch_sql_outside_store(tmp_path: Path) -> None:
    leak = tmp_path / "leak.py"
    leak.write_text(
        'import sqlite3\nfrom psycopg_pool import ConnectionPool\n\n\ndef f(db):\n    """Prose may say SELECT x."""\n'
        '    with db.transaction(write=True) as tx:\n'
        '        tx.execute("UPDATE tokens SET revoked_at = ? WHERE id = ?", (1, 2))\n'
        '    return "SELECT seq, hash FROM audit_head WHERE id = 1" + " FOR UPDATE"\n'
        'NOT_SQL = "select a project, then update the error from the list"\n'
    )
    assert len(sql_speakers(leak)) == 7
    assert len(OUTSIDE_STORE) > 40 and {layer_of(p) for p in OUTSIDE_STORE} >= {"guard", "backends", "web", "cli"}
    for repository in ("tokens.py", "audit_chain.py", "consent.py", "quota.py"):
        assert sql_speakers(SRC / "store" / repository) != []


# -- the package's face stands on top (nothing inside the package imports bugwarden/__init__.py) ----------------

ALL_MODULES = sorted(SRC.rglob("*.py"))


def names_taken_from_the_face(source: str, depth: int) -> list[str]:
    """The names a module imports from the package itself (`from . import x` at the top level, `from .. import x`
    one package down (`depth` 2), `from bugwarden import x`) that are no module of the package: those run through
    `__init__.py`, which imports the server, so the arrow would run back up."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.ImportFrom) or node.module not in (None, "bugwarden"):
            continue
        if (node.module is None and node.level != depth) or (node.module == "bugwarden" and node.level):
            continue
        for alias in node.names:
            if not ((SRC / f"{alias.name}.py").exists() or (SRC / alias.name / "__init__.py").exists()):
                found.append(alias.name)
    return found


@pytest.mark.parametrize("path", ALL_MODULES, ids=[str(p.relative_to(SRC)) for p in ALL_MODULES])
def test_no_module_imports_the_package_face(path: Path) -> None:
    depth = len(path.relative_to(SRC).parts)  # 1 for a top-level module
    found = names_taken_from_the_face(path.read_text(), depth)
    assert found == [], f"{path.relative_to(SRC)}: import {found} from the module that defines it"


def test_the_face_rule_would_catch_an_import_of_the_version_from_the_package() -> None:
    assert names_taken_from_the_face((SRC / "backends" / "http.py").read_text(), 2) == []
    assert names_taken_from_the_face("from bugwarden import __version__, config", 2) == ["__version__"]
    assert names_taken_from_the_face("from .. import __version__, store", 2) == ["__version__"]
    assert names_taken_from_the_face("from . import __version__, cli_tokens", 1) == ["__version__"]


# -- tools import no concrete backend (issue 23: capabilities are types) -----------------------------------------

CONCRETE = {"bugsnag", "bugport", "bugsnag_parse", "http"}
"""The backend modules that are one tracker's adapter (or the client under them), not its interfaces."""


def backend_modules(path: Path) -> set[str]:
    """The modules of backends/ a module imports by name (`from ..backends.bugsnag import ...`)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            parts = node.module.split(".")
            if "backends" in parts and parts.index("backends") + 1 < len(parts):
                found.add(parts[parts.index("backends") + 1])
    return found


TOOLS = sorted((SRC / "tools").glob("*.py"))


@pytest.mark.parametrize("path", TOOLS, ids=[p.name for p in TOOLS])
def test_a_tool_imports_no_concrete_backend(path: Path) -> None:
    assert backend_modules(path) & CONCRETE == set(), f"tools/{path.name}: ask by capability (backends/capabilities.py)"


def test_the_backend_rule_would_catch_a_concrete_import(tmp_path: Path) -> None:
    sneaky = tmp_path / "sneaky.py"
    sneaky.write_text("from ..backends.bugsnag import BugsnagBackend\nfrom ..backends.capabilities import Pivots\n")
    assert backend_modules(sneaky) & CONCRETE == {"bugsnag"}
