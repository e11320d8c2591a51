"""The consent a destructive tool receives: asked of the user where the client can ask, else a preview first.

A tool declares a parameter typed `Consent` (call/consent.py) and branches on `consent.given`; the server fills it
through `Consented`, the SDK resolvers below. Whether a question is needed comes from the tool's registration
(`question`); how it was answered is recorded in the audit.

The SDK runs resolvers with nothing but the request's context and the tool's arguments, so the checkpoint lends
them the call being consented to (`consenting`) for the duration of its run: the one value that travels beside
the call rather than in it.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any

import anyio
from mcp.server.mcpserver import AcceptedElicitation, Context, Elicit, ElicitationResult
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.resolve import Resolve
from pydantic import BaseModel, Field

from ..call.call import Call
from ..call.consent import Consent
from ..store.approvals import ApprovalError
from ..store.waits import in_store_thread
from .approvals import ApprovalDesk
from .audit import redact
from .consent import ConsentBook
from .errors import Refusal, invalid
from .notices import CallNotices, request_context

INPUT_REQUIRED_VERSION = "2026-07-28"
APPROVAL_WAIT = 20.0
"""How long a call whose client sent a progress token waits for a person's approval before answering that it
waits (seconds; at most half of what is left of the call's deadline)."""
APPROVAL_POLL = 1.0


class Approval(BaseModel):
    """The form a user answers in their client."""

    approve: bool = Field(description="Yes, go ahead")


@dataclass(frozen=True, slots=True)
class Consenting:
    """The call being consented to, and what deciding needs: its digest (principal + tool + validated arguments),
    the question a person reads, the consent book, and the operator's policy where the client cannot ask."""

    call: Call[Any]
    digest: str
    question: str | None
    book: ConsentBook
    policy: str = "code"
    """Where the client cannot ask its user: `approval` (a person approves) or `code` (the model may confirm)."""
    approvals: ApprovalDesk | None = None
    approve_at: str | None = None
    """Where a person approves: the console's Approvals page, when the server has a public URL."""


_consenting: contextvars.ContextVar[Consenting | None] = contextvars.ContextVar("bugwarden_consenting", default=None)


@contextlib.contextmanager
def consenting(what: Consenting) -> Iterator[None]:
    """Lend `what` to the consent resolvers while the call runs (the checkpoint's run step)."""
    token = _consenting.set(what)
    try:
        yield
    finally:
        _consenting.reset(token)


def _current() -> Consenting:
    value = _consenting.get()
    if value is None:
        raise RuntimeError("no call is being run through the checkpoint")
    return value


def declared_elicitation(ctx: Any) -> bool:
    """Whether the client declared form elicitation: on the connection (handshake era) or on this very request
    (2026-07-28, per-request capabilities)."""
    try:
        capabilities = ctx.client_capabilities
    except (AttributeError, LookupError):
        return False
    elicitation = capabilities.elicitation if capabilities is not None else None
    return elicitation is not None and (elicitation.form is not None or elicitation.url is None)


def can_elicit(ctx: Any) -> bool:
    """Whether the client's user can be asked on this request: it declared form elicitation, and there is a way
    to ask (a back channel on this connection, or the 2026-07-28 input-required round trip, which works on any
    replica). A handshake-era client on a stateless replica has neither, whatever it declared."""
    if not declared_elicitation(ctx):
        return False
    try:
        if ctx.session.can_send_request:
            return True
        version = ctx.protocol_version
    except (AttributeError, LookupError, RuntimeError):
        return False
    return isinstance(version, str) and version >= INPUT_REQUIRED_VERSION  # revisions are dates: YYYY-MM-DD


async def ask(ctx: Context) -> Consent | Elicit[Approval]:
    """The user decides when they can be asked; otherwise the operator's policy: a person's approval, or the
    confirmation code (which the model can send back on its own)."""
    call = _current()
    if call.question is None:
        return Consent(True, "not needed")
    if can_elicit(ctx):
        return Elicit(call.question, Approval)
    try:
        if call.policy == "approval" and call.approvals is not None:
            consent = await in_store_thread(_by_approval, call)
            if not consent.given and consent.approval is not None and wants_progress(ctx):
                consent = await _wait_for_a_person(ctx, call, consent)
            return consent
        confirm = call.call.arguments.get("confirm")
        if isinstance(confirm, str) and confirm:
            await in_store_thread(call.book.redeem, confirm, call.digest)
            return Consent(True, "confirmation code")
        code = await in_store_thread(call.book.issue, call.digest)
    except Refusal as refusal:
        raise ToolError(refusal.message) from refusal
    return Consent(False, "preview", code)


def wants_progress(ctx: Any) -> bool:
    """Whether the request asked for progress (so a short wait can be shown to its user). The SDK has no public
    accessor: its request channels keep the token (JSON-RPC, 2026-07-28 HTTP) or the callback (in-process);
    anything else reads as no, and the call answers at once."""
    outbound = getattr(getattr(request_context(ctx), "session", None), "_request_outbound", None)
    outbound = getattr(outbound, "_inner", outbound)  # the SDK wraps the channel where the server may not request
    return any(
        getattr(outbound, name, None) is not None for name in ("progress_token", "_progress_token", "_on_progress")
    )


async def _wait_for_a_person(ctx: Any, call: Consenting, pending: Consent) -> Consent:
    """Wait briefly for a person to decide, with progress notifications: at most APPROVAL_WAIT seconds and half
    of what is left of the call's deadline. Approved: the call goes ahead (the approval used once); rejected:
    refused; still pending: the call answers that it waits."""
    assert call.approvals is not None and pending.approval is not None
    until = call.call.deadline
    total = min(APPROVAL_WAIT, until.remaining() / 2) if until is not None else APPROVAL_WAIT
    notices = CallNotices(ctx, call.call.tool)
    waited = 0.0
    while waited < total:
        await notices.waiting(f"a person's approval ({pending.approval})", waited, total)
        await anyio.sleep(APPROVAL_POLL)
        waited += APPROVAL_POLL
        decided = await in_store_thread(call.approvals.store.get, pending.approval)
        if decided is None or decided.status == "pending":
            continue
        if decided.status == "approved":
            used = await in_store_thread(call.approvals.store.redeem, call.digest)
            if used is not None:
                return Consent(True, f"approved by {used.decided_by}", approval=used.id)
        if decided.status == "rejected":
            raise invalid(
                f"a person ({decided.decided_by}) rejected this change (approval {decided.id}): it will not be "
                "made; ask them before trying again"
            )
        break
    return pending


def _by_approval(call: Consenting) -> Consent:
    """A person's approval: redeem an approved one for this exact call (once), or create (or find) the pending
    one and say where it is decided. A rejection binds like a decline."""
    assert call.approvals is not None
    if call.book.declined(call.digest):
        rejected = call.approvals.store.rejected(call.digest)
        if rejected is not None:
            raise invalid(
                f"a person ({rejected.decided_by}) rejected this change (approval {rejected.id}): it will not be "
                "made; ask them before trying again"
            )
        raise invalid("the user declined this change when asked; it will not be made without asking again")
    used = call.approvals.store.redeem(call.digest)
    if used is not None:
        return Consent(True, f"approved by {used.decided_by}", approval=used.id)
    try:
        pending = call.approvals.store.request(
            call.digest,
            principal_id=call.call.principal.id,
            principal_name=call.call.principal.name,
            tool=call.call.tool,
            targets=call.call.target.ids(),
            arguments=redact({k: v for k, v in call.call.arguments.items() if k != "confirm" and v is not None}),
            question=call.question or call.call.tool,
        )
    except ApprovalError as exc:
        raise invalid(str(exc)) from None
    return Consent(False, "awaiting approval", approval=pending.id, approve_at=call.approve_at)


async def settle(answer: Annotated[ElicitationResult[Approval], Resolve(ask)]) -> Consent:
    """Normalise the outcome, and remember a user's no so that no confirmation code can override it."""
    consenting = _current()
    call = consenting.call
    if isinstance(answer, AcceptedElicitation):
        data = answer.data
        if isinstance(data, Consent):
            call.notes["consent"] = data.how + (f" ({data.approval})" if data.approval else "")
            return data
        if isinstance(data, Approval) and data.approve:
            call.notes["consent"] = "user approved"
            return Consent(True, "user approved")
    if getattr(answer, "action", "decline") == "cancel":
        call.notes["consent"] = "cancelled"
        return Consent(False, "cancelled")
    await in_store_thread(consenting.book.decline, consenting.digest)
    call.notes["consent"] = "declined"
    return Consent(False, "declined")


Consented = Annotated[Consent, Resolve(settle)]
"""What the server puts in place of a tool's `Consent` parameter (app.sdk_tool): filled by `settle`."""

__all__ = ["Consent", "Consented", "Consenting", "can_elicit", "consenting", "declared_elicitation"]
