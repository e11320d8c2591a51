"""The one place that decides whether a principal may see or call a tool, with these arguments."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..backends.base import Capabilities
from ..tools.registry import ToolSpec
from .principal import Principal

DELETE_OPERATIONS = frozenset({"discard", "delete"})


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: str


class Guard:
    """Toolsets (configuration), backend capabilities and the caller's scopes intersect; nothing widens a grant.

    `capabilities` returns what the configured backends can serve right now (BugPort's depend on what its
    bridge reports for the token).
    """

    def __init__(self, toolsets: Sequence[str], capabilities: Callable[[], Sequence[Capabilities]]) -> None:
        self.toolsets = frozenset(toolsets)
        self.capabilities = capabilities

    def offered(self, spec: ToolSpec) -> bool:
        """Whether this server offers the tool at all: toolset configured and some backend able."""
        if spec.toolset not in self.toolsets:
            return False
        return any(all(c.has(n) for n in spec.needs) for c in self.capabilities())

    def visible(self, principal: Principal, spec: ToolSpec) -> bool:
        return self.offered(spec) and spec.scope in principal.scopes

    def decide(
        self,
        principal: Principal,
        spec: ToolSpec,
        arguments: dict[str, Any],
        target: tuple[str, Capabilities] | None = None,
    ) -> Decision:
        """Allow or deny one call. Arguments are already resolved (default project filled in, URLs unpacked);
        `target` is the backend the call routes to, with its capabilities."""
        if spec.toolset not in self.toolsets:
            return Decision(False, f"tool {spec.name} is not enabled on this server (toolset {spec.toolset})")
        if not self.offered(spec):
            return Decision(False, f"tool {spec.name} is not available for the configured trackers")
        if spec.scope not in principal.scopes:
            return Decision(
                False, f"denied: tool {spec.name} needs the {spec.scope} scope, which this agent's token does not have"
            )
        if arguments.get("operation") in DELETE_OPERATIONS and "errors:delete" not in principal.scopes:
            return Decision(False, f"denied: operation {arguments['operation']} needs the errors:delete scope")
        project_id = arguments.get("project_id")
        if (spec.project_scoped or project_id is not None) and not principal.allows_project(project_id):
            return Decision(False, f"denied: project {project_id!r} is outside this agent's project limits")
        if principal.projects and not spec.project_scoped and project_id is None and spec.name != "list_projects":
            return Decision(
                False, f"denied: {spec.name} acts beyond single projects, and this agent's token is limited to projects"
            )
        if target is not None:
            backend, capabilities = target
            missing = [n for n in spec.needs if not capabilities.has(n)]
            if missing:
                return Decision(
                    False,
                    f"{spec.name} is not available for {backend} projects"
                    + (" with this upstream token" if backend == "bugport" else ""),
                )
        return Decision(True, f"scope {spec.scope}")
