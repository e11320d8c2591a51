"""BugSnag's error operations, written once: what each takes, and which tool offers it.

`update_error` and `bulk_update_errors` take their `operation` (and `reopen_if`) choices from these tables, and
both check a call's arguments against them, so an operation or a snooze rule is added in one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ..backends.errors import InvalidArgument

SNOOZE_COMPANIONS: dict[str, tuple[str, ...]] = {
    "occurs_after": ("seconds",),
    "n_occurrences_in_m_hours": ("occurrences", "hours"),
    "n_additional_occurrences": ("additional_occurrences",),
    "n_additional_users": ("additional_users",),
}
"""Each snooze rule (`reopen_if`) and the arguments it needs."""


@dataclass(frozen=True, slots=True)
class Operation:
    takes: tuple[str, ...] = ()
    """The arguments the operation takes beyond the error(s) and project (snooze: and its rule's companions)."""
    single: bool = True
    """Offered by update_error."""
    bulk: bool = True
    """Offered by bulk_update_errors."""


OPERATIONS: dict[str, Operation] = {
    "open": Operation(),
    "fix": Operation(single=False),  # one error: resolve_error
    "ignore": Operation(),
    "snooze": Operation(("reopen_if",)),
    "override_severity": Operation(("severity",)),
    "assign": Operation(("assigned_collaborator_id", "assigned_team_id")),
    "create_issue": Operation(("issue_title", "notification_id"), bulk=False),
    "link_issue": Operation(("issue_url", "notification_id"), bulk=False),
    "unlink_issue": Operation(),
    "discard": Operation(),
    "undiscard": Operation(),
    "delete": Operation(single=False),  # one error: delete_error
}

if TYPE_CHECKING:
    UpdateOperation = str
    BulkOperation = str
    ReopenIf = str
else:  # the tools' schemas list exactly the tables' names
    UpdateOperation = Literal[tuple(name for name, op in OPERATIONS.items() if op.single)]
    BulkOperation = Literal[tuple(name for name, op in OPERATIONS.items() if op.bulk)]
    ReopenIf = Literal[tuple(SNOOZE_COMPANIONS)]

BUGPORT_FIELDS = ("status", "severity")
OPERATION_FIELDS = tuple(
    sorted(
        {*BUGPORT_FIELDS, *(n for c in SNOOZE_COMPANIONS.values() for n in c)}.union(
            *(op.takes for op in OPERATIONS.values())
        )
    )
)
"""Every argument that belongs to one operation or another: given to any other operation it is refused."""


def chosen(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The operation and its arguments among a call's arguments, by name."""
    return {name: arguments[name] for name in ("operation", *OPERATION_FIELDS) if name in arguments}


def operation_takes(operation: str, args: Mapping[str, Any]) -> tuple[str, ...]:
    """The arguments `operation` takes given the others (snooze takes the companions of its reopen_if)."""
    takes = OPERATIONS[operation].takes if operation in OPERATIONS else ()
    if operation == "snooze" and args.get("reopen_if") in SNOOZE_COMPANIONS:
        takes = takes + SNOOZE_COMPANIONS[args["reopen_if"]]
    return takes


def refuse_foreign(args: Mapping[str, Any], takes: tuple[str, ...], what: str) -> None:
    """Refuse operation arguments that `what` does not take (named in the message), so that nothing the
    call carries is silently dropped and a confirmation binds to exactly what would be sent."""
    foreign = [n for n in OPERATION_FIELDS if args.get(n) is not None and n not in takes]
    if foreign:
        verb = "does" if len(foreign) == 1 else "do"
        raise InvalidArgument(
            f"{', '.join(foreign)} {verb} not belong to {what}, which takes "
            + (", ".join(takes) if takes else "no further arguments")
            + ": leave "
            + ("it" if len(foreign) == 1 else "them")
            + " out"
        )
