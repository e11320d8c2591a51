"""The one checkpoint every tool call and resource read passes, in this order:

    authenticate -> grant (toolset, scope) -> budget (the entry unit) -> available -> validate arguments
    -> resolve one target -> limits -> check (the tool's own cross-field rules) -> audit intent (writes) -> run
    -> audit outcome

Every upstream request the call causes from the budget step on, lookups included, draws from the token's budget
(guard/budget.py). Nothing before `resolve` touches an upstream, so a principal without the scope causes no request
and learns nothing. Every call ends in exactly one outcome record (writes also have an intent
record before they run), labelled for what happened: `invalid` arguments, `denied` by policy, or
`allowed` with the outcome of the run.
"""

from __future__ import annotations

import contextvars
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, TypeVar

import anyio
import anyio.to_thread
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools import Tool
from mcp.shared.exceptions import MCPError
from mcp.types import CallToolResult, InputRequiredResult, TextContent

from ..backends.call_context import (
    Deadline,
    record_caveats,
    record_statuses,
    reset_deadline,
    reset_listener,
    reset_meter,
    set_deadline,
    set_listener,
    set_meter,
)
from ..backends.errors import BackendError, InvalidArgument
from ..render import failures as words
from ..store import StoreError
from ..store.buckets import CallBudgets
from ..store.waits import bounded, in_store_thread
from . import target as current_target
from .approvals import ApprovalDesk
from .arguments import validate
from .audit import AuditError, AuditLog, AuditRecord
from .budget import Meter
from .consent import ConsentBook, call_digest
from .cursors import CursorCodec, binding
from .errors import STORE_UNAVAILABLE, Refusal, invalid
from .notices import CallNotices, request_context
from .policy import Guard, ToolPolicy
from .principal import Principal
from .project_access import per_project
from .target import AccountTarget, Feed, Listing, ProjectTarget, Target

log = logging.getLogger("bugwarden")
T = TypeVar("T")
NOBODY = Principal(id="unauthenticated", name="unauthenticated", scopes=frozenset())


class Spec(ToolPolicy, Protocol):
    """A registered tool, as the checkpoint runs it."""

    def check(self, arguments: dict[str, Any], target: Target) -> None:
        """The tool's own rules across arguments (raises InvalidArgument); run before any audit intent."""
        ...

    def question(self, arguments: dict[str, Any]) -> str | None:
        """What to ask the user before this call runs, or None when it needs no confirmation."""
        ...


Authenticate = Callable[[Any], Awaitable[Principal]]
Resolver = Callable[[ToolPolicy, dict[str, Any], Principal], Awaitable[tuple[Target, dict[str, Any]]]]


@dataclass(frozen=True, slots=True)
class Invocation:
    """The call being run, as resolvers inside it (consent) see it."""

    principal: Principal
    tool: str
    arguments: dict[str, Any]
    digest: str
    question: str | None
    consent: ConsentBook
    notes: dict[str, str] = field(default_factory=dict)
    targets: dict[str, str] = field(default_factory=dict)
    policy: str = "code"
    """Where the client cannot ask its user: `approval` (a person approves) or `code` (the model may confirm)."""
    approvals: ApprovalDesk | None = None
    approve_at: str | None = None
    """Where a person approves: the console's Approvals page, when the server has a public URL."""


_invocation: contextvars.ContextVar[Invocation | None] = contextvars.ContextVar("bugwarden_invocation", default=None)


def invocation() -> Invocation:
    """The invocation being run (a programming error outside the checkpoint)."""
    value = _invocation.get()
    if value is None:
        raise RuntimeError("no call is being run through the checkpoint")
    return value


def name_target(kind: str, name: str) -> None:
    """Record what the tracker calls the call's target (e.g. `error`: "TypeError: x is undefined"), so the audit
    log can say it in words; outside a call, nothing happens."""
    call = _invocation.get()
    if call is not None:
        call.notes[f"label:{kind[:20]}"] = " ".join(str(name).split())[:160]


def client_of(ctx: Any) -> tuple[str | None, str | None]:
    """The MCP client's declared name and version, if it sent them."""
    try:
        info = getattr(request_context(ctx), "session", None).client_params.client_info  # type: ignore[union-attr]
        return str(info.name)[:100], str(info.version)[:50]
    except (AttributeError, LookupError, TypeError):
        return None, None


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
        discover: Callable[[], Awaitable[None]],
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
        await self.discover()
        return {name for name, spec in self.specs.items() if self.guard.visible(principal, spec)}

    async def call_tool(self, name: str, arguments: Any, ctx: Any) -> CallToolResult | InputRequiredResult:
        tool = self.tools.get(name)

        async def run(args: dict[str, Any]) -> CallToolResult | InputRequiredResult:
            assert tool is not None
            return await tool.run(args, ctx, convert_result=True)

        return await self.invoke(name, name, arguments, ctx, run)

    async def invoke(
        self,
        record_as: str,
        name: str,
        arguments: Any,
        ctx: Any,
        run: Callable[[dict[str, Any]], Awaitable[T]],
    ) -> T:
        """Run one call through every step; raise ToolError (with the agent's message) when it does not run.
        Store waits (locks, busy files, worker threads) end by the call's deadline."""
        meter = Meter(self.budgets, wall=self.wall, sleep=self.sleep)
        metering = set_meter(meter)
        try:
            with bounded(time.monotonic() + self.deadline):
                return await self._invoke(record_as, name, arguments, ctx, run, meter)
        finally:
            reset_meter(metering)

    async def _invoke(
        self,
        record_as: str,
        name: str,
        arguments: Any,
        ctx: Any,
        run: Callable[[dict[str, Any]], Awaitable[T]],
        meter: Meter,
    ) -> T:
        started = self.clock()
        record = AuditRecord.start(
            principal=NOBODY, client=client_of(ctx), transport=self.transport, tool=record_as, arguments=arguments
        )
        deadline = Deadline(started + self.deadline, self.clock)
        notices = CallNotices(ctx, name)
        try:
            principal = await self.authenticate(ctx)
            record = record.by(principal)
            spec = self.specs.get(name)
            if spec is None:
                raise invalid(f"unknown tool {name[:60]!r}: see tools/list")
            self.guard.grant(principal, spec)
            await meter.start(principal, deadline, notices)  # before any upstream request, lookups included
            await self.discover()
            self.guard.available(spec)
            args = validate(self.tools[name], arguments)
            target, resolved = await self.resolve(spec, args, principal)
            record = record.targeting(_backend_name(target), target.ids(), resolved)
            self.guard.limits(principal, spec, target, args)
            target = per_project(principal, spec, target, args)
            target = self._with_cursor(principal, name, target, resolved)
            spec.check(resolved, target)
        except Refusal as refusal:
            if refusal.principal is not None:
                record = record.by(refusal.principal)
            await self._record(record.refused(refusal.decision, refusal.message, refusal.outcome), started)
            raise ToolError(words.said(refusal.message)) from None
        except InvalidArgument as exc:
            await self._record(record.refused("invalid", exc.agent_message), started)
            raise ToolError(words.failure(exc)) from None
        except StoreError as exc:
            log.error("state store failed before %s could run: %s", name, exc)
            await self._record(record.refused("denied", STORE_UNAVAILABLE, "store_unavailable"), started)
            raise ToolError(STORE_UNAVAILABLE) from None
        except BackendError as exc:
            # The target could not be resolved (a URL or bug id lookup failed upstream).
            await self._record(
                record.refused("invalid", exc.agent_message).finished(type(exc).__name__, upstream_status=exc.status),
                started,
            )
            raise ToolError(words.failure(exc)) from None
        except Exception:  # anything else that failed on the way in: refused in plain words, and recorded
            reference = secrets.token_hex(4)
            log.error("call of %s could not be checked (reference %s)", name[:60], reference, exc_info=True)
            message = (
                f"refused: bugwarden could not read this call's arguments (reference {reference}): check the ids, "
                "URLs and cursors it carries, or ask the operator, whose log has the details"
            )
            await self._record(record.refused("invalid", message, f"internal_error:{reference}"), started)
            raise ToolError(message) from None
        record = record.allowed(f"scope {spec.scope}")
        if not spec.read_only:
            try:
                await in_store_thread(self.audit.write_intent, record)
            except AuditError:
                log.error("audit store failed; refusing write %s", name)
                message = (
                    "refused: the audit log could not record this change, so it was not made. "
                    "An operator must check the bugwarden state store."
                )
                await self._keep(record.refused("denied", message, "store_unavailable"), started)
                raise ToolError(message) from None
        elif not self.audit.healthy and not await self._store_ready():
            # The store failed lately and still does: refuse before any upstream request, rather than make it and
            # then withhold its answer.
            message = (
                "refused: the audit log cannot record calls right now, so this read was not made. "
                "An operator must check the bugwarden state store."
            )
            await self._keep(record.refused("denied", message, "store_unavailable"), started)
            raise ToolError(message) from None
        digest = call_digest(principal.id, name, resolved)
        question = spec.question(resolved)  # a person reads it (elicitation, approvals): it passes the sanitiser too
        call = Invocation(
            principal,
            name,
            resolved,
            digest,
            words.said(question) if question else None,
            self.consent,
            targets=dict(record.targets),
            policy=self.confirm,
            approvals=self.approvals,
            approve_at=self.approve_at,
        )
        ran = await self._run(run, resolved, target, call, notices, deadline)
        result, outcome, status, failure, protocol_error, stopped = ran
        size = _size(result)
        if stopped is not None:  # refused at run time, after its intent: labelled for what happened
            record = record.refused(stopped.decision, stopped.message, outcome)
        finished = record.finished(
            outcome, upstream_status=status, result_bytes=size, consent=call.notes.get("consent")
        )
        labels = {key[6:]: value for key, value in call.notes.items() if key.startswith("label:")}
        if labels:
            finished = replace(finished, labels=labels)
        try:
            await self._record(finished, started, strict=True)
        except AuditError:
            if spec.read_only or outcome != "ok":
                finished = replace(finished, reason=f"{finished.reason}; result withheld: the audit store failed")
            await self._keep(finished, started)
            if not spec.read_only and outcome == "ok" and isinstance(result, CallToolResult):
                log.error("audit store failed after a completed write of %s; reporting the write as done", name)
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
        if protocol_error is not None:
            raise protocol_error
        if failure is not None:
            raise failure
        return result  # type: ignore[return-value]

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

    async def _run(
        self,
        run: Callable[[dict[str, Any]], Awaitable[T]],
        args: dict[str, Any],
        target: Target,
        call: Invocation,
        notices: CallNotices,
        until: Deadline,
    ) -> tuple[T | None, str, int | None, ToolError | None, MCPError | None, Refusal | None]:
        """(result, outcome, upstream status, the ToolError to raise, a protocol error to re-raise, the refusal
        that stopped the run, if one did)."""
        deadline = set_deadline(until)
        listening = set_listener(notices)
        entered = current_target.enter(target)
        invoked = _invocation.set(call)
        statuses = record_statuses()
        caveats = record_caveats()
        result: T | None = None
        outcome, failure, protocol_error, status = "ok", None, None, None
        refusal: Refusal | None = None
        try:
            result = await run(args)
            if isinstance(result, CallToolResult) and caveats:
                _add_caveats(result, caveats)
            if isinstance(result, InputRequiredResult):
                outcome = "input_required"
            elif isinstance(result, CallToolResult) and result.is_error:
                outcome = "tool_error"
        except ToolError as exc:
            outcome, status, failure = _classify(call.tool, exc)
            cause = _root_cause(exc.__cause__)
            refusal = cause if isinstance(cause, Refusal) else None
        except MCPError as exc:
            outcome, protocol_error = "protocol_error", exc
        finally:
            _invocation.reset(invoked)
            current_target.leave(entered)
            reset_deadline(deadline)
            reset_listener(listening)
        if status is None and statuses:
            status = max(statuses)  # the worst upstream answer this call saw
        return result, outcome, status, failure, protocol_error, refusal

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


def _classify(tool: str, exc: ToolError) -> tuple[str, int | None, ToolError]:
    """Turn a failed run into (audit outcome, upstream status, the ToolError the model sees)."""
    cause = _root_cause(exc.__cause__)
    if isinstance(cause, StoreError):
        log.error("state store failed while %s ran: %s", tool, cause)
        return "store_unavailable", None, ToolError(STORE_UNAVAILABLE)
    if isinstance(cause, Refusal):
        return cause.outcome, None, ToolError(words.said(cause.message))
    if isinstance(cause, BackendError):
        kind = "invalid_argument" if isinstance(cause, InvalidArgument) else type(cause).__name__
        return kind, cause.status, ToolError(words.failure(cause))
    if cause is not None and type(exc).__name__ == "UnexpectedToolError":
        reference = secrets.token_hex(4)
        log.error("tool %s failed unexpectedly (reference %s)", tool, reference, exc_info=cause)
        return (
            f"internal_error:{reference}",
            None,
            ToolError(f"internal error in bugwarden, reference {reference}; the operator's log has the details"),
        )
    message = str(exc)
    prefix = f"Error executing tool {tool}: "
    return "tool_error", None, ToolError(words.said(message[len(prefix) :] if message.startswith(prefix) else message))


def _root_cause(exc: BaseException | None) -> BaseException | None:
    """The error a model should hear about: task groups wrap failures in exception groups, tools wrap ToolErrors."""
    while True:
        if isinstance(exc, BaseExceptionGroup) and exc.exceptions:
            expected = [e for e in exc.exceptions if isinstance(e, BackendError | Refusal | BaseExceptionGroup)]
            exc = (expected or list(exc.exceptions))[0]
        elif isinstance(exc, ToolError) and exc.__cause__ is not None:
            exc = exc.__cause__
        else:
            return exc
