"""guard/cursors.py on its own: a cursor carries its position, only for the call it was minted for, for a day."""

from __future__ import annotations

import base64

import pytest

from bugwarden.guard.cursors import CURSOR_TTL, CursorCodec, binding
from bugwarden.guard.errors import Refusal

KEY = b"k" * 32
HERE = binding("tok_1", "list_errors", "bugsnag", "p1")


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def codec(clock: Clock | None = None, key: bytes = KEY) -> CursorCodec:
    return CursorCodec(lambda: key, clock or Clock())


def test_a_cursor_gives_back_its_position_and_hides_it() -> None:
    position = "/projects/p1/errors?offset=abc&per_page=30"
    cursor = codec().encode(position, HERE)
    assert codec().decode(cursor, HERE) == position
    assert "projects" not in cursor and "=" not in cursor  # opaque, and safe in a URL or JSON


@pytest.mark.parametrize(
    "elsewhere",
    [
        binding("tok_2", "list_errors", "bugsnag", "p1"),  # another agent token
        binding("tok_1", "list_events", "bugsnag", "p1"),  # another tool
        binding("tok_1", "list_errors", "bugport", "p1"),  # another backend
        binding("tok_1", "list_errors", "bugsnag", "p2"),  # another project
    ],
)
def test_a_cursor_works_only_for_the_call_it_came_from(elsewhere: str) -> None:
    cursor = codec().encode("/next", HERE)
    with pytest.raises(Refusal, match="came from another call"):
        codec().decode(cursor, elsewhere)


def test_an_edited_cursor_is_refused_before_its_body_is_read() -> None:
    raw = bytearray(base64.urlsafe_b64decode(codec().encode("/next", HERE) + "=="))
    raw[-3] ^= 1  # one bit of the body
    edited = base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    with pytest.raises(Refusal, match="came from another call"):
        codec().decode(edited, HERE)
    with pytest.raises(Refusal, match="came from another call"):  # another server's key
        codec(key=b"x" * 32).decode(codec().encode("/next", HERE), HERE)


@pytest.mark.parametrize("junk", ["", "not base64!", "c2hvcnQ", "A" * 40])
def test_junk_is_not_a_cursor(junk: str) -> None:
    with pytest.raises(Refusal) as refused:
        codec().decode(junk, HERE)
    assert refused.value.decision == "invalid"


def test_a_cursor_lasts_a_day() -> None:
    clock = Clock()
    cursor = codec(clock).encode("/next", HERE)
    clock.now += CURSOR_TTL - 1
    assert codec(clock).decode(cursor, HERE) == "/next"
    clock.now += 1
    with pytest.raises(Refusal, match="has expired"):
        codec(clock).decode(cursor, HERE)
