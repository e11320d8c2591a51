"""Query-string handling for the BugSnag simulator: filters, per_page, pagination links.

Written from the API reference, independently of `bugwarden.backends` (which must not be
imported here), so that a misunderstanding on one side shows up in contract tests.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request

from .bugsnag_seed import NOW

_FILTER = re.compile(r"^filters\[([^\]]+)\]\[\]\[(type|value)\]$")
_SHORTHAND = re.compile(r"^filters\[([^\]]+)\]$")
_INDEXED = re.compile(r"^filters\[[^\]]+\]\[\d+\]")
_RELATIVE = re.compile(r"^(\d+)([mhd])$")


class ApiError(Exception):
    """An upstream-shaped error: `{"errors": [message], "code"?: N}` with `status`."""

    def __init__(self, status: int, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.code = status, message, code


def pairs(request: Request) -> list[tuple[str, str]]:
    return parse_qsl(request.url.query, keep_blank_values=True)


def parse_filters(request: Request) -> dict[str, list[tuple[str, str]]]:
    """`filters[f][][type]=eq&filters[f][][value]=v` -> {f: [(eq, v)]}; 400 for the indexed form."""
    out: dict[str, list[tuple[str, str]]] = {}
    pending: dict[str, str] = {}
    for key, value in pairs(request):
        if not key.startswith("filters"):
            continue
        if _INDEXED.match(key):
            raise ApiError(400, 'Each filter must be of the format {"type": <type>, "value": <value>}')
        if m := _FILTER.match(key):
            name, part = m.groups()
            if part == "type":
                if value not in ("eq", "ne", "empty"):
                    raise ApiError(400, f"Invalid filter type for {name}")
                pending[name] = value
            else:
                if name not in pending:
                    raise ApiError(400, 'Each filter must be of the format {"type": <type>, "value": <value>}')
                out.setdefault(name, []).append((pending.pop(name), value))
        elif m := _SHORTHAND.match(key):
            out.setdefault(m.group(1), []).append(("eq", value))
        else:
            raise ApiError(400, "Bad request")
    if pending:
        raise ApiError(400, 'Each filter must be of the format {"type": <type>, "value": <value>}')
    return out


def refuse(request: Request, *names: str) -> None:
    """400 for query parameters this endpoint does not take (the specification declares none of `names` for it)."""
    if given := sorted({k for k, _ in pairs(request)} & set(names)):
        raise ApiError(400, f"Unknown parameter: {', '.join(given)}")


def parse_time(value: str) -> datetime:
    if m := _RELATIVE.match(value):
        amount, unit = int(m.group(1)), m.group(2)
        return NOW - timedelta(**{{"m": "minutes", "h": "hours", "d": "days"}[unit]: amount})
    if not value.endswith("Z"):
        raise ApiError(400, f"Invalid time value: {value[:40]}")
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, f"Invalid time value: {value[:40]}") from None


def ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


Accessor = Callable[[dict[str, Any], str, str], bool]


def matches(
    item: dict[str, Any],
    filters: dict[str, list[tuple[str, str]]],
    accessors: dict[str, Callable[[dict[str, Any], str], bool]],
) -> bool:
    """eq values ORed, ne values ANDed, fields ANDed; unknown fields ignored (as the real API does)."""
    for name, conditions in filters.items():
        test = accessors.get(name)
        if test is None:
            continue
        eqs = [v for t, v in conditions if t == "eq"]
        nes = [v for t, v in conditions if t == "ne"]
        if eqs and not any(test(item, v) for v in eqs):
            return False
        if any(test(item, v) for v in nes):
            return False
    return True


def contains(haystack: Any, needle: str) -> bool:
    return isinstance(haystack, str) and needle.lower() in haystack.lower()


def wildcard(value: Any, pattern: str) -> bool:
    return isinstance(value, str) and fnmatch.fnmatchcase(value, pattern)


def per_page(request: Request, default: int = 30, maximum: int = 100) -> int:
    raw = request.query_params.get("per_page")
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ApiError(400, "per_page must be a positive integer")
    return min(int(raw), maximum)


def next_url(request: Request, **replace: str) -> str:
    """The absolute next-page URL: every original param kept, `offset`-style params replaced."""
    drop = {k for k in replace} | {k for k in ("offset", "page_token") if k in replace or "offset" in replace}
    kept = [(k, v) for k, v in pairs(request) if k not in drop and not k.startswith("offset[")]
    kept += list(replace.items())
    if not any(k == "base" for k, _ in kept) and "base" not in replace:
        kept.append(("base", NOW.strftime("%Y-%m-%dT%H:%M:%SZ")))
    return str(request.base_url).rstrip("/") + request.url.path + "?" + urlencode(kept)


def paginate(
    request: Request,
    items: list[dict[str, Any]],
    style: str,
    *,
    default: int = 30,
    maximum: int = 100,
    key: Callable[[dict[str, Any]], str] | None = None,
    total: bool = True,
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Slice `items` for this request and build Link/X-Total-Count headers in the resource's own style.

    Styles: `objectid` (offset=<last id>), `integer` (offset=N), `keyset` (offset[timestamp]&offset[id]),
    `page_token` (page_token=<id>|<epoch ms>|0).
    """
    size = per_page(request, default, maximum)
    q = request.query_params
    start = 0
    if style == "objectid" and (after := q.get("offset")):
        ids = [i["id"] for i in items]
        start = ids.index(after) + 1 if after in ids else len(items)
    elif style == "integer" and (raw := q.get("offset")):
        if not raw.isdigit():
            raise ApiError(400, "offset must be an integer")
        start = int(raw)
    elif style == "keyset" and (after_id := q.get("offset[id]")):
        ids = [i["id"] for i in items]
        start = ids.index(after_id) + 1 if after_id in ids else len(items)
    elif style == "page_token" and (token := q.get("page_token")):
        ids = [i["id"] for i in items]
        first = token.split("|", 1)[0]
        start = ids.index(first) if first in ids else len(items)
    chunk = items[start : start + size]
    headers: dict[str, str] = {}
    if total:
        headers["X-Total-Count"] = str(len(items))
    if start + size < len(items):
        last = chunk[-1]
        if style == "objectid":
            link = next_url(request, offset=last["id"])
        elif style == "integer":
            link = next_url(request, offset=str(start + size))
        elif style == "keyset":
            link = next_url(request, **{"offset[timestamp]": (key or (lambda i: ""))(last), "offset[id]": last["id"]})
        else:
            following = items[start + size]
            link = next_url(request, page_token=f"{following['id']}|1763640000000|0")
        headers["Link"] = f'<{link}>; rel="next"'
    return chunk, headers


def bool_param(request: Request, name: str) -> bool | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    if raw not in ("true", "false"):
        raise ApiError(400, f"{name} must be true or false")
    return raw == "true"


def first(values: Iterable[Any]) -> Any:
    return next(iter(values), None)
