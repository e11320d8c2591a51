"""`completion/complete` for prompt arguments and resource-template parameters.

Each argument is completed from what a read tool shows the same token, and the completion runs
through the checkpoint as that tool: project ids as `list_projects`, error ids and release stages
as `list_errors` in the project named by the other arguments (or the default project),
organization ids as `list_organizations`. So a completion authenticates, needs the tool's scope,
respects the token's project limits, is audited (as `completion:<tool>`) and counts against the
call budget. A refusal, an upstream failure or an argument we do not complete gives no values and
no message: a completion never says more than the tool would.

Values are ids (what the argument takes) and release stages, offered only where the one sanitiser
(`render.text.verbatim`) says they can be shown exactly as they are: a value it would have to change (a
bidi override, a zero-width character, a fence imitation) is left out, never altered, since a client
sends a completion value back as it got it. The partial value also matches names, error classes and
messages. Candidates are kept `CACHE_SECONDS` per token and scope, so typing costs no requests.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CompleteRequestParams, CompleteResult, Completion, PromptReference

from ..backends.base import ErrorQuery
from ..backends.capabilities import Organizations
from ..backends.errors import BackendError
from ..call.call import Call
from ..call.target import AccountTarget, Listing, ProjectTarget, Target, projects_of
from ..render.text import verbatim
from .resources import ERROR_URI, EVENT_URI, ORGANIZATION_URI
from .support import able

log = logging.getLogger("bugwarden.tools")
MAX_VALUES = 100  # the protocol's cap on one answer
CACHE_SECONDS = 30.0

Candidate = tuple[str, tuple[str, ...]]
"""A value to offer, and the words a partial value may match (the value itself, a name, a message)."""
T = TypeVar("T")


class Invoke(Protocol):
    """How a completion runs through the checkpoint (`Checkpoint.invoke`): as the read tool `name`, audited as
    `record_as`, handing `run` the admitted Call; raises ToolError when refused or failed."""

    def __call__(
        self, record_as: str, name: str, arguments: Any, ctx: Any, run: Callable[[Call[Any]], Awaitable[T]]
    ) -> Awaitable[T]: ...


async def _projects(target: Target) -> list[Candidate]:
    assert isinstance(target, Listing)
    try:
        projects, _ = await projects_of(target.backends)  # what some backends list, when others fail
    except BackendError:
        return []
    return [(p.id, (p.id, p.name, p.slug or "")) for p in projects if target.principal.allows_project(p.id)]


async def _errors(target: Target) -> list[Candidate]:
    assert isinstance(target, ProjectTarget)
    page = await target.backend.list_errors(target.project_id, ErrorQuery(limit=100))
    return [(e.id, (e.id, e.error_class or "", e.message or "")) for e in page.items]


async def _release_stages(target: Target) -> list[Candidate]:
    assert isinstance(target, ProjectTarget)
    project = await target.backend.get_project(target.project_id)
    return [(stage, (stage,)) for stage in project.release_stages]


async def _organizations(target: Target) -> list[Candidate]:
    assert isinstance(target, AccountTarget)
    orgs = await able(target, Organizations).list_organizations(limit=100)
    return [(o.id, (o.id, o.name, o.slug or "")) for o in orgs.items]


@dataclass(frozen=True, slots=True)
class Source:
    """Where one kind of argument is completed from: the tool it is read as, and how."""

    tool: str
    candidates: Callable[[Target], Awaitable[list[Candidate]]]
    in_project: bool = False


PROJECTS = Source("list_projects", _projects)
ERRORS = Source("list_errors", _errors, in_project=True)
RELEASE_STAGES = Source("list_errors", _release_stages, in_project=True)
ORGANIZATIONS = Source("list_organizations", _organizations)

ARGUMENTS: dict[tuple[str, str], Source] = {
    ("prompt:triage_project", "project_id"): PROJECTS,
    ("prompt:triage_project", "release_stage"): RELEASE_STAGES,
    ("prompt:fix_error", "project_id"): PROJECTS,
    ("prompt:fix_error", "error_id"): ERRORS,
    (f"template:{ERROR_URI}", "project_id"): PROJECTS,
    (f"template:{ERROR_URI}", "error_id"): ERRORS,
    (f"template:{EVENT_URI}", "project_id"): PROJECTS,
    (f"template:{ORGANIZATION_URI}", "organization_id"): ORGANIZATIONS,
}
"""(prompt or resource template, argument) -> where its values come from. Anything else completes to nothing."""


def ranked(candidates: Sequence[Candidate], partial: str) -> list[str]:
    """Values whose id starts with `partial` first, then those where any word contains it (case-insensitive)."""
    needle = partial.strip().lower()
    first: list[str] = []
    then: list[str] = []
    for value, words in candidates:
        if verbatim(value) is None or value in first or value in then:
            continue
        if value.lower().startswith(needle):
            first.append(value)
        elif any(needle in w.lower() for w in words):
            then.append(value)
    return first + then


class Completions:
    """Answers `completion/complete` requests through one checkpoint (its `invoke`)."""

    def __init__(self, invoke: Invoke, clock: Callable[[], float] = time.monotonic) -> None:
        self.invoke = invoke
        self.clock = clock
        self._cache: dict[tuple[str, str, str, str], tuple[float, list[Candidate]]] = {}

    async def __call__(self, ctx: Any, params: CompleteRequestParams) -> CompleteResult:
        ref = params.ref
        key = f"prompt:{ref.name}" if isinstance(ref, PromptReference) else f"template:{ref.uri}"
        source = ARGUMENTS.get((key, params.argument.name))
        if source is None:
            return _answer([])
        known = dict(params.context.arguments or {}) if params.context else {}
        arguments = {"project_id": known["project_id"]} if source.in_project and known.get("project_id") else {}
        try:
            candidates = await self.invoke(
                f"completion:{source.tool}", source.tool, arguments, ctx, lambda call: self._candidates(source, call)
            )
        except ToolError:
            return _answer([])  # refused or failed: the checkpoint audited why; the client learns nothing
        return _answer(ranked(candidates, params.argument.value))

    async def _candidates(self, source: Source, call: Call[Any]) -> list[Candidate]:
        target = call.target
        scope = target.project_id if isinstance(target, ProjectTarget) else ""
        key = (call.principal.id, source.tool, source.candidates.__name__, scope)
        now = self.clock()
        if (hit := self._cache.get(key)) and hit[0] > now:
            return hit[1]
        try:
            found = await source.candidates(target)
        except BackendError as exc:
            log.info("completion from %s failed: %r", source.tool, exc)
            return []
        if len(self._cache) >= 1000:
            self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
            if len(self._cache) >= 1000:
                self._cache.clear()
        self._cache[key] = (now + CACHE_SECONDS, found)
        return found


def _answer(values: list[str]) -> CompleteResult:
    shown = values[:MAX_VALUES]
    return CompleteResult(completion=Completion(values=shown, total=len(values), has_more=len(values) > len(shown)))
