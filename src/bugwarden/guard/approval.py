"""The consent a destructive tool receives: asked of the user where the client can ask, else a preview first.

A tool declares `consent: Consented` and branches on `consent.given`. Whether a question is needed
comes from the tool's registration (`question`); how it was answered is recorded in the audit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from mcp.server.mcpserver import AcceptedElicitation, Context, Elicit, ElicitationResult
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.resolve import Resolve
from pydantic import BaseModel, Field

from ..store.waits import in_store_thread
from .checkpoint import invocation
from .errors import Refusal


class Approval(BaseModel):
    """The form a user answers in their client."""

    approve: bool = Field(description="Yes, go ahead")


@dataclass(frozen=True, slots=True)
class Consent:
    """`given`, or not: `how` is 'not needed', 'user approved', 'confirmation code', 'preview' or 'declined';
    a preview carries the `code` that confirms exactly this call."""

    given: bool
    how: str
    code: str | None = None


def can_elicit(ctx: Any) -> bool:
    """Whether the client declared form elicitation (so its user can be asked)."""
    try:
        capabilities = ctx.client_capabilities
    except (AttributeError, LookupError):
        return False
    elicitation = capabilities.elicitation if capabilities is not None else None
    return elicitation is not None and (elicitation.form is not None or elicitation.url is None)


async def ask(ctx: Context) -> Consent | Elicit[Approval]:
    """The user decides when they can be asked; `confirm` counts only for clients that cannot ask."""
    call = invocation()
    if call.question is None:
        return Consent(True, "not needed")
    if can_elicit(ctx):
        return Elicit(call.question, Approval)
    confirm = call.arguments.get("confirm")
    try:
        if isinstance(confirm, str) and confirm:
            await in_store_thread(call.consent.redeem, confirm, call.digest)
            return Consent(True, "confirmation code")
        code = await in_store_thread(call.consent.issue, call.digest)
    except Refusal as refusal:
        raise ToolError(refusal.message) from refusal
    return Consent(False, "preview", code)


async def settle(answer: Annotated[ElicitationResult[Approval], Resolve(ask)]) -> Consent:
    """Normalise the outcome, and remember a user's no so that no confirmation code can override it."""
    call = invocation()
    if isinstance(answer, AcceptedElicitation):
        data = answer.data
        if isinstance(data, Consent):
            call.notes["consent"] = data.how
            return data
        if isinstance(data, Approval) and data.approve:
            call.notes["consent"] = "user approved"
            return Consent(True, "user approved")
    if getattr(answer, "action", "decline") == "cancel":
        call.notes["consent"] = "cancelled"
        return Consent(False, "cancelled")
    await in_store_thread(call.consent.decline, call.digest)
    call.notes["consent"] = "declined"
    return Consent(False, "declined")


Consented = Annotated[Consent, Resolve(settle)]
