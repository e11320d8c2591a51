"""The tool registry: each tool's name, handler, required scope, toolset, capabilities and annotations.

Tools register with `@tool(...)` beside their handler; `app.py` registers every entry through
the guard, so adding a tool cannot skip it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mcp.types import ToolAnnotations

from ..guard.scopes import SCOPES


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
    needs: tuple[str, ...] = ()
    project_scoped: bool = True
    """Whether the tool acts inside one project (and so takes `project_id`)."""

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


REGISTRY: dict[str, ToolSpec] = {}


def tool(
    *,
    title: str,
    scope: str,
    toolset: str = "core",
    read_only: bool,
    destructive: bool = False,
    idempotent: bool,
    needs: tuple[str, ...] = (),
    project_scoped: bool = True,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register the decorated coroutine as a tool named after the function."""
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}")

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
            project_scoped=project_scoped,
        )
        return fn

    return decorate
