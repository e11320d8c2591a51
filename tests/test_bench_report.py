"""`bench/report` writes the README's performance table from what the bench scripts print: no figure by hand."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from importlib.machinery import SourceFileLoader
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).parents[1]
BENCH = ROOT / "bench"


@pytest.fixture(scope="module")
def report() -> ModuleType:
    loader = SourceFileLoader("bench_report", str(BENCH / "report"))
    spec = importlib.util.spec_from_loader("bench_report", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def test_every_benchmark_prints_its_readme_row_naming_itself() -> None:
    for script in sorted(BENCH.glob("[!_]*.py")):
        source = script.read_text()
        assert "readme_row(" in source, f"{script.name} prints no README row"
        assert f"`{script.name}`" in source, f"{script.name}'s README row does not name it"


def test_rows_are_read_from_the_output(report: ModuleType) -> None:
    output = "# fan-out\nratio: 1.08x\nREADME\tfan-out (`fanout.py`)\t110 ms vs 102 ms: **1.08x**\nbye\n"
    assert report.rows_of(output) == [("fan-out (`fanout.py`)", "110 ms vs 102 ms: **1.08x**")]


README = """# x

## Performance

Words.

| benchmark | result | measured |
| --- | --- | --- |
| a (`a.py`) | 1 ms | 2026-12-01 |
| b one (`b.py`) | 2 ms | 2026-12-01 |
| b two (`b.py`) | 3 ms | 2026-12-01 |
| c (`c.py`) | 4 ms | 2026-12-01 |

## Next

| other | table |
"""


def test_the_rows_of_the_scripts_run_are_replaced_in_place_and_the_rest_kept(report: ModuleType) -> None:
    out = report.rewrite(
        README, {"b.py": [("b (`b.py`)", "9 ms")], "d.py": [("d (`d.py`)", "5 ms")]}, "2026-12-03, 2 cores"
    )
    table = [line for line in out.split("## Next")[0].splitlines() if line.startswith("| ")]
    assert table == [
        "| benchmark | result | measured |",
        "| --- | --- | --- |",
        "| a (`a.py`) | 1 ms | 2026-12-01 |",
        "| b (`b.py`) | 9 ms | 2026-12-03, 2 cores |",
        "| c (`c.py`) | 4 ms | 2026-12-01 |",
        "| d (`d.py`) | 5 ms | 2026-12-03, 2 cores |",
    ]
    assert out.split("## Next")[1] == README.split("## Next")[1] and out.startswith("# x\n\n## Performance\n\nWords.")


def test_the_command_rewrites_a_readme_from_a_saved_run(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    shutil.copy(ROOT / "README.md", readme)
    saved = tmp_path / "fanout.log"
    saved.write_text("README\tfan-out, `get_bug_context` (`fanout.py`)\t123 ms vs 100 ms: **1.23x**\n")
    proc = subprocess.run(
        [sys.executable, str(BENCH / "report"), "--output", f"fanout.py={saved}", "--readme", str(readme)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    before, after = (ROOT / "README.md").read_text().splitlines(), readme.read_text().splitlines()
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert len(changed) == 1 and "`fanout.py`" in changed[0][0]
    assert re.fullmatch(
        r"\| fan-out, `get_bug_context` \(`fanout.py`\) \| 123 ms vs 100 ms: \*\*1.23x\*\* \| \d{4}-\d\d-\d\d, .*\|",
        changed[0][1],
    )


def test_a_script_that_prints_no_row_changes_nothing(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    shutil.copy(ROOT / "README.md", readme)
    saved = tmp_path / "empty.log"
    saved.write_text("nothing here\n")
    proc = subprocess.run(
        [sys.executable, str(BENCH / "report"), "--output", f"store.py={saved}", "--readme", str(readme)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0 and "printed no README row" in proc.stderr
    assert readme.read_text() == (ROOT / "README.md").read_text()
