"""Who is calling: a token holder over HTTP or stdio, or the local stdio principal."""

from __future__ import annotations

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

    def allows_project(self, project_id: str | None) -> bool:
        return not self.projects or (project_id is not None and project_id in self.projects)
