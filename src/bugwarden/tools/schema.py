"""Compact JSON Schemas for tools/list: same meaning, fewer bytes in every agent's context window.

Pydantic titles every property and wraps each optional value in `anyOf: [X, {"type": "null"}]`. Titles
carry no meaning for validation, `default: null` says nothing a missing `required` entry does not, and
`{"type": ["string", "null"]}` is the same constraint as the `anyOf`. Property names are never touched.
"""

from __future__ import annotations

from typing import Any

_NULL = {"type": "null"}


def compact(schema: Any) -> Any:
    """A smaller, equivalent copy of `schema` (the input is not modified)."""
    if isinstance(schema, list):
        return [compact(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "title" and isinstance(value, str):
            continue
        if key == "default" and value is None:
            continue
        if key in ("properties", "$defs", "definitions", "patternProperties") and isinstance(value, dict):
            out[key] = {name: compact(sub) for name, sub in value.items()}
        else:
            out[key] = compact(value)
    options = out.get("anyOf")
    if isinstance(options, list) and len(options) == 2 and _NULL in options:
        other = options[0] if options[1] == _NULL else options[1]
        if isinstance(other, dict) and isinstance(other.get("type"), str) and "anyOf" not in other:
            del out["anyOf"]
            merged = {**other, **out}
            merged["type"] = [other["type"], "null"]
            return merged
    return out
