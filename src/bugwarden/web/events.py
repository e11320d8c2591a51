"""Audit records for what people do on the pages and what the authorization server does: the same hash-chained
log as tool calls, with `transport` "web" and the person as principal (`principal_id` `person:NAME`)."""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import Any

import anyio.to_thread

from ..guard.audit import AuditLog, AuditRecord
from ..guard.principal import Principal


def person_principal(name: str, client_id: str | None = None) -> Principal:
    """A person acting on the pages (`client_id`: the OAuth client their action concerns)."""
    return Principal(
        id=f"person:{name[:100]}",
        name=name[:100],
        scopes=frozenset(),
        transport="web",
        person=name[:100],
        client_id=client_id[:300] if client_id else None,
    )


def audit_event_sync(
    audit: AuditLog,
    action: str,
    *,
    person: str,
    decision: str,
    reason: str,
    outcome: str,
    client: str | None = None,
    details: dict[str, Any] | None = None,
    transport: str = "web",
) -> None:
    """`audit_event` for code outside an event loop (the CLI: `transport` "cli")."""
    record = AuditRecord.start(
        principal=person_principal(person, client),
        client=(None, None),
        transport=transport,
        tool=action,
        arguments=details or {},
    )
    audit.append(asdict(replace(record, decision=decision, reason=reason, outcome=outcome)))


async def audit_event(
    audit: AuditLog,
    action: str,
    *,
    person: str,
    decision: str,
    reason: str,
    outcome: str,
    client: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Append one record: `action` (e.g. `sign_in`, `grant.issued`) in the `tool` field, who, and what happened.
    Raises AuditError when the log cannot record (callers refuse what they were about to do)."""
    record = AuditRecord.start(
        principal=person_principal(person),
        client=(client, None),
        transport="web",
        tool=action,
        arguments=details or {},
    )
    record = replace(record, decision=decision, reason=reason, outcome=outcome)
    await anyio.to_thread.run_sync(audit.append, asdict(record))
