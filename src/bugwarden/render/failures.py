"""What a client hears when something did not work, and in which words: the error side of the one sanitiser.

Error messages are ours (templates, and ids the caller sent); an error may also carry a `quote`, words from
outside (an upstream's reason for a 400, a value the caller sent that is not an id), which is shown only
sanitised and fenced, under the label the error gives it. Our own words pass the sanitiser too, so an id or
value echoed inside them cannot smuggle an invisible character or a fence tag.
"""

from __future__ import annotations

from typing import Protocol

from .text import clean, fence, inline

QUOTE_SHOWN = 240
"""The most of a quote a message shows (one line)."""


class Failure(Protocol):
    """An error as the backends raise it (`backends.errors.BackendError`): our message and, maybe, a quote."""

    agent_message: str
    quote: str | None
    quote_source: str


def said(message: str) -> str:
    """One of our messages, sanitised (it may echo what a caller sent)."""
    return clean(message).strip()


def failure(error: Failure) -> str:
    """The message for a failed call: our words, then the quoted outside words inside a fence."""
    words = said(error.agent_message)
    quote = inline(error.quote, QUOTE_SHOWN) if error.quote else ""
    return f"{words}\n{fence(_label(error.quote_source), quote)}" if quote else words


def log_line(message: str, limit: int = 500) -> str:
    """A log message sent to a client (`notifications/message`): one sanitised line."""
    return inline(message, limit)


def _label(source: str) -> str:
    """A fence label is ours: letters, digits and dots only, whatever an error was given."""
    kept = "".join(c for c in source if c.isascii() and (c.isalnum() or c in "._"))[:40]
    return kept or "quote"
