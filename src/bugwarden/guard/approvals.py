"""Approvals as a person decides them: list what waits, approve or reject it, every decision audited.

The console's Approvals page and `bugwarden approvals list|approve|reject` both use `ApprovalDesk`; the
checkpoint uses the same desk to create a pending approval and to redeem an approved one (guard/approval.py).

    desk = ApprovalDesk(ApprovalStore(store.state), AuditLog.for_store(store, state_key))
    desk.pending()                               # [Approval, ...], oldest first
    desk.get("apv_…")                            # one, in any state (None: unknown)
    desk.approve("apv_…", "alice", via="console")   # raises ApprovalError when it is not pending
    desk.reject("apv_…", "alice", via="cli")

Each decision (and each refused attempt to decide) has an intent record before it and an outcome record
after: tool `approvals:approve` or `approvals:reject`, principal `person:<name>`, the approval's targets, and
the call it was for.
"""

from __future__ import annotations

import logging
import time

from ..store.approvals import Approval, ApprovalError, ApprovalStore
from .audit import AuditLog, AuditRecord
from .principal import Principal

log = logging.getLogger("bugwarden")

POLICIES = ("approval", "code")


class ApprovalDesk:
    def __init__(self, store: ApprovalStore, audit: AuditLog) -> None:
        self.store = store
        self.audit = audit

    def pending(self) -> list[Approval]:
        return self.store.pending()

    def recent(self, limit: int = 50) -> list[Approval]:
        return self.store.recent(limit)

    def get(self, approval_id: str) -> Approval | None:
        return self.store.get(approval_id)

    def approve(self, approval_id: str, approver: str, *, via: str = "cli") -> Approval:
        """Approve a pending approval as `approver` (a person's name); audited. Raises ApprovalError."""
        return self._decide("approve", approval_id, approver, via)

    def reject(self, approval_id: str, approver: str, *, via: str = "cli") -> Approval:
        """Reject a pending approval as `approver`; the call is then declined. Audited. Raises ApprovalError."""
        return self._decide("reject", approval_id, approver, via)

    def _decide(self, action: str, approval_id: str, approver: str, via: str) -> Approval:
        started = time.monotonic()
        person = Principal(id=f"person:{approver.strip()[:100]}", name=approver.strip()[:100], scopes=frozenset())
        record = AuditRecord.start(
            principal=person,
            client=(via, None),
            transport=via,
            tool=f"approvals:{action}",
            arguments={"approval_id": approval_id[:60]},
        )
        self.audit.write_intent(record.allowed(f"{action} requested"))  # no unrecorded decision (AuditError)
        try:
            decided = (self.store.approve if action == "approve" else self.store.reject)(approval_id, approver)
        except ApprovalError as exc:
            self.audit.finish(record.refused("invalid", str(exc)), started)
            raise
        word = "approved" if action == "approve" else "rejected"
        record = record.targeting(
            None,
            decided.targets,
            {
                "approval_id": decided.id,
                "for_tool": decided.tool,
                "for_principal": decided.principal_name,
                "for_principal_id": decided.principal_id,
            },
        )
        reason = f"{word} by {decided.decided_by}"
        self.audit.finish(record.allowed(reason).finished("ok", consent=reason), started)
        return decided
