"""What tools share: answering with text plus structured content, and the checks several tools make."""

from __future__ import annotations

import re
from typing import Any

from mcp.types import CallToolResult, TextContent

from ..backends.base import Backend
from ..backends.bugsnag import BugsnagBackend
from ..backends.errors import InvalidArgument
from ..call.target import AccountTarget, ProjectTarget, Target
from ..render.answer import Answer
from ..render.text import cap_output

_SINCE = re.compile(r"^(\d{1,4}[mhd]|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z)$")


def respond(answer: Answer) -> CallToolResult:
    """A successful answer: compact text for the model, structured content for programs."""
    return CallToolResult(
        content=[TextContent(type="text", text=cap_output(answer.text, answer.limit))],
        structured_content=answer.data.model_dump(mode="json"),
    )


def insights(target: ProjectTarget | AccountTarget) -> BugsnagBackend:
    """The backend of a BugSnag-only tool (the insights and admin toolsets follow BugSnag's API). The checkpoint
    refuses these tools for other backends by capability, so this only narrows the type."""
    if not isinstance(target.backend, BugsnagBackend):
        raise InvalidArgument(f"this tool is served by BugSnag only, not {target.backend.label}")
    return target.backend


def backend_of(target: Target) -> Backend:
    if isinstance(target, ProjectTarget | AccountTarget):
        return target.backend
    raise InvalidArgument("this call has no single backend")


def check_since(since: str | None, name: str = "since") -> None:
    if since is not None and not _SINCE.match(since):
        raise InvalidArgument(
            f"{name} must be relative like '7d', '24h', '30m', or a UTC time like '2026-11-01T00:00:00Z'"
        )


def check_vocabulary(target: Target, arguments: dict[str, Any], *names: str) -> None:
    """Refuse a status or severity the target's backend does not have, naming the ones it has."""
    backend = backend_of(target)
    vocab = {"status": backend.capabilities.statuses, "severity": backend.capabilities.severities}
    for name in names:
        value = arguments.get(name)
        if value is not None and value not in vocab[name]:
            raise InvalidArgument(
                f"{name} {value!r} does not exist on {backend.label}; use one of {', '.join(vocab[name])}"
            )
