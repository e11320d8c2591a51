"""The `destructive` toolset: deletes. Each asks first (the user, or a preview and its confirmation code)."""

from __future__ import annotations

from typing import Annotated

from mcp.types import CallToolResult

from ..backends.capabilities import Deletes, Events, Organizations
from ..call.call import AccountCall, ProjectCall
from ..call.consent import Consent
from ..render import confirm as render
from ..render.outputs import DeletionOut
from .confirm import delete_after_consent
from .params import Confirm, ErrorId, EventId, OrganizationId, ProjectId
from .registry import tool
from .support import able


@tool(
    title="Delete error",
    scope="errors:delete",
    toolset="destructive",
    read_only=False,
    destructive=True,
    idempotent=True,
    needs=(Deletes,),
    ask=lambda args: f"Delete error {args['error_id']} and all its events permanently?",
)
async def delete_error(
    call: ProjectCall, error_id: ErrorId, consent: Consent, project_id: ProjectId = None, confirm: Confirm = None
) -> Annotated[CallToolResult, DeletionOut]:
    """Permanently delete an error and all its events. Asks the user first; a client that cannot ask gets a
    preview with a confirmation code to call again with. To stop new events instead, use update_error with
    discard."""
    backend = able(call.target, Deletes)

    async def preview() -> str:
        return render.error_preview(await call.target.backend.get_error(call.target.project_id, error_id))

    return await delete_after_consent(
        "error", error_id, consent, preview, lambda: backend.delete_error(call.target.project_id, error_id)
    )


@tool(
    title="Delete event",
    scope="errors:delete",
    toolset="destructive",
    read_only=False,
    destructive=True,
    idempotent=True,
    needs=(Deletes,),
    ask=lambda args: f"Delete event {args['event_id']} permanently?",
)
async def delete_event(
    call: ProjectCall, event_id: EventId, consent: Consent, project_id: ProjectId = None, confirm: Confirm = None
) -> Annotated[CallToolResult, DeletionOut]:
    """Permanently delete one event (for example one carrying personal data). Asks the user first; a client that
    cannot ask gets a preview with a confirmation code to call again with."""
    backend = able(call.target, Deletes)

    async def preview() -> str:
        return render.event_preview(await able(call.target, Events).get_event(call.target.project_id, event_id))

    return await delete_after_consent(
        "event", event_id, consent, preview, lambda: backend.delete_event(call.target.project_id, event_id)
    )


@tool(
    title="Delete organization",
    scope="projects:admin",
    toolset="destructive",
    read_only=False,
    destructive=True,
    idempotent=True,
    needs=(Organizations, Deletes),
    reach="account",
    ask=lambda args: f"Delete organization {args['organization_id']} with all its projects and data?",
)
async def delete_organization(
    call: AccountCall, organization_id: OrganizationId, consent: Consent, confirm: Confirm = None
) -> Annotated[CallToolResult, DeletionOut]:
    """Permanently delete an organization with every project, error and event in it. Asks the user first; a
    client that cannot ask gets a preview with a confirmation code to call again with."""
    backend = able(call.target, Organizations)

    async def preview() -> str:
        org = await backend.get_organization(organization_id)
        projects = await backend.list_org_projects(organization_id, limit=100)
        return render.organization_preview(org, list(projects.items), projects.total)

    return await delete_after_consent(
        "organization", organization_id, consent, preview, lambda: backend.delete_organization(organization_id)
    )
