"""Arguments checked against the tool's own signature, before anything else looks at them.

Unknown arguments are refused (the SDK would drop them silently, and a guard that read them would
decide on something the tool never sees); wrong types and values get one line each, in words, with
no validation library's noise.
"""

from __future__ import annotations

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


def describe(error: Any) -> str:
    """One pydantic error in words: `limit must be at least 1`."""
    loc = ".".join(str(p) for p in error.get("loc", ()) if not isinstance(p, int)) or "arguments"
    kind, ctx = error.get("type", ""), error.get("ctx") or {}
    if kind == "missing":
        return f"{loc} is required"
    if kind == "string_type":
        return f"{loc} must be a string"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"{loc} must be a whole number"
    if kind in ("bool_type", "bool_parsing"):
        return f"{loc} must be true or false"
    if kind in ("list_type",):
        return f"{loc} must be a list"
    if kind == "greater_than_equal":
        return f"{loc} must be at least {ctx.get('ge')}"
    if kind == "greater_than":
        return f"{loc} must be more than {ctx.get('gt')}"
    if kind == "less_than_equal":
        return f"{loc} must be at most {ctx.get('le')}"
    if kind == "string_too_short":
        n = ctx.get("min_length", 1)
        return f"{loc} must not be empty" if n == 1 else f"{loc} must be at least {n} characters"
    if kind == "string_too_long":
        return f"{loc} must be at most {ctx.get('max_length')} characters"
    if kind == "too_short":
        return f"{loc} needs at least {ctx.get('min_length')} item(s)"
    if kind == "too_long":
        return f"{loc} takes at most {ctx.get('max_length')} items"
    if kind == "literal_error":
        return f"{loc} must be one of {ctx.get('expected')}"
    if kind == "string_pattern_mismatch":
        return f"{loc} is not in the expected format"
    message = str(error.get("msg", "is invalid"))[:120]
    return f"{loc}: {message}"
