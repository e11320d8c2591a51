"""The composition root: `Services.from_settings(settings)` builds the store, its repositories, the backends, the
guard and the checkpoint once. The stdio server, the HTTP app and the pages (web/) all take the same `Services`.

    settings -> Services: store ─ repositories (tokens, audit, approvals, hooks, signals, keys)
                          backends (BugSnag, BugPort) over one quota ledger
                          runtime (which backend serves what) ─ guard ─ checkpoint
"""

from __future__ import annotations

import functools
import inspect
import logging
import time
import typing
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from mcp.server.mcpserver.tools import Tool

from .backends.base import Backend
from .backends.bugport import BugportBackend
from .backends.bugsnag import BugsnagBackend
from .backends.quota import QuotaLedger, StoredQuota
from .call.consent import Consent
from .config import Settings
from .guard.approval import Consented
from .guard.approvals import ApprovalDesk
from .guard.audit import AuditLog
from .guard.checkpoint import Authenticate, Checkpoint
from .guard.consent import ConsentBook
from .guard.cursors import CursorCodec
from .guard.errors import Refusal
from .guard.policy import Guard
from .guard.principal import Principal, local_principal
from .guard.signals import StoredSignals
from .guard.tokens import TokenError, TokenStore
from .hooks.feed import SignalWatch
from .runtime import Runtime
from .store import Store
from .store.approvals import ApprovalStore
from .store.buckets import CallBudgets
from .store.hooks import HookStore
from .store.journal import FILE_NAME as JOURNAL_FILE
from .store.journal import Journal
from .store.keys import KeyRing
from .store.quota import SqlQuotaRepository
from .store.signals import SignalStore
from .store.waits import in_store_thread, in_token_thread
from .tools import REGISTRY

LOOSE = ("backend_transport", "bugport_transport", "upstream_options", "quota")


@dataclass(frozen=True, slots=True)
class Seams:
    """What tests and benchmarks put in place of the world: the upstream network, clocks, the quota ledger.

    `backend_transport` / `bugport_transport` replace the network of the upstream clients (tests use the sandbox's
    ASGI app); `upstream` (`sleep`, `clock`, `wall_clock`) goes to both upstream clients and the checkpoint;
    `quota` replaces the ledger kept in the store."""

    backend_transport: Any = None
    bugport_transport: Any = None
    upstream: dict[str, Any] = field(default_factory=dict)
    quota: QuotaLedger | None = None

    @property
    def sleep(self) -> Callable[[float], Awaitable[None]]:
        return self.upstream.get("sleep", anyio.sleep)

    @property
    def clock(self) -> Callable[[], float]:
        return self.upstream.get("clock", time.monotonic)

    @property
    def wall_clock(self) -> Callable[[], float]:
        return self.upstream.get("wall_clock", time.time)

    @classmethod
    def take(cls, build: dict[str, Any]) -> Seams | None:
        """The seams given loose among `build` (`backend_transport`, `bugport_transport`, `upstream_options`,
        `quota`), taken out of it; None when there are none."""
        if not any(k in build for k in LOOSE):
            return None
        return cls(
            backend_transport=build.pop("backend_transport", None),
            bugport_transport=build.pop("bugport_transport", None),
            upstream=dict(build.pop("upstream_options", None) or {}),
            quota=build.pop("quota", None),
        )


@functools.cache
def sdk_tool(name: str) -> Tool:
    """The SDK's view of a registered tool (schemas built from its signature): stateless, so built once.

    The handler's first parameter takes the `Call`, which the checkpoint passes (it is no part of the input
    schema), and a parameter typed `Consent` is filled by the guard's consent resolvers (`Consented`)."""
    spec = REGISTRY[name]
    return Tool.from_function(
        as_the_sdk_sees(spec.fn),
        name=name,
        title=spec.title,
        description=spec.description,
        annotations=spec.annotations,
    )


def as_the_sdk_sees(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn`'s signature without its first parameter (the Call), `Consent` parameters resolved by `Consented`."""
    hints = typing.get_type_hints(fn, include_extras=True)
    shown = [
        parameter.replace(annotation=Consented if hints.get(parameter.name) is Consent else hints[parameter.name])
        for parameter in list(inspect.signature(fn).parameters.values())[1:]
    ]

    @functools.wraps(fn)
    async def handler(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a tool runs through the checkpoint, which hands it its Call")

    handler.__signature__ = inspect.signature(fn).replace(  # type: ignore[attr-defined]
        parameters=shown, return_annotation=hints.get("return", inspect.Signature.empty)
    )
    handler.__annotations__ = {p.name: p.annotation for p in shown} | (
        {"return": hints["return"]} if "return" in hints else {}
    )
    del handler.__wrapped__
    return handler


def stdio_authenticator(tokens: TokenStore, secret: str, transport: str = "stdio") -> Authenticate:
    """Re-check BUGWARDEN_TOKEN on every call: revocation and expiry apply at the next call. A store that cannot
    be read raises StoreError, which the checkpoint refuses like any other store failure."""

    async def authenticate(ctx: Any) -> Principal:
        try:
            return await in_token_thread(tokens.verify, secret, transport)
        except TokenError as exc:
            raise Refusal("denied", f"denied: {exc}; ask the operator for a new token") from None

    return authenticate


def _fixed(principal: Principal) -> Authenticate:
    async def authenticate(ctx: Any) -> Principal:
        return principal

    return authenticate


@dataclass(slots=True)
class Services:
    """Everything a transport or a page needs, built once per process from the settings."""

    settings: Settings
    transport: str
    store: Store
    keys: KeyRing
    tokens: TokenStore
    audit: AuditLog
    hooks: HookStore
    signals: SignalStore
    runtime: Runtime
    tools: dict[str, Tool]
    """The SDK's view of the tools of the enabled toolsets."""
    checkpoint: Checkpoint
    watch: SignalWatch
    seams: Seams

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        transport: str = "stdio",
        principal: Principal | None = None,
        authenticate: Authenticate | None = None,
        store: Store | None = None,
        call_budget: int | None = None,
        seams: Seams | None = None,
    ) -> Services:
        """Build the services for `settings`.

        Who the caller is: `authenticate` (HTTP: the verified bearer token), else BUGWARDEN_TOKEN re-checked on
        every call (stdio), else the fixed `principal` (default: the local `read` principal). `store` replaces
        the one `settings` name. `call_budget` is how many tool calls and resource reads a minute each principal
        may make (HTTP: per token; None: no budget)."""
        # httpx logs every request URL at INFO; those carry ids and user-typed search text, and stdio servers
        # log to the host's stderr. Upstream failures are logged by our own client instead.
        logging.getLogger("httpx").setLevel(logging.WARNING)
        seams = seams or Seams()
        store = store or Store.open(settings)
        keys = KeyRing(store.state, settings.state_key.reveal() if settings.state_key else None)
        tokens = TokenStore(store.tokens)
        hooks, signals = HookStore(store.hooks), SignalStore(store.hooks)
        runtime = Runtime(
            settings=settings,
            backends=_backends(settings, seams, store),
            clock=seams.clock,
            signals=StoredSignals(signals, hooks),
        )
        audit = AuditLog(
            store.audit,
            clock=runtime.clock,
            journal=Journal(Path(settings.home) / JOURNAL_FILE),
            head_key=lambda: keys.key("audit-head"),
        )
        if authenticate is None:
            if principal is None and settings.agent_token:
                authenticate = stdio_authenticator(tokens, settings.agent_token.reveal(), transport)
            else:
                authenticate = _fixed(principal or local_principal("read", transport))
        tools = {name: sdk_tool(name) for name, spec in REGISTRY.items() if spec.toolset in settings.toolsets}
        checkpoint = Checkpoint(
            guard=Guard(toolsets=settings.toolsets, backends=lambda: runtime.backends),
            audit=audit,
            specs=REGISTRY,
            tools=tools,
            authenticate=authenticate,
            resolve=runtime.resolve,
            discover=runtime.discover,
            cursors=CursorCodec(lambda: keys.key("cursor")),
            consent=ConsentBook(store.state, lambda: keys.key("consent")),
            transport=transport,
            clock=runtime.clock,
            deadline=settings.timeouts.call_deadline,
            budgets=CallBudgets(store.state, call_budget) if call_budget else None,
            sleep=seams.sleep,
            wall=seams.wall_clock,
            confirm=settings.confirm_policy(transport),
            approvals=ApprovalDesk(ApprovalStore(store.state, clock=seams.wall_clock), audit),
            approve_at=f"{settings.public_url}/console/approvals" if settings.public_url else None,
        )
        watch = SignalWatch(signals, still_allowed=_still_allowed(tokens))
        return cls(
            settings, transport, store, keys, tokens, audit, hooks, signals, runtime, tools, checkpoint, watch, seams
        )

    async def aclose(self) -> None:
        """Close the upstream clients (the end of a server's lifespan)."""
        await self.runtime.aclose()

    def close(self) -> None:
        """Close the state store."""
        self.store.close()


def _backends(settings: Settings, seams: Seams, store: Store) -> list[Backend]:
    """One adapter per configured tracker, over one quota ledger shared by every process using this store."""
    ledger = seams.quota or StoredQuota(SqlQuotaRepository(store.state), run=in_store_thread)
    backends: list[Backend] = []
    if settings.bugsnag_auth:
        backends.append(BugsnagBackend(settings, transport=seams.backend_transport, quota=ledger, **seams.upstream))
    if settings.bugport_token:
        transport = seams.bugport_transport or seams.backend_transport
        backends.append(BugportBackend(settings, transport=transport, quota=ledger, **seams.upstream))
    return backends


def _still_allowed(tokens: TokenStore) -> Callable[[str], bool]:
    """Whether a subscriber's grant still stands: a stored token must be active; other principals (the local
    stdio one) have nothing to revoke."""

    def check(principal_id: str) -> bool:
        try:
            return tokens.get(principal_id).state() == "active"
        except TokenError:
            return True

    return check
