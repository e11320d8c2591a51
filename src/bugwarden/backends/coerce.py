"""Lenient coercion of upstream JSON values: a value of the wrong type becomes None, never an exception.

Shared by every adapter's parser. Identifiers get one stricter rule: an id that could not be used as
a path segment (`paths.is_id`) is dropped, so nothing an upstream invents can pose as one of ours.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from .paths import is_id

_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_' -]{0,39}")


def pick(obj: dict[str, Any], *keys: str) -> Any:
    """First present, non-None value among `keys`."""
    for key in keys:
        value = obj.get(key)
        if value is not None:
            return value
    return None


def text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def ident(value: Any) -> str | None:
    """An upstream id, if it is one: a safe path segment (letters, digits and `_.:@+-`, no `..`)."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not is_id(value):
        return None
    return value


def word(value: Any) -> str | None:
    """A short vocabulary value (a status, a severity, a type): kept only if it is a plain word or two."""
    return value.strip().lower() if isinstance(value, str) and _WORD.fullmatch(value.strip()) else None


def integer(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit() and len(value) < 20:
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(value) if isinstance(value, str) and len(value) < 40 else None
    except ValueError:
        return None


def boolean(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    return None


def timestamp(value: Any) -> datetime | None:
    """Parse the timestamp formats seen on the wire (`…000Z`, `…Z`, `+00:00`); None if unreadable."""
    if not isinstance(value, str) or not value or len(value) > 40:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def strings(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value if v is not None) if isinstance(value, list) else ()


def obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def objs(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []
