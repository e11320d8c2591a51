"""The `admin` toolset: organizations, projects, collaborators, release group visibility, bulk error updates."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context, Elicit
from mcp.server.mcpserver.resolve import Resolve
from mcp.types import CallToolResult
from pydantic import Field

from ..backends.errors import InvalidArgument
from ..render import insights as r
from ..render.text import inline
from ..runtime import runtime
from .confirm import Answer, Approval, Confirm, Verdict, decide, verdict_of
from .errors import AdditionalOccurrences, AdditionalUsers, Hours, Occurrences, ReopenIf, Seconds, build_change
from .outputs import Items, Record
from .params import Cursor, Limit, ProjectId, Severity
from .registry import tool
from .support import as_items, as_record, respond

OrgId = Annotated[str, Field(description="Organization id from list_organizations.", min_length=1, max_length=200)]
ProjectType = Annotated[
    str,
    Field(
        description="BugSnag project type, e.g. js, python, django, rails, android, ios, node, java, other.",
        pattern=r"^[a-z_]{2,30}$",
    ),
]


def not_applied(verdict: Verdict, what: str, target_id: str, fields: dict[str, Any]) -> str:
    """The answer of a settings change that was declined, or is waiting for `confirm`: what would change."""
    if verdict.how == "declined":
        return "Not changed: the user declined."
    changes = ", ".join(f"{k}={inline(v, 80)}" for k, v in fields.items())
    return (
        f"Not changed yet. {what} ({target_id}) would get: {changes}. Call again with confirm={target_id!r} to apply."
    )


@tool(
    title="List organizations",
    scope="projects:read",
    toolset="admin",
    read_only=True,
    idempotent=True,
    needs=("organizations",),
    project_scoped=False,
)
async def list_organizations(
    ctx: Context,
    organization_id: Annotated[str | None, Field(description="Show this one organization.", max_length=200)] = None,
) -> Annotated[CallToolResult, Items]:
    """The organizations the configured BugSnag user belongs to, or one of them by id."""
    backend = runtime(ctx).backend()
    if organization_id:
        orgs: tuple[Any, ...] = (await backend.get_organization(organization_id),)
    else:
        orgs = (await backend.list_organizations(limit=100)).items
    return respond(r.organizations_text(orgs), as_items(orgs))


async def ask_update_organization(
    ctx: Context, organization_id: str, confirm: str | None = None
) -> Verdict | Elicit[Approval]:
    return decide(organization_id, confirm, ctx, f"Change the settings of organization {organization_id}?")


@tool(
    title="Update organization",
    scope="projects:admin",
    toolset="admin",
    read_only=False,
    destructive=True,
    idempotent=True,
    needs=("organizations",),
    project_scoped=False,
)
async def update_organization(
    ctx: Context,
    organization_id: OrgId,
    approval: Annotated[Answer, Resolve(ask_update_organization)],
    name: Annotated[str | None, Field(min_length=1, max_length=100, description="New name.")] = None,
    auto_upgrade: Annotated[bool | None, Field(description="Upgrade the plan automatically.")] = None,
    billing_emails: Annotated[
        list[Annotated[str, Field(max_length=200)]] | None,
        Field(description="Replaces the billing email list.", max_length=20),
    ] = None,
    confirm: Confirm = None,
) -> Annotated[CallToolResult, Record]:
    """Rename an organization or change its billing settings (billing_emails replaces the list). Asks first."""
    fields = {
        k: v
        for k, v in {"name": name, "auto_upgrade": auto_upgrade, "billing_emails": billing_emails}.items()
        if v is not None
    }
    if not fields:
        raise InvalidArgument("nothing to change: pass name, auto_upgrade or billing_emails")
    backend = runtime(ctx).backend()
    before = await backend.get_organization(organization_id)
    verdict = verdict_of(approval)
    if not verdict.approved:
        return respond(
            not_applied(verdict, f"Organization {inline(before.name, 60)}", organization_id, fields), as_record(before)
        )
    after = await backend.update_organization(organization_id, fields)
    return respond(f"Updated organization {organization_id}: " + ", ".join(fields), as_record(after))


@tool(title="Get project", scope="projects:read", toolset="admin", read_only=True, idempotent=True)
async def get_project(ctx: Context, project_id: ProjectId = None) -> Annotated[CallToolResult, Record]:
    """One project's settings summary: type, language, release stages, open errors, dashboard link."""
    assert project_id is not None
    project = await runtime(ctx).backend().get_project(project_id)
    return respond(r.project_text(project), as_record(project))


@tool(
    title="Create project",
    scope="projects:admin",
    toolset="admin",
    read_only=False,
    idempotent=False,
    needs=("organizations",),
    project_scoped=False,
)
async def create_project(
    ctx: Context,
    organization_id: OrgId,
    name: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[^$]", description="Project name.")],
    type: ProjectType,
) -> Annotated[CallToolResult, Record]:
    """Create a project in an organization; answers with its id (its API key stays in the dashboard)."""
    project = await runtime(ctx).backend().create_project(organization_id, name, type)
    return respond(f"Created project {project.id}.\n\n" + r.project_text(project), as_record(project))


async def ask_update_project(ctx: Context, project_id: str, confirm: str | None = None) -> Verdict | Elicit[Approval]:
    return decide(project_id, confirm, ctx, f"Change the settings of project {project_id}?")


@tool(
    title="Update project", scope="projects:admin", toolset="admin", read_only=False, destructive=True, idempotent=True
)
async def update_project(
    ctx: Context,
    approval: Annotated[Answer, Resolve(ask_update_project)],
    project_id: ProjectId = None,
    name: Annotated[str | None, Field(min_length=1, max_length=100, description="New project name.")] = None,
    resolve_on_deploy: Annotated[bool | None, Field(description="Mark errors fixed on each deploy.")] = None,
    ignore_old_browsers: Annotated[bool | None, Field(description="Drop events from old browsers.")] = None,
    discarded_app_versions: Annotated[
        list[Annotated[str, Field(max_length=100)]] | None,
        Field(description="Replaces the list of app versions whose events are dropped.", max_length=100),
    ] = None,
    discarded_errors: Annotated[
        list[Annotated[str, Field(max_length=200)]] | None,
        Field(description="Replaces the list of error classes whose events are dropped.", max_length=100),
    ] = None,
    confirm: Confirm = None,
) -> Annotated[CallToolResult, Record]:
    """Change project settings. List settings are replaced, not merged. Asks first; answers with what changed."""
    assert project_id is not None
    fields = {
        k: v
        for k, v in {
            "name": name,
            "resolve_on_deploy": resolve_on_deploy,
            "ignore_old_browsers": ignore_old_browsers,
            "discarded_app_versions": discarded_app_versions,
            "discarded_errors": discarded_errors,
        }.items()
        if v is not None
    }
    if not fields:
        raise InvalidArgument("nothing to change: pass at least one setting")
    backend = runtime(ctx).backend()
    before = await backend.get_project(project_id)
    verdict = verdict_of(approval)
    if not verdict.approved:
        return respond(
            not_applied(verdict, f"Project {inline(before.name, 60)}", project_id, fields), as_record(before)
        )
    after = await backend.update_project(project_id, fields)
    return respond(f"Updated project {project_id}: {', '.join(fields)}.\n\n" + r.project_text(after), as_record(after))


@tool(
    title="List collaborators",
    scope="collaborators:read",
    toolset="admin",
    read_only=True,
    idempotent=True,
    needs=("collaborators",),
    project_scoped=False,
)
async def list_collaborators(
    ctx: Context,
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
) -> Annotated[CallToolResult, Items]:
    """People with access, with names and emails: an organization's, one project's, or one collaborator."""
    backend = runtime(ctx).backend()
    if (organization_id is None) == (project_id is None):
        raise InvalidArgument("pass exactly one of organization_id or project_id")
    if organization_id and collaborator_id:
        person = await backend.get_org_collaborator(organization_id, collaborator_id)
        return respond(r.collaborators_text((person,), None, None), as_items([person]))
    if organization_id:
        page = await backend.list_org_collaborators(organization_id, q=q, limit=limit, cursor=cursor)
    else:
        assert project_id is not None
        page = await backend.list_project_collaborators(project_id, limit=limit, cursor=cursor)
    return respond(
        r.collaborators_text(page.items, page.total, page.next_cursor),
        as_items(page.items, page.total, page.next_cursor),
    )


@tool(
    title="Update release group",
    scope="projects:admin",
    toolset="admin",
    read_only=False,
    idempotent=True,
    needs=("releases",),
    project_scoped=False,
)
async def update_release_group(
    ctx: Context,
    release_group_id: Annotated[
        str, Field(description="Release group id from list_release_groups.", min_length=1, max_length=200)
    ],
    visible: Annotated[bool, Field(description="Show (true) or hide (false) this version in the dashboard.")],
) -> Annotated[CallToolResult, Record]:
    """Show or hide a version (release group) in the dashboard's release lists."""
    group = await runtime(ctx).backend().update_release_group(release_group_id, visible)
    return respond(
        f"Release group {release_group_id} ({inline(group.app_version or '?', 30)}) is now "
        f"{'visible' if group.visible else 'hidden'}.",
        as_record(group),
    )


BulkOperation = Literal["open", "fix", "ignore", "snooze", "override_severity", "assign"]


@tool(title="Bulk update errors", scope="errors:write", toolset="admin", read_only=False, idempotent=True)
async def bulk_update_errors(
    ctx: Context,
    error_ids: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=200)]],
        Field(min_length=1, max_length=100, description="Error ids from list_errors."),
    ],
    operation: Annotated[BulkOperation, Field(description="The change to apply to every listed error.")],
    project_id: ProjectId = None,
    severity: Annotated[Severity | None, Field(description="For override_severity.")] = None,
    assigned_collaborator_id: Annotated[str | None, Field(max_length=100, description="For assign.")] = None,
    reopen_if: Annotated[ReopenIf | None, Field(description="For snooze.")] = None,
    seconds: Seconds = None,
    occurrences: Occurrences = None,
    hours: Hours = None,
    additional_occurrences: AdditionalOccurrences = None,
    additional_users: AdditionalUsers = None,
) -> Annotated[CallToolResult, Items]:
    """Apply one status change (open, fix, ignore, snooze, override severity, assign) to up to 100 errors at once."""
    assert project_id is not None
    change = build_change(
        operation,
        severity=severity,
        assigned_collaborator_id=assigned_collaborator_id,
        issue_url=None,
        issue_title=None,
        reopen_if=reopen_if,
        seconds=seconds,
        occurrences=occurrences,
        hours=hours,
        additional_occurrences=additional_occurrences,
        additional_users=additional_users,
    )
    result = await runtime(ctx).backend().bulk_update_errors(project_id, error_ids, change)
    rows = [{"error_id": k, **v} for k, v in result.items() if isinstance(v, dict)]
    lines = [f"{operation} applied to {len(rows)} errors in project {project_id}:"]
    lines += [f"- {row['error_id']}: status {row.get('status')}" for row in rows]
    return respond("\n".join(lines), Items(items=rows, total=len(rows)))
