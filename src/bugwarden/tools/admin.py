"""The `admin` toolset: organizations, projects, collaborators, release group visibility, bulk error updates."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.types import CallToolResult
from pydantic import Field

from ..backends.capabilities import BulkChanges, Collaborators, Organizations, Releases
from ..backends.errors import InvalidArgument
from ..backends.paths import check_id
from ..call.call import AccountCall, ProjectCall, ProjectOrAccountCall
from ..call.consent import Consent
from ..call.target import AccountTarget, Target
from ..render import errors as render_errors
from ..render import insights as render_insights
from ..render import projects as render
from ..render.outputs import (
    BulkChangeOut,
    CollaboratorList,
    CreatedOut,
    OrganizationList,
    ReleaseGroupList,
    SettingsChangeOut,
)
from .confirm import change_settings, fields_given
from .errors import bugsnag_change
from .operations import BulkOperation, chosen
from .params import (
    CollaboratorId,
    Confirm,
    Cursor,
    Limit,
    OrganizationId,
    ProjectId,
    Severity,
    TeamId,
    with_snooze_rule,
)
from .registry import tool
from .support import able, respond

ProjectType = Annotated[
    str,
    Field(
        description="BugSnag project type, e.g. js, python, django, rails, android, ios, node, java, other.",
        pattern=r"^[a-z_]{2,30}$",
    ),
]
Names = Annotated[list[Annotated[str, Field(max_length=200)]] | None, Field(max_length=100)]


@tool(
    title="List organizations",
    scope="projects:read",
    toolset="admin",
    read_only=True,
    idempotent=True,
    needs=(Organizations,),
    reach="account",
)
async def list_organizations(
    call: AccountCall,
    organization_id: Annotated[str | None, Field(description="Show this one organization.", max_length=200)] = None,
) -> Annotated[CallToolResult, OrganizationList]:
    """The organizations the configured BugSnag user belongs to, or one of them by id."""
    backend = able(call.target, Organizations)
    if call.target.organization_id:
        return respond(render.organization_list([await backend.get_organization(call.target.organization_id)]))
    return respond(render.organization_list((await backend.list_organizations(limit=100)).items))


def some_setting(names: tuple[str, ...]) -> Any:
    def rules(args: dict[str, Any], target: Target) -> None:
        if not fields_given(**{n: args.get(n) for n in names}):
            raise InvalidArgument(f"nothing to change: pass at least one of {', '.join(names)}")

    return rules


ORGANIZATION_SETTINGS = ("name", "auto_upgrade", "billing_emails")
PROJECT_SETTINGS = ("name", "resolve_on_deploy", "ignore_old_browsers", "discarded_app_versions", "discarded_errors")


@tool(
    title="Update organization",
    scope="projects:admin",
    toolset="admin",
    read_only=False,
    destructive=True,
    idempotent=True,
    needs=(Organizations,),
    reach="account",
    rules=some_setting(ORGANIZATION_SETTINGS),
    ask=lambda args: f"Change the settings of organization {args['organization_id']}?",
)
async def update_organization(
    call: AccountCall,
    organization_id: OrganizationId,
    consent: Consent,
    name: Annotated[str | None, Field(min_length=1, max_length=100, description="New name.")] = None,
    auto_upgrade: Annotated[bool | None, Field(description="Upgrade the plan automatically.")] = None,
    billing_emails: Annotated[Names, Field(description="Replaces the billing email list.", max_length=20)] = None,
    confirm: Confirm = None,
) -> Annotated[CallToolResult, SettingsChangeOut]:
    """Rename an organization or change its billing settings (billing_emails replaces the list). Asks first."""
    backend = able(call.target, Organizations)
    fields = fields_given(name=name, auto_upgrade=auto_upgrade, billing_emails=billing_emails)

    async def current_name() -> str:
        return (await backend.get_organization(organization_id)).name

    return await change_settings(
        "organization",
        organization_id,
        consent,
        fields,
        current_name,
        lambda: backend.update_organization(organization_id, fields),
    )


@tool(
    title="Create project",
    scope="projects:admin",
    toolset="admin",
    read_only=False,
    idempotent=False,
    needs=(Organizations,),
    reach="account",
)
async def create_project(
    call: AccountCall,
    organization_id: OrganizationId,
    name: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[^$]", description="Project name.")],
    type: ProjectType,
) -> Annotated[CallToolResult, CreatedOut]:
    """Create a project in an organization; answers with its id (its API key stays in the dashboard)."""
    return respond(
        render.project_created(await able(call.target, Organizations).create_project(organization_id, name, type))
    )


@tool(
    title="Update project",
    scope="projects:admin",
    toolset="admin",
    read_only=False,
    destructive=True,
    idempotent=True,
    needs=(Organizations,),
    rules=some_setting(PROJECT_SETTINGS),
    ask=lambda args: f"Change the settings of project {args['project_id']}?",
)
async def update_project(
    call: ProjectCall,
    consent: Consent,
    project_id: ProjectId = None,
    name: Annotated[str | None, Field(min_length=1, max_length=100, description="New project name.")] = None,
    resolve_on_deploy: Annotated[bool | None, Field(description="Mark errors fixed on each deploy.")] = None,
    ignore_old_browsers: Annotated[bool | None, Field(description="Drop events from old browsers.")] = None,
    discarded_app_versions: Annotated[
        Names, Field(description="Replaces the list of app versions whose events are dropped.")
    ] = None,
    discarded_errors: Annotated[
        Names, Field(description="Replaces the list of error classes whose events are dropped.")
    ] = None,
    confirm: Confirm = None,
) -> Annotated[CallToolResult, SettingsChangeOut]:
    """Change project settings. List settings are replaced, not merged. Asks first; answers with what changed."""
    backend = able(call.target, Organizations)
    fields = fields_given(
        name=name,
        resolve_on_deploy=resolve_on_deploy,
        ignore_old_browsers=ignore_old_browsers,
        discarded_app_versions=discarded_app_versions,
        discarded_errors=discarded_errors,
    )

    async def current_name() -> str:
        return (await call.target.backend.get_project(call.target.project_id)).name

    return await change_settings(
        "project",
        call.target.project_id,
        consent,
        fields,
        current_name,
        lambda: backend.update_project(call.target.project_id, fields),
    )


def collaborator_rules(args: dict[str, Any], target: Target) -> None:
    if (args.get("organization_id") is None) == (args.get("project_id") is None):
        raise InvalidArgument("pass exactly one of organization_id or project_id")
    if args.get("collaborator_id") and not args.get("organization_id"):
        raise InvalidArgument("collaborator_id goes with organization_id")
    if args.get("q") and not args.get("organization_id"):
        raise InvalidArgument("q searches an organization's collaborators: pass organization_id")


@tool(
    title="List collaborators",
    scope="collaborators:read",
    toolset="admin",
    read_only=True,
    idempotent=True,
    needs=(Collaborators,),
    reach="account",
    rules=collaborator_rules,
)
async def list_collaborators(
    call: ProjectOrAccountCall,
    organization_id: Annotated[
        str | None,
        Field(
            description="List an organization's collaborators (needs an organization admin upstream).", max_length=200
        ),
    ] = None,
    project_id: Annotated[str | None, Field(description="Or list one project's collaborators.", max_length=200)] = None,
    collaborator_id: Annotated[
        str | None, Field(description="With organization_id: show one collaborator.", max_length=200)
    ] = None,
    q: Annotated[str | None, Field(description="Name or email search (organization lists).", max_length=100)] = None,
    limit: Limit = 30,
    cursor: Cursor = None,
) -> Annotated[CallToolResult, CollaboratorList]:
    """People with access, with names and emails: an organization's, one project's, or one collaborator."""
    backend = able(call.target, Collaborators)
    if isinstance(call.target, AccountTarget):
        assert call.target.organization_id is not None  # collaborator_rules: organization_id or project_id
        if collaborator_id:
            person = await backend.get_org_collaborator(
                call.target.organization_id, check_id(collaborator_id, "collaborator_id")
            )
            return respond(render_insights.collaborators((person,), None, None))
        page = await backend.list_org_collaborators(
            call.target.organization_id, q=q, limit=limit, page=call.target.page
        )
    else:
        page = await backend.list_project_collaborators(call.target.project_id, limit=limit, page=call.target.page)
    return respond(render_insights.collaborators(page.items, page.total, call.target.cursor(page.next)))


@tool(
    title="Update release group",
    scope="projects:admin",
    toolset="admin",
    read_only=False,
    idempotent=True,
    needs=(Releases,),
    reach="account",
)
async def update_release_group(
    call: AccountCall,
    release_group_id: Annotated[
        str, Field(description="Release group id from list_release_groups.", min_length=1, max_length=200)
    ],
    visible: Annotated[bool, Field(description="Show (true) or hide (false) this version in the dashboard.")],
) -> Annotated[CallToolResult, ReleaseGroupList]:
    """Show or hide a version (release group) in the dashboard's release lists."""
    group = await able(call.target, Releases).update_release_group(release_group_id, visible)
    return respond(render_insights.release_group_changed(group))


def bulk_rules(args: dict[str, Any], target: Target) -> None:
    for error_id in args["error_ids"]:
        check_id(error_id, "error_ids")
    bugsnag_change(target, args["operation"], args)


def ask_before_bulk_loss(args: dict[str, Any]) -> str | None:
    n = len(args.get("error_ids") or [])
    if args.get("operation") == "delete":
        return f"Delete {n} error(s) and all their events permanently?"
    if args.get("operation") == "discard":
        return f"Discard {n} error(s)? Their future events will be dropped."
    return None


@tool(
    title="Bulk update errors",
    scope="errors:write",
    toolset="admin",
    read_only=False,
    destructive=True,
    idempotent=True,
    needs=(BulkChanges,),
    rules=bulk_rules,
    ask=ask_before_bulk_loss,
)
@with_snooze_rule
async def bulk_update_errors(
    call: ProjectCall,
    error_ids: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=200)]],
        Field(min_length=1, max_length=100, description="Error ids from list_errors."),
    ],
    operation: Annotated[BulkOperation, Field(description="The change to apply to every listed error.")],
    consent: Consent,
    project_id: ProjectId = None,
    severity: Annotated[Severity | None, Field(description="For override_severity: info, warning or error.")] = None,
    assigned_collaborator_id: CollaboratorId = None,
    assigned_team_id: TeamId = None,
    confirm: Confirm = None,
    **rule: Any,
) -> Annotated[CallToolResult, BulkChangeOut]:
    """Apply one change to up to 100 errors at once: open, fix, ignore, snooze, override severity, assign (to a
    collaborator or a team), unlink issues, discard or undiscard, delete. Discard (errors:delete scope) and delete
    (errors:delete) ask first."""
    args = chosen(call.arguments)
    if not consent.given:
        return respond(
            render_errors.bulk_pending(
                call.target.project_id,
                operation,
                error_ids,
                consent.how,
                consent.code,
                consent.approval,
                consent.approve_at,
            )
        )
    change = bugsnag_change(call.target, operation, args)
    statuses = await able(call.target, BulkChanges).bulk_update_errors(call.target.project_id, error_ids, change)
    return respond(render_errors.bulk_change(call.target.project_id, operation, statuses))
