"""What a tool answers: text for a model to read, and typed structured content for programs."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

OUTPUT_LIMIT = 16_000
FULL_OUTPUT_LIMIT = 60_000


@dataclass(frozen=True, slots=True)
class Answer:
    text: str
    data: BaseModel
    limit: int = OUTPUT_LIMIT
    """The most characters of `text` sent (longer answers are cut, saying so)."""
