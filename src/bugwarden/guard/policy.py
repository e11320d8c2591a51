"""The one place that decides whether a principal may see or call a tool, and on what.

Decisions come in the checkpoint's order: `grant` needs nothing but the principal and the tool (no
upstream request, nothing about data in the answer); `available` asks whether a configured backend
can serve the tool; `limits` decides on the resolved target. Toolsets (configuration), backend
capabilities and the caller's scopes intersect: nothing widens a grant.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from ..backends.base import Backend
from ..backends.capabilities import SAID, Capability, has
from ..call.target import AccountTarget, Feed, ProjectTarget, Target
from .errors import Refusal, denied
from .principal import Principal

DELETE_OPERATIONS = frozenset({"discard", "delete"})


class ToolPolicy(Protocol):
    """What the guard needs to know about a tool (tools/registry.ToolSpec provides it)."""

    @property
    def name(self) -> str: ...

    @property
    def scope(self) -> str: ...

    @property
    def toolset(self) -> str: ...

    @property
    def read_only(self) -> bool: ...

    @property
    def reach(self) -> str:
        """'project' (acts inside one project), 'account' (organization level), 'listing' (lists across), or
        'feed' (reads signals from the store: one project, or every project the caller may see)."""
        ...

    @property
    def needs(self) -> tuple[Capability, ...]:
        """The capabilities (backends/capabilities.py) a backend must have, and permit, to serve the tool."""
        ...


class Guard:
    """`capabilities` returns what each configured backend can serve right now (BugPort's depend on what its
    bridge reports for the token)."""

    def __init__(self, toolsets: Sequence[str], backends: Callable[[], Sequence[Backend]]) -> None:
        self.toolsets = frozenset(toolsets)
        self.backends = backends

    def offered(self, spec: ToolPolicy) -> bool:
        """Whether this server offers the tool at all: toolset configured and some backend able."""
        if spec.toolset not in self.toolsets:
            return False
        return any(all(has(b, n) for n in spec.needs) for b in self.backends())

    def visible(self, principal: Principal, spec: ToolPolicy) -> bool:
        return self.offered(spec) and spec.scope in principal.scopes

    def grant(self, principal: Principal, spec: ToolPolicy) -> None:
        """Refuse unless the toolset is enabled and the principal holds the tool's scope."""
        if spec.toolset not in self.toolsets:
            raise denied(f"tool {spec.name} is not enabled on this server (toolset {spec.toolset})")
        if spec.scope not in principal.scopes:
            raise denied(
                f"denied: tool {spec.name} needs the {spec.scope} scope, which this agent's token does not have"
            )

    def available(self, spec: ToolPolicy) -> None:
        if self.offered(spec):
            return
        backends = list(self.backends())
        missing = [n for n in spec.needs if not any(has(b, n) for b in backends)] or list(spec.needs)
        labels = ", ".join(b.label for b in backends) or "none"
        raise denied(
            f"tool {spec.name} is not available here: the configured trackers ({labels}) have no " + SAID[missing[0]]
        )

    def limits(self, principal: Principal, spec: ToolPolicy, target: Target, arguments: dict[str, Any]) -> None:
        """Refuse what the principal's grant does not reach. Messages name only what the caller passed."""
        operation = arguments.get("operation")
        if operation in DELETE_OPERATIONS and "errors:delete" not in principal.scopes:
            raise denied(f"denied: operation {operation} needs the errors:delete scope")
        if isinstance(target, ProjectTarget):
            if not principal.allows_project(target.project_id):
                named = arguments.get("project_id") == target.project_id
                raise denied(
                    f"denied: project {target.project_id!r} is outside this agent's project limits"
                    if named
                    else "denied: the project this refers to is outside this agent's project limits"
                )
            self._serves(spec, target.backend)
        elif isinstance(target, Feed):
            if target.project_id is not None and not principal.allows_project(target.project_id):
                raise denied(f"denied: project {target.project_id!r} is outside this agent's project limits")
        elif isinstance(target, AccountTarget):
            if principal.projects:
                raise denied(
                    f"denied: {spec.name} acts on the whole account, beyond single projects, and this agent's token "
                    "is limited to projects"
                )
            self._serves(spec, target.backend)

    @staticmethod
    def _serves(spec: ToolPolicy, backend: Backend) -> None:
        missing = [n for n in spec.needs if not has(backend, n)]
        if missing:
            raise Refusal("denied", f"{spec.name} is not available for {backend.label} projects: no {SAID[missing[0]]}")
