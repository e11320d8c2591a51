"""The one checkpoint every tool call and resource read passes, in this order:

    authenticate -> grant (toolset, scope) -> budget (the entry unit) -> available -> validate arguments
    -> resolve one target -> limits -> check (the tool's own cross-field rules) -> audit intent (writes) -> run
    -> audit outcome

`invoke` runs these as named steps: `_admit` (everything up to the check, refused in plain words and audited once),
`_intend` (the intent record of a write), `_run` (the tool, handed its `Call`) and `_finish` (the outcome record).
Every upstream request the call causes from the budget step on, lookups included, draws from the token's budget
(guard/budget.py): the call's `CallContext` carries the meter, the deadline and the listener to the backends,
which the resolver binds to it. Nothing before `resolve` touches an upstream, so a principal without the scope
causes no request and learns nothing. Every call ends in exactly one outcome record (writes also have an intent
record before they run), labelled for what happened: `invalid` arguments, `denied` by policy, or `allowed` with the
outcome of the run. Failures map to outcomes through one table, `OUTCOMES`.
"""

from __future__ import annotations

import functools
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol, TypeVar

import anyio
import anyio.to_thread
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.server.mcpserver.tools import Tool
from mcp.shared.exceptions import MCPError
from mcp.types import CallToolResult, InputRequiredResult, TextContent

from ..backends.call_context import CallContext, Deadline
from ..backends.errors import BackendError
from ..call.call import Call
from ..call.principal import Principal
from ..call.target import AccountTarget, Feed, Listing, ProjectTarget, Target
from ..errors import BugwardenError
from ..render import failures as words
from ..store import StoreError
from ..store.buckets import CallBudgets
from ..store.waits import bounded, in_store_thread
from .approval import Consenting, consenting
from .approvals import ApprovalDesk
from .arguments import validate
from .audit import AuditError, AuditLog, AuditRecord
from .budget import Meter
from .consent import ConsentBook, call_digest
from .cursors import CursorCodec, binding
from .errors import STORE_UNAVAILABLE, Refusal, invalid
from .notices import CallNotices, request_context
from .policy import Guard, ToolPolicy

log = logging.getLogger("bugwarden")
T = TypeVar("T")
NOBODY = Principal(id="unauthenticated", name="unauthenticated", scopes=frozenset())


class Spec(ToolPolicy, Protocol):
    """A registered tool, as the checkpoint runs it."""

    @property
    def fn(self) -> Callable[..., Any]:
        """The tool's handler: its first parameter takes the `Call`."""
        ...

    def check(self, arguments: dict[str, Any], target: Target) -> None:
        """The tool's own rules across arguments (raises InvalidArgument); run before any audit intent."""
        ...

    def question(self, arguments: dict[str, Any]) -> str | None:
        """What to ask the user before this call runs, or None when it needs no confirmation."""
        ...


Authenticate = Callable[[Any], Awaitable[Principal]]
Resolver = Callable[[ToolPolicy, dict[str, Any], Principal, CallContext], Awaitable[tuple[Target, dict[str, Any]]]]
Discover = Callable[[CallContext | None], Awaitable[None]]
Run = Callable[[Call[Any]], Awaitable[T]]
"""What a call runs once admitted, handed the `Call` (a tool; a resource read; a completion's candidates)."""


def client_of(ctx: Any) -> tuple[str | None, str | None]:
    """The MCP client's declared name and version, if it sent them."""
    try:
        info = getattr(request_context(ctx), "session", None).client_params.client_info  # type: ignore[union-attr]
        return str(info.name)[:100], str(info.version)[:50]
    except (AttributeError, LookupError, TypeError):
        return None, None


@dataclass(frozen=True, slots=True)
class Admitted:
    """A call past every check: who, which tool, the resolved arguments and target, and its record so far."""

    spec: Spec
    call: Call[Any]
    record: AuditRecord


@dataclass(frozen=True, slots=True)
class Ran:
    """What the run step saw: the result, the audit outcome and status, and what to raise in place of a result."""

    result: Any
    outcome: str = "ok"
    status: int | None = None
    failure: ToolError | None = None
    protocol_error: MCPError | None = None
    stopped: Outcome | None = None
    """The refusal that stopped the run after its intent was recorded, if one did."""


class Checkpoint:
    def __init__(
        self,
        *,
        guard: Guard,
        audit: AuditLog,
        specs: Mapping[str, Spec],
        tools: Mapping[str, Tool],
        authenticate: Authenticate,
        resolve: Resolver,
        discover: Discover,
        cursors: CursorCodec,
        consent: ConsentBook,
        transport: str,
        clock: Callable[[], float],
        deadline: float,
        budgets: CallBudgets | None = None,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        wall: Callable[[], float] = time.time,
        confirm: str = "code",
        approvals: ApprovalDesk | None = None,
        approve_at: str | None = None,
    ) -> None:
        self.guard = guard
        self.audit = audit
        self.specs = specs
        self.tools = tools
        self.authenticate = authenticate
        self.resolve = resolve
        self.discover = discover
        self.cursors = cursors
        self.consent = consent
        self.transport = transport
        self.clock = clock
        self.deadline = deadline
        self.budgets = budgets
        self.sleep = sleep
        self.wall = wall
        self.confirm = confirm
        self.approvals = approvals
        self.approve_at = approve_at

    async def visible_tools(self, ctx: Any) -> set[str]:
        """The tools this caller may see (none when it cannot be authenticated)."""
        try:
            principal = await self.authenticate(ctx)
        except Refusal:
            return set()
        await self.discover(None)
        return {name for name, spec in self.specs.items() if self.guard.visible(principal, spec)}

    async def call_tool(self, name: str, arguments: Any, ctx: Any) -> CallToolResult | InputRequiredResult:
        """Run the registered tool `name`, handed its `Call` as its first argument."""

        async def run(call: Call[Any]) -> CallToolResult | InputRequiredResult:
            tool, spec = self.tools[name], self.specs[name]
            handed = tool.model_copy(update={"fn": functools.partial(spec.fn, call)})
            return await handed.run(call.arguments, ctx, convert_result=True)

        return await self.invoke(name, name, arguments, ctx, run)

    async def invoke(self, record_as: str, name: str, arguments: Any, ctx: Any, run: Run[T]) -> T:
        """Run one call through every step as the tool `name` (audited as `record_as`); raise ToolError (with the
        agent's message) when it does not run. Store waits (locks, busy files, worker threads) end by the call's
        deadline."""
        with bounded(time.monotonic() + self.deadline):
            started = self.clock()
            notices = CallNotices(ctx, name)
            upstream = CallContext(
                deadline=Deadline(started + self.deadline, self.clock),
                meter=Meter(self.budgets, wall=self.wall, sleep=self.sleep),
                listener=notices,
            )
            record = AuditRecord.start(
                principal=NOBODY, client=client_of(ctx), transport=self.transport, tool=record_as, arguments=arguments
            )
            admitted = await self._admit(record, name, arguments, ctx, upstream, started)
            await self._intend(admitted, started)
            ran = await self._run(run, admitted)
            return await self._finish(admitted, ran, started)

    async def _admit(
        self, record: AuditRecord, name: str, arguments: Any, ctx: Any, upstream: CallContext, started: float
    ) -> Admitted:
        """Every check before the run, in order; a call that fails one is refused in plain words, audited once."""
        try:
            principal = await self.authenticate(ctx)
            record = record.by(principal)
            spec = self.specs.get(name)
            if spec is None:
                raise invalid(f"unknown tool {name[:60]!r}: see tools/list")
            self.guard.grant(principal, spec)
            await _charge_entry(principal, upstream)  # before any upstream request, lookups included
            await self.discover(upstream)
            self.guard.available(spec)
            args = validate(self.tools[name], arguments)
            target, resolved = await self.resolve(spec, args, principal, upstream)
            record = record.targeting(_backend_name(target), target.ids(), resolved)
            self.guard.limits(principal, spec, target, args)
            target = self._with_cursor(principal, name, target, resolved)
            spec.check(resolved, target)
        except BugwardenError as exc:
            if isinstance(exc, Refusal) and exc.principal is not None:
                record = record.by(exc.principal)
            said = outcome_of(exc)
            if isinstance(exc, StoreError):
                log.error("state store failed before %s could run: %s", name, exc)
            refused = record.refused(said.decision, said.reason, said.label)
            await self._record(refused.finished(said.label, upstream_status=said.status), started)
            raise ToolError(said.message) from None
        except Exception:  # anything else that failed on the way in: refused in plain words, and recorded
            reference = secrets.token_hex(4)
            log.error("call of %s could not be checked (reference %s)", name[:60], reference, exc_info=True)
            message = (
                f"refused: bugwarden could not read this call's arguments (reference {reference}): check the ids, "
                "URLs and cursors it carries, or ask the operator, whose log has the details"
            )
            await self._record(record.refused("invalid", message, f"internal_error:{reference}"), started)
            raise ToolError(message) from None
        call = Call(principal=principal, tool=name, arguments=resolved, target=target, upstream=upstream)
        return Admitted(spec, call, record.allowed(f"scope {spec.scope}"))

    async def _intend(self, admitted: Admitted, started: float) -> None:
        """A write's intent record before it runs (no record, no write); a read is refused before any upstream
        request while the audit store is down, rather than made and then withheld."""
        record = admitted.record
        if not admitted.spec.read_only:
            try:
                await in_store_thread(self.audit.write_intent, record)
            except AuditError:
                log.error("audit store failed; refusing write %s", record.tool)
                message = (
                    "refused: the audit log could not record this change, so it was not made. "
                    "An operator must check the bugwarden state store."
                )
                await self._keep(record.refused("denied", message, "store_unavailable"), started)
                raise ToolError(message) from None
        elif not self.audit.healthy and not await self._store_ready():
            message = (
                "refused: the audit log cannot record calls right now, so this read was not made. "
                "An operator must check the bugwarden state store."
            )
            await self._keep(record.refused("denied", message, "store_unavailable"), started)
            raise ToolError(message) from None

    def _consenting(self, admitted: Admitted) -> Consenting:
        call = admitted.call
        question = admitted.spec.question(call.arguments)  # a person reads it (elicitation, approvals): sanitised
        return Consenting(
            call,
            call_digest(call.principal.id, call.tool, call.arguments),
            words.said(question) if question else None,
            self.consent,
            policy=self.confirm,
            approvals=self.approvals,
            approve_at=self.approve_at,
        )

    async def _run(self, run: Run[T], admitted: Admitted) -> Ran:
        """Run the admitted call; its failures become outcomes (the table), never exceptions past this step."""
        call = admitted.call
        try:
            with consenting(self._consenting(admitted)):
                result = await run(call)
        except ToolError as exc:
            said, failure = _failed_run(call.tool, exc)
            if said is None:
                return Ran(None, "tool_error", failure=failure)
            return Ran(None, said.label, said.status, failure, stopped=said if said.refusal else None)
        except MCPError as exc:
            return Ran(None, "protocol_error", protocol_error=exc)
        if isinstance(result, CallToolResult) and call.upstream.caveats:
            _add_caveats(result, call.upstream.caveats)
        if isinstance(result, InputRequiredResult):
            return Ran(result, "input_required")
        if isinstance(result, CallToolResult) and result.is_error:
            return Ran(result, "tool_error")
        return Ran(result)

    async def _finish(self, admitted: Admitted, ran: Ran, started: float) -> Any:
        """The outcome record, then the result (or what the run raised); the result is withheld when the outcome
        cannot be recorded, except that a completed write is reported as done."""
        call, record = admitted.call, admitted.record
        statuses = call.upstream.statuses
        status = ran.status if ran.status is not None or not statuses else max(statuses)  # the worst answer seen
        if ran.stopped is not None:  # refused at run time, after its intent: labelled for what happened
            record = record.refused(ran.stopped.decision, ran.stopped.reason, ran.outcome)
        finished = record.finished(
            ran.outcome, upstream_status=status, result_bytes=_size(ran.result), consent=call.notes.get("consent")
        )
        if labels := call.labels():
            finished = replace(finished, labels=labels)
        try:
            await self._record(finished, started, strict=True)
        except AuditError:
            return await self._unrecorded(admitted, ran, finished, started)
        if ran.protocol_error is not None:
            raise ran.protocol_error
        if ran.failure is not None:
            raise ran.failure
        return ran.result

    async def _unrecorded(self, admitted: Admitted, ran: Ran, finished: AuditRecord, started: float) -> Any:
        read_only, result = admitted.spec.read_only, ran.result
        if read_only or ran.outcome != "ok":
            finished = replace(finished, reason=f"{finished.reason}; result withheld: the audit store failed")
        await self._keep(finished, started)
        if not read_only and ran.outcome == "ok" and isinstance(result, CallToolResult):
            log.error("audit store failed after a completed write of %s; reporting the write as done", finished.tool)
            result.content.append(
                TextContent(
                    type="text",
                    text="Note: the change was made, but bugwarden could not record its outcome in the audit "
                    "log (its intent is recorded). An operator should check the state store.",
                )
            )
            return result
        raise ToolError(
            "refused: the audit log could not record this call, so its result is withheld. "
            "An operator must check the bugwarden state store."
        ) from None

    def _with_cursor(self, principal: Principal, tool: str, target: Target, args: dict[str, Any]) -> Target:
        """The target with the caller's cursor decoded (refused unless it came from this very kind of call),
        and an encoder that binds the next cursors the same way."""
        backend = _backend_name(target) or ""
        scope = ""
        if isinstance(target, ProjectTarget):
            scope = target.project_id
        elif isinstance(target, AccountTarget):
            scope = target.organization_id or ""
        elif isinstance(target, Feed):
            scope = target.project_id or ""
        bound = binding(principal.id, tool, backend, scope)
        cursor = args.get("cursor")
        page = self.cursors.decode(cursor, bound) if isinstance(cursor, str) and cursor else None
        return replace(target, page=page, encode_cursor=lambda position: self.cursors.encode(position, bound))

    async def _record(self, record: AuditRecord, started: float, *, strict: bool = False) -> None:
        """Store an outcome record. Refusals are refused either way, so for them a failing store means the record
        goes to the outage journal (appended to the chain when the store returns)."""
        try:
            await in_store_thread(self.audit.finish, record, started)
        except AuditError:
            if strict:
                raise
            log.error("audit store failed while recording a refusal of %s", record.tool)
            await self._keep(record, started)

    async def _keep(self, record: AuditRecord, started: float) -> None:
        """Keep a record the store could not take in the outage journal (a local file: no store wait)."""
        if not await anyio.to_thread.run_sync(self.audit.keep, record, started):
            log.error("the outage journal could not keep the record of %s either", record.tool)

    async def _store_ready(self) -> bool:
        try:
            return await in_store_thread(self.audit.ready)
        except StoreError:
            return False


async def _charge_entry(principal: Principal, upstream: CallContext) -> None:
    """Draw the call's entry unit from its token's budget (refused when it is spent)."""
    meter, deadline, listener = upstream.meter, upstream.deadline, upstream.listener
    if isinstance(meter, Meter) and deadline is not None and isinstance(listener, CallNotices):
        await meter.start(principal, deadline, listener)


def _add_caveats(result: CallToolResult, caveats: list[str]) -> None:
    """Say what the answer leaves out at the end of its text (bugwarden answers with one text block)."""
    notes = "\n".join(f"Note: {c}" for c in caveats)
    first = result.content[0] if result.content else None
    if isinstance(first, TextContent):
        result.content[0] = TextContent(type="text", text=f"{first.text}\n\n{notes}")
    else:
        result.content.append(TextContent(type="text", text=notes))


def _backend_name(target: Target) -> str | None:
    if isinstance(target, ProjectTarget | AccountTarget):
        return target.backend.name
    if isinstance(target, Listing):
        return ",".join(b.name for b in target.backends) or None
    return None


def _size(result: Any) -> int:
    if isinstance(result, CallToolResult):
        return sum(len(getattr(block, "text", "")) for block in result.content)
    return 0


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a call that ended in a bugwarden error is audited and answered."""

    label: str
    """The audit record's outcome."""
    message: str
    """What the model hears (sanitised; outside words only fenced)."""
    reason: str
    """The audit record's reason, when the call is refused."""
    decision: str
    """How the call is decided when this happens before it runs: `denied` (policy) or `invalid` (its input)."""
    status: int | None = None
    """The upstream status, when an upstream answered."""
    refusal: bool = False
    """A refusal is labelled as one even when it stops a call already running (after its intent record)."""


def _refused(exc: Refusal) -> Outcome:
    return Outcome(exc.outcome, words.said(exc.message), exc.message, exc.decision, refusal=True)


def _store_failed(exc: StoreError) -> Outcome:
    return Outcome(exc.outcome, STORE_UNAVAILABLE, STORE_UNAVAILABLE, "denied")


def _backend_failed(exc: BackendError) -> Outcome:
    return Outcome(exc.outcome, words.failure(exc), exc.agent_message, "invalid", exc.status)


OUTCOMES: tuple[tuple[type[BugwardenError], Callable[[Any], Outcome]], ...] = (
    (Refusal, _refused),
    (StoreError, _store_failed),
    (BackendError, _backend_failed),
)
"""The one table from the error tree (bugwarden/errors.py) to outcomes, most specific first."""


def outcome_of(exc: BugwardenError) -> Outcome:
    for kind, said in OUTCOMES:
        if isinstance(exc, kind):
            return said(exc)
    return Outcome(exc.outcome, words.said(str(exc)), str(exc), "invalid")


def _failed_run(tool: str, exc: ToolError) -> tuple[Outcome | None, ToolError]:
    """A failed run as (its bugwarden outcome, if a bugwarden error caused it; the ToolError the model sees)."""
    cause = cause_of(exc.__cause__)
    if isinstance(cause, BugwardenError):
        said = outcome_of(cause)
        if isinstance(cause, StoreError):
            log.error("state store failed while %s ran: %s", tool, cause)
        return said, ToolError(said.message)
    if cause is not None and isinstance(exc, UnexpectedToolError):
        reference = secrets.token_hex(4)
        log.error("tool %s failed unexpectedly (reference %s)", tool, reference, exc_info=cause)
        message = f"internal error in bugwarden, reference {reference}; the operator's log has the details"
        return Outcome(f"internal_error:{reference}", message, message, "invalid"), ToolError(message)
    message = str(exc)
    prefix = f"Error executing tool {tool}: "
    return None, ToolError(words.said(message[len(prefix) :] if message.startswith(prefix) else message))


def cause_of(exc: BaseException | None) -> BaseException | None:
    """The error a model should hear about: task groups wrap failures in exception groups, tools wrap ToolErrors."""
    while True:
        if isinstance(exc, BaseExceptionGroup) and exc.exceptions:
            expected = [e for e in exc.exceptions if isinstance(e, BugwardenError | BaseExceptionGroup)]
            exc = (expected or list(exc.exceptions))[0]
        elif isinstance(exc, ToolError) and exc.__cause__ is not None:
            exc = exc.__cause__
        else:
            return exc
