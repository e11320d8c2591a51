"""The tool registry: each tool's name, handler, scope, toolset, reach, capabilities, rules and annotations.

Tools register with `@tool(...)` beside their handler; `app.py` builds every entry into the server
behind the checkpoint, so adding a tool cannot skip it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mcp.types import ToolAnnotations

from ..backends.capabilities import Capability
from ..call.scopes import SCOPES
from ..call.target import Target

REACHES = ("project", "account", "listing", "feed")
Rules = Callable[[dict[str, Any], Target], None]
Question = Callable[[dict[str, Any]], str | None]


@dataclass(frozen=True, slots=True)
class ToolSpec:
    name: str
    fn: Callable[..., Any]
    title: str
    scope: str
    toolset: str
    read_only: bool
    destructive: bool
    idempotent: bool
    open_world: bool = True
    needs: tuple[Capability, ...] = ()
    """The capabilities (backends/capabilities.py) the tool uses: it is offered only where a backend has them."""
    reach: str = "project"
    """'project': acts inside one project (takes project_id); 'account': organization level, or a project when
    given project_id; 'listing': lists across every backend and shows only what the principal may see; 'feed':
    reads signals from the store (no upstream), of one project or of every project the principal may see."""
    rules: Rules | None = None
    ask: Question | None = None

    @property
    def description(self) -> str:
        """What clients and models see: the handler's docstring, dedented."""
        return inspect.cleandoc(self.fn.__doc__ or "")

    @property
    def annotations(self) -> ToolAnnotations:
        return ToolAnnotations(
            title=self.title,
            read_only_hint=self.read_only,
            destructive_hint=self.destructive,
            idempotent_hint=self.idempotent,
            open_world_hint=self.open_world,
        )

    def check(self, arguments: dict[str, Any], target: Target) -> None:
        """The tool's own rules across its arguments; raises InvalidArgument before any intent is audited."""
        if self.rules is not None:
            self.rules(arguments, target)

    def question(self, arguments: dict[str, Any]) -> str | None:
        """What to ask the user before this call runs (None: nothing to ask)."""
        return self.ask(arguments) if self.ask is not None else None


REGISTRY: dict[str, ToolSpec] = {}


def tool(
    *,
    title: str,
    scope: str,
    toolset: str = "core",
    read_only: bool,
    destructive: bool = False,
    idempotent: bool,
    needs: tuple[Capability, ...] = (),
    reach: str = "project",
    rules: Rules | None = None,
    ask: Question | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register the decorated coroutine as a tool named after the function."""
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}")
    if reach not in REACHES:
        raise ValueError(f"unknown reach {reach!r}")

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        name = fn.__name__
        if name in REGISTRY:
            raise ValueError(f"tool {name!r} registered twice")
        REGISTRY[name] = ToolSpec(
            name,
            fn,
            title,
            scope,
            toolset,
            read_only,
            destructive,
            idempotent,
            needs=needs,
            reach=reach,
            rules=rules,
            ask=ask,
        )
        return fn

    return decorate
