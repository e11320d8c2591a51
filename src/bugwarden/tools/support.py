"""What tools share: answering with text plus structured content, and the checks several tools make."""

from __future__ import annotations

import re
from typing import Any, TypeVar

from mcp.types import CallToolResult, TextContent

from ..backends.base import Backend
from ..backends.capabilities import SAID, has
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


C = TypeVar("C")


def able(target: ProjectTarget | AccountTarget, capability: type[C]) -> C:
    """The target's backend as the capability a tool uses (backends/capabilities.py). The checkpoint refuses a
    tool for a backend without the capabilities its registration needs, so this only narrows the type."""
    backend = target.backend
    if not isinstance(backend, capability) or not has(backend, capability):
        raise InvalidArgument(f"{backend.label} has no {SAID.get(capability, 'such capability')}")
    return backend


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
    vocab = {"status": backend.vocabulary.statuses, "severity": backend.vocabulary.severities}
    for name in names:
        value = arguments.get(name)
        if value is not None and value not in vocab[name]:
            raise InvalidArgument(
                f"{name} {value!r} does not exist on {backend.label}; use one of {', '.join(vocab[name])}"
            )
