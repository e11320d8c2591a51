"""runtime.py on its own: routing a project id to its backend, the default project, and resolving a call's one
target (listing, account, project; dashboard URLs and bare BugPort ids), with fake backends and no HTTP."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from bugwarden.backends.base import Location
from bugwarden.backends.capabilities import Organizations
from bugwarden.backends.errors import InvalidArgument, UpstreamServerError
from bugwarden.call.target import AccountTarget, Listing, ProjectTarget
from bugwarden.config import Settings
from bugwarden.guard.principal import Principal
from bugwarden.model import Project
from bugwarden.runtime import Runtime

pytestmark = pytest.mark.anyio
SNAG_PROJECT = "a" * 24
SNAG_ERROR = "b" * 24
UUID = "123e4567-e89b-12d3-a456-426614174000"


@dataclass
class Capabilities:
    names: frozenset[str] = frozenset({"organizations"})

    def has(self, name: str) -> bool:
        return name in self.names


@dataclass
class FakeBackend:
    """What Runtime asks of a backend, answered from memory."""

    name: str
    label: str
    projects: list[Project] = field(default_factory=list)
    locations: dict[str, Location] = field(default_factory=dict)
    fail: bool = False
    capabilities: Capabilities = field(default_factory=Capabilities)
    discovered: int = 0
    closed: bool = False

    def owns_project(self, project_id: str) -> bool:
        return project_id.startswith("bugport:") == (self.name == "bugport")

    async def list_projects(self) -> list[Project]:
        if self.fail:
            raise UpstreamServerError("the upstream failed")
        return self.projects

    async def locate(self, reference: str) -> Location | None:
        """BugPort finds any `bugport:` bug in its (first) project, as the real adapter asks upstream."""
        if self.name == "bugport" and reference.startswith("bugport:"):
            return Location(self.projects[0].id if self.projects else "bugport:prj_1", reference)
        return self.locations.get(reference)

    async def discover(self) -> None:
        self.discovered += 1
        if self.fail:
            raise UpstreamServerError("the upstream failed")

    async def aclose(self) -> None:
        self.closed = True

    def permits(self, capability: type[Any]) -> bool:
        return capability is not Organizations or "organizations" in self.capabilities.names

    # What makes it an `Organizations` backend (the account tools); the tests resolve targets, never call these.
    async def list_organizations(self, *, page: str | None = None, limit: int = 30) -> Any: ...
    async def get_organization(self, organization_id: str) -> Any: ...
    async def update_organization(self, organization_id: str, fields: dict[str, Any]) -> Any: ...
    async def delete_organization(self, organization_id: str) -> None: ...
    async def list_org_projects(self, organization_id: str, **kw: Any) -> Any: ...
    async def create_project(self, organization_id: str, name: str, type: str) -> Any: ...
    async def update_project(self, project_id: str, fields: dict[str, Any]) -> Any: ...


@dataclass(frozen=True)
class Spec:
    name: str = "get_error"
    scope: str = "errors:read"
    toolset: str = "core"
    read_only: bool = True
    reach: str = "project"
    needs: tuple[type[Any], ...] = ()


def snag(*projects: str, **kw: Any) -> FakeBackend:
    return FakeBackend("bugsnag", "BugSnag", [Project(id=p, name=f"P {p[:4]}") for p in projects], **kw)


def port(*projects: str, **kw: Any) -> FakeBackend:
    return FakeBackend("bugport", "BugPort", [Project(id=p, name=p) for p in projects], **kw)


def runtime(*backends: FakeBackend, **settings: Any) -> Runtime:
    return Runtime(Settings.from_env({}, home="/tmp/unused", **settings), list(backends))  # type: ignore[arg-type]


def person(*projects: str, scopes: tuple[str, ...] = ("errors:read", "projects:read")) -> Principal:
    return Principal(id="tok_1", name="agent", scopes=frozenset(scopes), projects=frozenset(projects))


def test_a_project_id_routes_to_the_backend_that_owns_its_shape() -> None:
    bugsnag, bugport = snag(), port()
    both = runtime(bugsnag, bugport)
    assert both.backend_for(SNAG_PROJECT) is bugsnag and both.backend_for("bugport:prj_1") is bugport
    with pytest.raises(InvalidArgument, match="no BugPort workspace is configured: set BUGPORT_TOKEN"):
        runtime(snag()).backend_for("bugport:prj_1")
    with pytest.raises(InvalidArgument, match="is not a BugPort id"):
        runtime(port()).backend_for(SNAG_PROJECT)
    with pytest.raises(InvalidArgument, match="no tracker is configured"):
        runtime().backend_for(SNAG_PROJECT)


async def test_projects_of_every_backend_and_which_could_not_list() -> None:
    listed, failed = await runtime(snag(SNAG_PROJECT), port(fail=True)).all_projects()
    assert [p.id for p in listed] == [SNAG_PROJECT] and failed == ["BugPort"]
    with pytest.raises(UpstreamServerError):  # alone, its failure is the answer
        await runtime(snag(fail=True)).all_projects()


async def test_discovery_failing_leaves_the_backend_in_place() -> None:
    failing = port(fail=True)
    rt = runtime(snag(), failing)
    await rt.discover()
    assert failing.discovered == 1 and rt.backends[1] is failing
    await rt.aclose()
    assert all(b.closed for b in rt.backends)  # type: ignore[attr-defined]


async def test_the_default_project() -> None:
    many = [f"{i:024x}" for i in range(7)]
    rt = runtime(snag(*many), bugsnag_token="t", bugsnag_project_id=many[3])
    assert await rt.default_project(person()) == many[3]  # BUGSNAG_PROJECT_ID, within the caller's limits
    assert await rt.default_project(person(many[5])) == many[5]  # the one project the token is limited to
    assert await runtime(snag(SNAG_PROJECT)).default_project(person()) == SNAG_PROJECT  # the only visible one
    with pytest.raises(InvalidArgument) as many_visible:
        await runtime(snag(*many)).default_project(person())
    assert str(many_visible.value) == (
        f"project_id is required: 7 projects are visible to this agent ({', '.join(many[:5])}, …); pass one from "
        "list_projects, or set BUGSNAG_PROJECT_ID for a default"
    )
    with pytest.raises(InvalidArgument) as blind:  # a caller who may not list projects learns no ids
        await runtime(snag(*many)).default_project(person(scopes=("errors:read",)))
    assert str(blind.value) == "project_id is required, or set BUGSNAG_PROJECT_ID for a default"


async def test_a_listing_sees_every_backend_and_the_default_it_may_see() -> None:
    rt = runtime(snag(), port(), bugsnag_token="t", bugsnag_project_id=SNAG_PROJECT)
    target, args = await rt.resolve(Spec(reach="listing"), {"limit": 5}, person())
    assert isinstance(target, Listing) and target.default_project_id == SNAG_PROJECT and args == {"limit": 5}
    limited, _ = await rt.resolve(Spec(reach="listing"), {}, person("c" * 24))
    assert isinstance(limited, Listing) and limited.default_project_id is None


async def test_an_account_tool_goes_to_the_backend_that_can_serve_it() -> None:
    bugsnag = snag()
    rt = runtime(port(capabilities=Capabilities(frozenset())), bugsnag)
    target, _ = await rt.resolve(Spec(reach="account", needs=(Organizations,)), {"organization_id": "o1"}, person())
    assert isinstance(target, AccountTarget) and target.backend is bugsnag and target.organization_id == "o1"
    with pytest.raises(InvalidArgument, match="list_organizations is not available for the configured trackers"):
        await runtime(port(capabilities=Capabilities(frozenset()))).resolve(
            Spec(name="list_organizations", reach="account", needs=(Organizations,)), {}, person()
        )


async def test_a_dashboard_url_names_its_project() -> None:
    url = f"https://app.bugsnag.com/acme/api/errors/{SNAG_ERROR}"
    rt = runtime(snag(locations={url: Location(SNAG_PROJECT, SNAG_ERROR)}))
    target, args = await rt.resolve(Spec(), {"error_id": url}, person())
    assert isinstance(target, ProjectTarget)
    assert (target.project_id, target.error_id) == (SNAG_PROJECT, SNAG_ERROR) == (args["project_id"], args["error_id"])
    with pytest.raises(InvalidArgument, match="project_id does not match the project that error_id refers to"):
        await rt.resolve(Spec(), {"error_id": url, "project_id": "c" * 24}, person())
    with pytest.raises(InvalidArgument, match="dashboard URLs are BugSnag's"):
        await runtime(port()).resolve(Spec(), {"error_id": url}, person())


async def test_bare_bugport_ids() -> None:
    alone = runtime(port("bugport:prj_1"))
    target, args = await alone.resolve(Spec(), {"project_id": "prj_1", "error_id": "anything"}, person())
    assert isinstance(target, ProjectTarget) and (args["project_id"], args["error_id"]) == (
        "bugport:prj_1",
        "bugport:anything",
    )
    both = runtime(snag(), port())
    _, args = await both.resolve(Spec(), {"project_id": "bugport:prj_1", "error_id": "bug_1234"}, person())
    assert args["error_id"] == "bugport:bug_1234"  # BugPort's own shape, even beside BugSnag
    _, args = await both.resolve(Spec(), {"project_id": SNAG_PROJECT, "error_id": SNAG_ERROR}, person())
    assert args["error_id"] == SNAG_ERROR  # a BugSnag id stays BugSnag's


async def test_ids_of_the_other_tracker_get_a_hint_and_unsafe_ids_are_refused() -> None:
    with pytest.raises(InvalidArgument, match=f"looks like a BugPort bug report id.*'bugport:{UUID}'"):
        await runtime(snag(), port()).resolve(Spec(), {"project_id": SNAG_PROJECT, "error_id": UUID}, person())
    with pytest.raises(InvalidArgument, match="looks like a BugSnag error id"):
        await runtime(snag(), port()).resolve(Spec(), {"project_id": "bugport:prj_1", "error_id": SNAG_ERROR}, person())
    with pytest.raises(InvalidArgument, match="error_id is not a valid identifier"):
        await runtime(snag()).resolve(Spec(), {"project_id": SNAG_PROJECT, "error_id": "../admin"}, person())
