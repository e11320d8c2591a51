"""Arguments checked against the tool's own signature, before anything else looks at them.

Unknown arguments are refused (the SDK would drop them silently, and a guard that read them would
decide on something the tool never sees); wrong types and values get one line each, in words, with
no validation library's noise.
"""

from __future__ import annotations

import collections
from typing import Any

from mcp.server.mcpserver.tools import Tool
from pydantic import ValidationError

from .errors import invalid

MAX_SHOWN = 3


def accepted_names(tool: Tool) -> list[str]:
    fields = tool.fn_metadata.arg_model.model_fields
    return sorted(field.alias or name for name, field in fields.items())


def validate(tool: Tool, arguments: Any) -> dict[str, Any]:
    """The validated arguments (Python values, defaults filled in), or a Refusal saying what is wrong."""
    if not isinstance(arguments, dict):
        raise invalid(f"arguments for {tool.name} must be an object")
    accepted = accepted_names(tool)
    unknown = sorted(str(k) for k in arguments if k not in accepted)
    if unknown:
        shown = ", ".join(repr(u[:40]) for u in unknown[:MAX_SHOWN])
        raise invalid(
            f"unknown argument{'s' if len(unknown) > 1 else ''} {shown} for {tool.name}; it takes: "
            + (", ".join(accepted) or "no arguments")
        )
    try:
        return tool.fn_metadata.validate_arguments(arguments)
    except ValidationError as exc:
        problems = [describe(error) for error in exc.errors(include_url=False)]
        more = f" (and {len(problems) - MAX_SHOWN} more)" if len(problems) > MAX_SHOWN else ""
        raise invalid(f"invalid arguments for {tool.name}: " + "; ".join(problems[:MAX_SHOWN]) + more) from None


_IN_WORDS = {
    "missing": "is required",
    "string_type": "must be a string",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "list_type": "must be a list",
    "greater_than_equal": "must be at least {ge}",
    "greater_than": "must be more than {gt}",
    "less_than_equal": "must be at most {le}",
    "string_too_short": "must not be empty",
    "string_too_long": "must be at most {max_length} characters",
    "too_short": "needs at least {min_length} item(s)",
    "too_long": "takes at most {max_length} items",
    "literal_error": "must be one of {expected}",
    "string_pattern_mismatch": "is not in the expected format",
}
"""pydantic error types in words (placeholders come from the error's context)."""


def describe(error: Any) -> str:
    """One pydantic error in words: `limit must be at least 1`."""
    loc = ".".join(str(p) for p in error.get("loc", ()) if not isinstance(p, int)) or "arguments"
    kind, ctx = error.get("type", ""), error.get("ctx") or {}
    if kind == "string_too_short" and ctx.get("min_length", 1) != 1:
        return f"{loc} must be at least {ctx['min_length']} characters"
    if (template := _IN_WORDS.get(kind)) is not None:
        return f"{loc} " + template.format_map(collections.defaultdict(str, ctx))
    message = str(error.get("msg", "is invalid"))[:120]
    return f"{loc}: {message}"
