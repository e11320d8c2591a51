"""Asking before destroying: MCP elicitation where the client supports it, otherwise an explicit `confirm`
argument that must repeat the target's id. Until confirmed, a destructive tool answers with a preview."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from mcp.server.mcpserver import Context, Elicit, ElicitationResult
from mcp.server.mcpserver.resolve import Resolve
from pydantic import BaseModel, Field

from ..backends.errors import InvalidArgument
from ..render.text import inline

Confirm = Annotated[
    str | None,
    Field(
        description="To act without an interactive prompt, repeat the target's id here. Omit it first to see "
        "what would change.",
        max_length=200,
    ),
]


class Approval(BaseModel):
    """The form a user answers in their client."""

    approve: bool = Field(description="Yes, go ahead")


Answer = ElicitationResult[Approval]
"""What a destructive tool receives: accepted (our Verdict, or the user's Approval), declined or cancelled."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """How a destructive call was authorised: `approved`, or why not (`preview`, `declined`)."""

    approved: bool
    how: str


def can_elicit(ctx: Context) -> bool:
    try:
        capabilities = ctx.client_capabilities
    except (AttributeError, LookupError):
        return False
    return bool(capabilities and capabilities.elicitation)


def decide(target_id: str, confirm: str | None, ctx: Context, question: str) -> Verdict | Elicit[Approval]:
    """The resolver body shared by destructive tools."""
    if confirm is not None:
        if confirm != target_id:
            raise InvalidArgument(f"confirm must repeat the id {target_id!r} exactly; nothing was changed")
        return Verdict(True, "confirm argument")
    if can_elicit(ctx):
        return Elicit(inline(question, 300), Approval)
    return Verdict(False, "preview")


def verdict_of(answer: Verdict | Approval | object) -> Verdict:
    """Normalise a resolver outcome (our Verdict, or the user's elicitation answer)."""
    data = getattr(answer, "data", answer)
    if isinstance(data, Verdict):
        return data
    approve = getattr(data, "approve", None)
    if approve is True:
        return Verdict(True, "user approved")
    return Verdict(False, "declined")


__all__ = ["Answer", "Approval", "Confirm", "Resolve", "Verdict", "can_elicit", "decide", "verdict_of"]
