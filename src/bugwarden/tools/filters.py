"""Free-form filters as flat strings (`error.status=open`, `app.release_stage!=staging`): their shape is checked
by the checkpoint, their field names against the project's event fields before the request."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import Field

from ..backends.base import Filter
from ..backends.capabilities import EventFields
from ..backends.errors import InvalidArgument
from ..call.target import Target

FilterList = Annotated[
    list[Annotated[str, Field(max_length=300)]] | None,
    Field(
        description="Extra filters as 'field=value' or 'field!=value' (e.g. 'os.name=Android', "
        "'app.release_stage!=staging'); fields come from list_event_fields. Same field twice: '=' values are "
        "ORed, '!=' values ANDed.",
        max_length=20,
    ),
]
# Work on the filter API but are absent from event_fields (bugsnag-api.md 3.9).
ALWAYS_VALID = frozenset({"event.since", "event.before", "search", "error.id", "error.status", "event.severity"})
_FILTER = re.compile(r"^([A-Za-z0-9_.:-]{1,120})\s*(!=|=)\s*(.+)$", re.S)


def parse_filter(text: str) -> Filter:
    m = _FILTER.match(text.strip())
    if not m:
        raise InvalidArgument(f"filter {text[:60]!r} must look like 'field=value' or 'field!=value'")
    field, op, value = m.groups()
    return field, "eq" if op == "=" else "ne", value.strip()


def filter_rules(args: dict[str, Any], target: Target) -> None:
    """The shape of every filter (no request needed)."""
    for text in args.get("filters") or []:
        parse_filter(text)


async def checked_filters(backend: EventFields, project_id: str, filters: list[str] | None) -> list[Filter]:
    """Parse and check filter keys against the project's (cached) event fields; refuse unknown keys by name."""
    parsed = [parse_filter(f) for f in filters or []]
    if not parsed:
        return []
    known = ALWAYS_VALID | {f.display_id for f in await backend.list_event_fields(project_id)}
    unknown = sorted({field for field, _, _ in parsed} - known)
    if unknown:
        raise InvalidArgument(
            f"unknown filter field {', '.join(unknown)} for this project; valid fields: {', '.join(sorted(known))}"
        )
    return parsed
