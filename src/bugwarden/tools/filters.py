"""Free-form filters as flat strings (`error.status=open`, `app.release_stage!=staging`), or in BugSnag's own
saved-search filter form (`{"error.status": [{"type": "eq", "value": "open"}]}`), which is turned into the strings
while the arguments are validated: their shape is checked then, their field names against the project's event
fields before the request."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, WithJsonSchema
from pydantic_core import PydanticCustomError

from ..backends.base import Filter
from ..backends.capabilities import EventFields
from ..backends.errors import InvalidArgument
from ..call.target import Target

MAX_CONDITIONS = 20
_FIELD = re.compile(r"^[A-Za-z0-9_.:-]{1,120}$")


CONDITION_SCHEMA = {
    "type": "object",
    "properties": {"type": {"enum": ["eq", "ne"]}, "value": {"type": "string"}},
    "required": ["type", "value"],
}
"""One condition of BugSnag's filter form (its OpenAPI `Filters` schema): `eq` matches the value, `ne` excludes it."""


def from_saved_search_form(value: Any) -> Any:
    """BugSnag's filter object as 'field=value' / 'field!=value' strings, in its order; anything else unchanged.
    Refuses, in words, what the vendor would: a field id that is not one, a condition that is not exactly a
    `type` of eq or ne and a non-empty string `value`."""
    if not isinstance(value, dict):
        return value
    out: list[str] = []
    for field, conditions in value.items():
        if not isinstance(field, str) or not _FIELD.match(field):
            raise _refusal(f"{str(field)[:60]!r} is not a filter field id (e.g. 'error.status')")
        if not isinstance(conditions, list) or not conditions:
            raise _refusal(f"{field} must be a list of conditions like [{{'type': 'eq', 'value': '...'}}]")
        for condition in conditions:
            if not isinstance(condition, dict) or set(condition) != {"type", "value"}:
                raise _refusal(f"each condition of {field} must be {{'type': 'eq' or 'ne', 'value': '...'}}")
            kind, said = condition["type"], condition["value"]
            if kind not in ("eq", "ne"):
                raise _refusal(f"{field} has type {str(kind)[:20]!r}; BugSnag takes eq or ne")
            if isinstance(said, bool):
                said = "true" if said else "false"  # how BugSnag reads its boolean fields (error.has_issue)
            if not isinstance(said, str) or not said.strip():
                raise _refusal(f"{field}'s value must be a non-empty string")
            out.append(f"{field}{'=' if kind == 'eq' else '!='}{said}")
    if len(out) > MAX_CONDITIONS:
        raise _refusal(f"takes at most {MAX_CONDITIONS} conditions in all")
    return out


def _refusal(words: str) -> PydanticCustomError:
    return PydanticCustomError("filter_form", words)


FilterList = Annotated[
    Annotated[list[Annotated[str, Field(max_length=300)]], Field(max_length=MAX_CONDITIONS)] | None,
    BeforeValidator(from_saved_search_form),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "array", "items": {"type": "string", "maxLength": 300}, "maxItems": MAX_CONDITIONS},
                {"type": "object", "additionalProperties": {"type": "array", "items": CONDITION_SCHEMA}},
                {"type": "null"},
            ]
        }
    ),
    Field(
        description="Extra filters as 'field=value' or 'field!=value' (e.g. 'os.name=Android', "
        "'app.release_stage!=staging'); fields come from list_event_fields. Same field twice: '=' values are "
        "ORed, '!=' values ANDed. Or BugSnag's own filter object, as a saved search holds it: "
        '{"error.status": [{"type": "eq", "value": "open"}], "os.name": [{"type": "ne", "value": "iOS"}]}.'
    ),
]
"""Filters in either form; the tool always receives the strings (the object form is turned into them while the
arguments are validated, so the checkpoint's rules, the consent question and the audit see one form)."""


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
