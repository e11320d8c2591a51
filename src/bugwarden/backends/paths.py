"""IDs from callers go into exactly one path segment, or nowhere.

This is the only place that turns caller-supplied identifiers into URL paths. A value that could
change the shape of a URL (`/`, `..`, `?`, `#`, `%`, whitespace, control characters) is refused
before any request is made.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from .errors import InvalidArgument

_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@+-]{0,199}")


def is_id(value: str) -> bool:
    """Whether `value` can stand as one path segment: letters, digits and `_.:@+-`, at most 200, no `..`."""
    return _SEGMENT.fullmatch(value) is not None and ".." not in value


def check_id(value: object, what: str) -> str:
    """Return `value` if it is a safe single path segment, else raise InvalidArgument naming `what`."""
    if not isinstance(value, str) or not value:
        raise InvalidArgument(f"{what} is required")
    if not is_id(value):
        raise InvalidArgument(
            f"{what} is not a valid identifier: use the id as shown by the list tools "
            "(letters, digits, '.', '_', '-', ':'); the value given follows",
            quote=value,
            quote_source="argument",
        )
    return value


def api_path(*parts: str | tuple[str, str]) -> str:
    """Join literal parts and checked IDs into a path: `api_path("projects", ("project_id", pid), "errors")`.

    Literal strings are our own; `(what, value)` tuples are caller IDs, checked and percent-encoded.
    """
    segments = []
    for part in parts:
        if isinstance(part, tuple):
            what, value = part
            segments.append(quote(check_id(value, what), safe=""))
        else:
            segments.append(part)
    return "/" + "/".join(segments)
