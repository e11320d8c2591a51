"""The per-project check: an agent whose access an admin set project by project (the console's grid) may do in each
project only what that project's grid gives it. Runs after the project limits, on the resolved target, from one line
of the checkpoint; it reads nothing but the principal (which carries the access read from the store at this very
request), so a change holds from the agent's next call on every replica.

    target = per_project(principal, spec, target, arguments)

A call on one project (or one project's signals) is refused unless that project's access holds the tool's scope
(and `errors:delete` for a delete or discard operation). A call across projects (a listing, every project's
signals) goes on with a principal narrowed to the projects where the scope is held, and is refused when none is.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, TypeVar

from ..call.target import Feed, Listing, ProjectTarget, Target
from .errors import denied
from .policy import DELETE_OPERATIONS, ToolPolicy
from .principal import Principal

T = TypeVar("T", bound=Target)


def _needs(spec: ToolPolicy, arguments: dict[str, Any]) -> list[str]:
    needs = [spec.scope]
    if arguments.get("operation") in DELETE_OPERATIONS:
        needs.append("errors:delete")
    return needs


def _check_one(principal: Principal, spec: ToolPolicy, project_id: str, arguments: dict[str, Any]) -> None:
    held = principal.scopes_in(project_id)
    missing = [scope for scope in _needs(spec, arguments) if scope not in held]
    if not missing:
        return
    where = (
        f"project {project_id!r}"
        if arguments.get("project_id") == project_id
        else "the project this refers to"  # resolved from an error URL or id: name only what the caller passed
    )
    raise denied(
        f"denied: {spec.name} needs the {missing[0]} scope, which this agent's access to {where} does not have"
    )


def narrowed(principal: Principal, scope: str) -> Principal:
    """The principal limited to the projects where it holds `scope` (itself when its access is the same
    everywhere)."""
    if not principal.projects or not principal.project_scopes:
        return principal
    return replace(principal, projects=frozenset(p for p in principal.projects if scope in principal.scopes_in(p)))


def per_project(principal: Principal, spec: ToolPolicy, target: T, arguments: dict[str, Any]) -> T:
    """Refuse what the agent's access to the target's project does not allow; narrow a call across projects to
    the projects it may use this tool on."""
    if not principal.project_scopes:
        return target
    if isinstance(target, ProjectTarget):
        _check_one(principal, spec, target.project_id, arguments)
        return target
    if isinstance(target, Feed | Listing):
        if isinstance(target, Feed) and target.project_id is not None:
            _check_one(principal, spec, target.project_id, arguments)
            return target
        limited = narrowed(principal, spec.scope)
        if principal.projects and not limited.projects:
            raise denied(
                f"denied: {spec.name} needs the {spec.scope} scope, which this agent's access to its projects "
                "does not have"
            )
        return replace(target, principal=limited)
    return target
