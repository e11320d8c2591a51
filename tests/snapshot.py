"""Whole-output snapshots kept as files in tests/snapshots/. `UPDATE_SNAPSHOTS=1 pytest` writes and rewrites
them; without it a missing snapshot fails, so an unreviewed one can never pass by being created."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

DIR = Path(__file__).parent / "snapshots"
_CURSOR = re.compile(r"(cursor[=\"': ]+)[A-Za-z0-9_-]{20,}")
_CODE = re.compile(r"cf_[0-9a-f]+_[0-9a-f]{12}_[0-9a-f]{32}")


def normalise(text: str) -> str:
    """Snapshots hold what is stable: cursors and confirmation codes are signed and dated, so they are masked."""
    return _CODE.sub("<confirmation code>", _CURSOR.sub(r"\1<cursor>", text))


def assert_snapshot(name: str, result: Any) -> None:
    """Compare a tool result's text and structured content with tests/snapshots/<name>.txt."""
    text = text_of(result) if result.content else ""
    structured = json.dumps(result.structured_content, indent=1, sort_keys=True) if result.structured_content else ""
    actual = normalise(f"is_error: {result.is_error}\n--- text ---\n{text}\n--- structured ---\n{structured}\n")
    path = DIR / f"{name}.txt"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        path.write_text(actual)
    assert path.exists(), f"snapshot {path.name} is missing: run UPDATE_SNAPSHOTS=1 pytest and review it"
    assert actual == path.read_text(), f"{name} output changed; review the diff and run UPDATE_SNAPSHOTS=1"


def text_of(result: Any) -> str:
    """The text of a tool result's first content block (bugwarden answers with one text block)."""
    from mcp.types import TextContent

    block = result.content[0]
    assert isinstance(block, TextContent), f"expected text, got {type(block).__name__}"
    return block.text
