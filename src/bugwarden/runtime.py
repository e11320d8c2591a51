"""The per-process state tools work with: the configured backends, and how a call's target is resolved.

Routing: a project id routes to the backend that owns its shape (`bugport:` ids to BugPort, the
rest to BugSnag); an error reference that names its own backend (a BugSnag dashboard URL, a
`bugport:` bug id) needs no project id at all.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from .backends.base import Backend
from .backends.call_context import CallContext
from .backends.capabilities import has
from .backends.errors import BackendError, InvalidArgument
from .backends.paths import check_id
from .call.target import AccountTarget, Feed, Listing, ProjectTarget, SignalReader, Target, projects_of
from .config import Settings
from .guard.policy import ToolPolicy
from .guard.principal import Principal
from .model import Project

log = logging.getLogger("bugwarden")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
_OBJECT_ID = re.compile(r"^[0-9a-f]{24}$")
_BUGPORT_ID = re.compile(r"^(bug|prj|proj)_[A-Za-z0-9]{4,}$")


@dataclass
class Runtime:
    """Built once by `build_server`."""

    settings: Settings
    backends: list[Backend] = field(default_factory=list)
    clock: Callable[[], float] = time.monotonic
    signals: SignalReader | None = None
    """Where webhook signals are read (None: this server keeps none)."""

    def backend_named(self, name: str) -> Backend | None:
        return next((b for b in self.backends if b.name == name), None)

    def backend_for(self, project_id: str) -> Backend:
        """The backend a project id belongs to."""
        for backend in self.backends:
            if backend.owns_project(project_id):
                return backend
        if project_id.startswith("bugport:"):
            raise InvalidArgument("no BugPort workspace is configured: set BUGPORT_TOKEN")
        if self.backends:
            raise InvalidArgument(
                f"project_id {project_id!r} is not a BugPort id (they start with 'bugport:'): see list_projects"
            )
        raise InvalidArgument("no tracker is configured")

    def bound(self, upstream: CallContext | None) -> Runtime:
        """This runtime with every backend bound to one call (its requests charged to it), or as it is."""
        if upstream is None:
            return self
        return replace(self, backends=[backend.bound(upstream) for backend in self.backends])

    async def discover(self, upstream: CallContext | None = None) -> None:
        """Ask each backend what its credential may do (once), for the call `upstream` if any. A failure leaves
        that backend read-only for now."""
        for backend in self.bound(upstream).backends:
            try:
                await backend.discover()
            except BackendError as exc:
                log.warning("%s discovery failed (%r); offering read tools only", backend.label, exc)

    async def all_projects(self) -> tuple[list[Project], list[str]]:
        """Every visible project, and the labels of backends that could not list theirs."""
        projects, failed = await projects_of(self.backends)
        for backend, exc in failed:
            log.warning("%s could not list projects: %r", backend.label, exc)
        return projects, [backend.label for backend, _ in failed]

    async def default_project(self, principal: Principal) -> str:
        """BUGSNAG_PROJECT_ID (within the caller's limits), else the only project the caller may see."""
        preset = self.settings.bugsnag_project_id
        if preset and self.backend_named("bugsnag") and principal.allows_project(preset):
            return preset
        if len(principal.projects) == 1:
            return next(iter(principal.projects))
        projects, _ = await self.all_projects()
        visible = [p for p in projects if principal.allows_project(p.id)]
        if len(visible) == 1:
            return visible[0].id
        hint = ", or set BUGSNAG_PROJECT_ID for a default" if self.backend_named("bugsnag") else ""
        if "projects:read" not in principal.scopes:
            raise InvalidArgument(f"project_id is required{hint}")
        shown = ", ".join(p.id for p in visible[:5]) + (", …" if len(visible) > 5 else "")
        raise InvalidArgument(
            f"project_id is required: {len(visible)} projects are visible to this agent"
            + (f" ({shown})" if visible else "")
            + f"; pass one from list_projects{hint}"
        )

    def _serving(self, spec: ToolPolicy) -> Backend:
        for backend in self.backends:
            if all(has(backend, n) for n in spec.needs):
                return backend
        raise InvalidArgument(f"{spec.name} is not available for the configured trackers")

    async def resolve(
        self, spec: ToolPolicy, arguments: dict[str, Any], principal: Principal, upstream: CallContext | None = None
    ) -> tuple[Target, dict[str, Any]]:
        """The one target of a call, from validated arguments; and the arguments with ids resolved. The target's
        backends, and the lookups made to find it, are bound to the call's `upstream`."""
        return await self.bound(upstream)._resolve(spec, dict(arguments), principal)

    async def _resolve(
        self, spec: ToolPolicy, args: dict[str, Any], principal: Principal
    ) -> tuple[Target, dict[str, Any]]:
        if spec.reach == "feed":
            project = args.get("project_id")
            if project is not None:
                check_id(project, "project_id")
            return Feed(principal=principal, reader=self.signals, project_id=project), args
        if spec.reach == "listing":
            preset = self.settings.bugsnag_project_id
            default = preset if preset and self.backend_named("bugsnag") and principal.allows_project(preset) else None
            return Listing(backends=tuple(self.backends), principal=principal, default_project_id=default), args
        if spec.reach == "account" and args.get("project_id") is None:
            organization_id = args.get("organization_id")
            if organization_id is not None:
                check_id(organization_id, "organization_id")
            return AccountTarget(backend=self._serving(spec), organization_id=organization_id), args
        self._bugport_bare_ids(args)
        reference = args.get("error_id")
        if isinstance(reference, str):
            await self._locate(reference, args)
        if args.get("project_id") is None:
            args["project_id"] = await self.default_project(principal)
        project_id = check_id(args["project_id"], "project_id")
        backend = self.backend_for(project_id)
        for key in ("error_id", "event_id"):
            if args.get(key) is not None:
                check_id(args[key], key)
                self._hint_wrong_backend(backend, key, args[key])
        target = ProjectTarget(
            backend=backend, project_id=project_id, error_id=args.get("error_id"), event_id=args.get("event_id")
        )
        return target, args

    def _bugport_bare_ids(self, args: dict[str, Any]) -> None:
        """Ids as BugPort itself shows them (no `bugport:` prefix) name BugPort's objects where nothing else can
        claim them: always when BugPort is the only tracker, else when they have BugPort's own shape (`bug_…`)."""
        if self.backend_named("bugport") is None:
            return
        alone = self.backend_named("bugsnag") is None
        for key in ("project_id", "error_id"):
            value = args.get(key)
            if not isinstance(value, str) or value.startswith(("bugport:", "http://", "https://")) or not value:
                continue
            if alone or _BUGPORT_ID.match(value):
                args[key] = "bugport:" + value

    async def _locate(self, reference: str, args: dict[str, Any]) -> None:
        """Fill project_id (and the bare error id) from a reference that names its own backend."""
        for backend in self.backends:
            location = await backend.locate(reference)
            if location is None:
                continue
            given = args.get("project_id")
            if given is not None and given != location.project_id:
                raise InvalidArgument("project_id does not match the project that error_id refers to")
            args["project_id"], args["error_id"] = location.project_id, location.error_id
            return
        if reference.startswith(("http://", "https://")):
            raise InvalidArgument("dashboard URLs are BugSnag's, and no BugSnag account is configured")
        if reference.startswith("bugport:"):
            raise InvalidArgument("no BugPort workspace is configured: set BUGPORT_TOKEN")

    def _hint_wrong_backend(self, backend: Backend, key: str, value: str) -> None:
        if backend.name == "bugsnag" and _UUID.match(value):
            raise InvalidArgument(
                f"{key} {value!r} looks like a BugPort bug report id, not a BugSnag one: pass it as 'bugport:{value}'"
                + ("" if self.backend_named("bugport") else " (BugPort is not configured here)")
            )
        if backend.name == "bugport" and _OBJECT_ID.match(value):
            raise InvalidArgument(
                f"{key} {value!r} looks like a BugSnag error id, but the project is a BugPort one: pass the BugSnag "
                "project's id (see list_projects)"
            )

    async def aclose(self) -> None:
        for backend in self.backends:
            await backend.aclose()
