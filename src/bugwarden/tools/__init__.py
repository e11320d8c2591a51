"""MCP tool definitions. Importing this package fills `registry.REGISTRY`."""

from . import admin, context, destructive, errors, events, insights, projects, signals, triage
from .registry import REGISTRY, ToolSpec

__all__ = [
    "REGISTRY",
    "ToolSpec",
    "admin",
    "context",
    "destructive",
    "errors",
    "events",
    "insights",
    "projects",
    "signals",
    "triage",
]
