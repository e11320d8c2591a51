"""One tool call, as the checkpoint built it and hands it down: who calls, which tool, its validated arguments,
its one target, and the call's share of the upstream (deadline, budget, listener, what it saw and left out).

A tool declares `call: Call[ProjectTarget]` (or another target kind, matching its registration's `reach`) as its
first parameter; the checkpoint passes it. It is not part of the tool's input schema.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from ..backends.call_context import CallContext, Deadline, Level
from .principal import Principal
from .target import AccountTarget, Feed, Listing, ProjectTarget, Target

T = TypeVar("T", bound=Target, covariant=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class Call(Generic[T]):
    """Built only by the checkpoint (tests/test_layers.py holds that rule)."""

    principal: Principal
    tool: str
    arguments: dict[str, Any]
    """The validated arguments, with ids resolved (the default project filled in, URLs unpacked)."""
    target: T
    upstream: CallContext
    """What the call lends its backends' requests (the target's backend is bound to it)."""
    notes: dict[str, str] = field(default_factory=dict)
    """What the audit record keeps beyond the outcome: the consent given, names of the target (`label:<kind>`)."""

    @property
    def deadline(self) -> Deadline | None:
        return self.upstream.deadline

    def name_target(self, kind: str, name: str) -> None:
        """Record what the tracker calls the call's target (e.g. `error`: "TypeError: x is undefined"), so the
        audit log can say it in words."""
        self.notes[f"label:{kind[:20]}"] = " ".join(str(name).split())[:160]

    def labels(self) -> dict[str, str]:
        """The names recorded by `name_target`, by kind."""
        return {key[6:]: value for key, value in self.notes.items() if key.startswith("label:")}

    def caveat(self, message: str) -> None:
        """Say, at the end of the answer, something it leaves out (our words only, never upstream text)."""
        self.upstream.caveat(message)

    async def notice(self, level: Level, message: str) -> None:
        """Tell the client's log something notable about this call (our words only)."""
        await self.upstream.notice(level, message)


ProjectCall = Call[ProjectTarget]
AccountCall = Call[AccountTarget]
ProjectOrAccountCall = Call[ProjectTarget | AccountTarget]
ListingCall = Call[Listing]
FeedCall = Call[Feed]
