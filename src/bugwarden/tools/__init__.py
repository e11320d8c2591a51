"""MCP tool definitions. Importing this package fills `registry.REGISTRY`."""

from . import context, errors, events, projects
from .registry import REGISTRY, ToolSpec

__all__ = ["REGISTRY", "ToolSpec", "context", "errors", "events", "projects"]
