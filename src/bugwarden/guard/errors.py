"""How the checkpoint says no."""

from __future__ import annotations

from ..errors import BugwardenError
from .principal import Principal

STORE_UNAVAILABLE = (
    "refused: bugwarden's state store (tokens, audit log) is unavailable, so nothing was done; try again shortly. "
    "An operator must check the bugwarden database."
)


class Refusal(BugwardenError):
    """A call the checkpoint will not run. `decision` is `denied` (policy) or `invalid` (the arguments);
    `str()` is the message for the agent, which never names what the caller may not see."""

    def __init__(
        self, decision: str, message: str, *, principal: Principal | None = None, outcome: str | None = None
    ) -> None:
        super().__init__(message)
        self.decision = decision
        self.message = message
        self.principal = principal
        self.outcome = outcome or ("denied" if decision == "denied" else "invalid_argument")


def denied(message: str) -> Refusal:
    return Refusal("denied", message)


def invalid(message: str) -> Refusal:
    return Refusal("invalid", message)
