"""The `destructive` toolset: deletes. Each asks first (elicitation or `confirm`) and previews what would go."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context, Elicit
from mcp.server.mcpserver.resolve import Resolve
from mcp.types import CallToolResult
from pydantic import BaseModel, Field

from ..render.events import error_line, event_summary_line
from ..render.text import inline
from ..runtime import runtime
from .confirm import Answer, Approval, Confirm, Verdict, decide, verdict_of
from .params import ErrorId, EventId, ProjectId
from .registry import tool
from .support import respond


class DeletionOut(BaseModel):
    target: str
    kind: str
    deleted: bool
    reason: str


async def ask_delete_error(ctx: Context, error_id: str, confirm: str | None = None) -> Verdict | Elicit[Approval]:
    return decide(error_id, confirm, ctx, f"Delete error {error_id} and all its events permanently?")


async def ask_delete_event(ctx: Context, event_id: str, confirm: str | None = None) -> Verdict | Elicit[Approval]:
    return decide(event_id, confirm, ctx, f"Delete event {event_id} permanently?")


async def ask_delete_organization(
    ctx: Context, organization_id: str, confirm: str | None = None
) -> Verdict | Elicit[Approval]:
    return decide(
        organization_id, confirm, ctx, f"Delete organization {organization_id} with all its projects and data?"
    )


def deleted(kind: str, target: str, how: str) -> CallToolResult:
    return respond(f"Deleted {kind} {target} ({how}).", DeletionOut(target=target, kind=kind, deleted=True, reason=how))


def not_yet(kind: str, target: str, preview: str, how: str) -> CallToolResult:
    if how == "declined":
        text = f"Not deleted: the user declined deleting {kind} {target}."
    else:
        text = (
            f"Not deleted yet. This would permanently delete {kind} {target}:\n\n{preview}\n\n"
            f"To proceed, call again with confirm={target!r}."
        )
    return respond(text, DeletionOut(target=target, kind=kind, deleted=False, reason=how))


@tool(
    title="Delete error",
    scope="errors:delete",
    toolset="destructive",
    read_only=False,
    destructive=True,
    idempotent=True,
    needs=("delete",),
)
async def delete_error(
    ctx: Context,
    error_id: ErrorId,
    approval: Annotated[Answer, Resolve(ask_delete_error)],
    project_id: ProjectId = None,
    confirm: Confirm = None,
) -> Annotated[CallToolResult, DeletionOut]:
    """Permanently delete an error and all its events. Asks first; without a prompt-capable client, call once to
    preview and again with confirm=<error_id>. To stop new events instead, use update_error with discard."""
    assert project_id is not None
    backend = runtime(ctx).backend()
    error = await backend.get_error(project_id, error_id)
    verdict = verdict_of(approval)
    if not verdict.approved:
        return not_yet(
            "error", error_id, f'<untrusted-data source="error">\n{error_line(error)}\n</untrusted-data>', verdict.how
        )
    await backend.delete_error(project_id, error_id)
    return deleted("error", error_id, verdict.how)


@tool(
    title="Delete event",
    scope="errors:delete",
    toolset="destructive",
    read_only=False,
    destructive=True,
    idempotent=True,
    needs=("delete",),
)
async def delete_event(
    ctx: Context,
    event_id: EventId,
    approval: Annotated[Answer, Resolve(ask_delete_event)],
    project_id: ProjectId = None,
    confirm: Confirm = None,
) -> Annotated[CallToolResult, DeletionOut]:
    """Permanently delete one event (for example one carrying personal data). Asks first; without a
    prompt-capable client, call once to preview and again with confirm=<event_id>."""
    assert project_id is not None
    backend = runtime(ctx).backend()
    event = await backend.get_event(project_id, event_id)
    verdict = verdict_of(approval)
    if not verdict.approved:
        preview = f'<untrusted-data source="event">\n{event_summary_line(event)}\n</untrusted-data>'
        return not_yet("event", event_id, preview, verdict.how)
    await backend.delete_event(project_id, event_id)
    return deleted("event", event_id, verdict.how)


@tool(
    title="Delete organization",
    scope="projects:admin",
    toolset="destructive",
    read_only=False,
    destructive=True,
    idempotent=True,
    needs=("organizations",),
    project_scoped=False,
)
async def delete_organization(
    ctx: Context,
    organization_id: Annotated[
        str, Field(description="Organization id from list_organizations.", min_length=1, max_length=200)
    ],
    approval: Annotated[Answer, Resolve(ask_delete_organization)],
    confirm: Confirm = None,
) -> Annotated[CallToolResult, DeletionOut]:
    """Permanently delete an organization with every project, error and event in it. Asks first; without a
    prompt-capable client, call once to preview and again with confirm=<organization_id>."""
    backend = runtime(ctx).backend()
    org = await backend.get_organization(organization_id)
    verdict = verdict_of(approval)
    if not verdict.approved:
        projects = await backend.list_org_projects(organization_id, limit=100)
        names = ", ".join(inline(p.name, 40) for p in projects.items)
        preview = (
            f"Organization {inline(org.name, 60)} ({organization_id}) with "
            f"{projects.total if projects.total is not None else len(projects.items)} projects: {names}"
        )
        return not_yet("organization", organization_id, preview, verdict.how)
    await backend.delete_organization(organization_id)
    return deleted("organization", organization_id, verdict.how)
