"""The agent-task benchmark: every task answered in full, and the README's table is the one it prints."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
sys.path.insert(0, str(ROOT / "bench"))
import agent_tasks  # noqa: E402

pytestmark = pytest.mark.anyio


async def test_every_task_is_answered_in_full_and_the_readme_shows_this_run() -> None:
    results = await agent_tasks.run_tasks()
    assert all(r.answered for r in results), [r.task for r in results if not r.answered]
    generated = agent_tasks.table(results)
    readme = (ROOT / "README.md").read_text()
    assert agent_tasks.splice(readme, generated) == readme, "run python bench/agent_tasks.py --readme"
    assert sum(len(r.calls) for r in results[:5]) <= 7, "the review's five tasks took 7 calls"
