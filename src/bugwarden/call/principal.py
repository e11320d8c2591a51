"""Who is calling: a token holder over HTTP or stdio, or the local stdio principal."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller's identity and grant. `projects` empty means every project the upstream token can see."""

    id: str
    name: str
    scopes: frozenset[str]
    projects: frozenset[str] = field(default_factory=frozenset)
    transport: str = "stdio"
    person: str | None = None
    """Through an OAuth grant: the person who gave it (`client_id` is then the OAuth client it was given to)."""
    client_id: str | None = None
    project_scopes: Mapping[str, frozenset[str]] = field(default_factory=dict, compare=False)
    """For an agent limited to projects whose access an admin set per project: what it may do in each. `scopes` is
    then what it may do somewhere (the union); a project without an entry has `scopes`."""

    def allows_project(self, project_id: str | None) -> bool:
        return not self.projects or (project_id is not None and project_id in self.projects)

    def scopes_in(self, project_id: str) -> frozenset[str]:
        """What this principal may do in one project (never more than `scopes`)."""
        return self.project_scopes.get(project_id, self.scopes) & self.scopes
