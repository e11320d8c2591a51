"""Pending approvals: destructive calls from clients that cannot ask their user, waiting for a person.

A row is created by the checkpoint when `BUGWARDEN_CONFIRM=approval` and the client cannot be asked. It is
bound to `digest` (principal, tool and the validated arguments: guard/consent.py), so an approval counts for
exactly the call that asked, once. A person approves or rejects it from the console or the shell; a
rejection also records a decline for the digest, so it binds like a user's no.

    approvals = ApprovalStore(store.state)
    ask = approvals.request(digest, principal_id=..., principal_name=..., tool=..., targets=..., arguments=...,
                            question=...)
    approvals.pending()                      # what a person may decide, oldest first
    approvals.approve(ask.id, "alice")       # or reject(ask.id, "alice"); ApprovalError when it cannot be
    approvals.redeem(digest)                 # the approved call, marked used (None: nothing approved)

States: `pending` -> `approved` -> `used`, or `pending` -> `rejected`; any of pending or approved past
`expires_at` reads as `expired`. An approval lives `ttl` seconds from its request (default 15 minutes), and
again `ttl` seconds from the moment it is approved, so the agent has time to call again.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .database import Database, Transaction

APPROVAL_TTL = 15 * 60.0
DECLINE_TTL = 24 * 3600.0
MAX_PENDING_PER_PRINCIPAL = 20
_SELECT = (
    "SELECT id, digest, principal_id, principal_name, tool, targets, arguments, question, created_at, expires_at, "
    "status, decided_by, decided_at, used_at FROM approvals "
)


class ApprovalError(ValueError):
    """An approval that cannot be decided (unknown, already decided, expired); the message says which."""


def decline_key(digest: str) -> str:
    """How a decline of the call `digest` is stored (shared with guard/consent.py)."""
    return hashlib.sha256(f"decline|{digest}".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Approval:
    id: str
    digest: str
    principal_id: str
    principal_name: str
    tool: str
    targets: dict[str, str]
    arguments: dict[str, Any]
    question: str
    created_at: float
    expires_at: float
    status: str
    decided_by: str | None = None
    decided_at: float | None = None
    used_at: float | None = None

    def state(self, now: float) -> str:
        """`pending`, `approved`, `rejected`, `used` or `expired` (pending or approved past its expiry)."""
        if self.status in ("pending", "approved") and self.expires_at <= now:
            return "expired"
        return self.status

    def as_dict(self, now: float) -> dict[str, Any]:
        return {
            "id": self.id,
            "state": self.state(now),
            "principal_id": self.principal_id,
            "principal_name": self.principal_name,
            "tool": self.tool,
            "targets": self.targets,
            "arguments": self.arguments,
            "question": self.question,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "decided_by": self.decided_by,
            "decided_at": self.decided_at,
            "used_at": self.used_at,
        }


def _row(row: Any) -> Approval:
    return Approval(
        id=str(row[0]),
        digest=str(row[1]),
        principal_id=str(row[2]),
        principal_name=str(row[3]),
        tool=str(row[4]),
        targets=json.loads(row[5]),
        arguments=json.loads(row[6]),
        question=str(row[7]),
        created_at=float(row[8]),
        expires_at=float(row[9]),
        status=str(row[10]),
        decided_by=row[11],
        decided_at=float(row[12]) if row[12] is not None else None,
        used_at=float(row[13]) if row[13] is not None else None,
    )


class ApprovalStore:
    """The approvals table of the state store; every method is one transaction (raises StoreError)."""

    def __init__(self, db: Database, clock: Callable[[], float] = time.time, ttl: float = APPROVAL_TTL) -> None:
        self.db = db
        self.clock = clock
        self.ttl = ttl

    def request(
        self,
        digest: str,
        *,
        principal_id: str,
        principal_name: str,
        tool: str,
        targets: Mapping[str, str],
        arguments: Mapping[str, Any],
        question: str,
    ) -> Approval:
        """The open approval for the call `digest`: the one already pending (or approved and unused), else a new
        pending one. A principal with MAX_PENDING_PER_PRINCIPAL pending approvals gets ApprovalError."""
        now = self.clock()
        with self.db.transaction(write=True) as tx:
            found = self._open(tx, digest, now)
            if found is not None:
                return found
            (waiting,) = tx.execute(
                "SELECT COUNT(*) FROM approvals WHERE principal_id = ? AND status = 'pending' AND expires_at > ?",
                (principal_id, now),
            ).fetchone()
            if int(waiting) >= MAX_PENDING_PER_PRINCIPAL:
                raise ApprovalError(
                    f"this agent already has {MAX_PENDING_PER_PRINCIPAL} changes waiting for approval: wait for a "
                    "person to decide them"
                )
            approval = Approval(
                id="apv_" + secrets.token_hex(6),
                digest=digest,
                principal_id=principal_id[:200],
                principal_name=principal_name[:200],
                tool=tool[:100],
                targets=dict(targets),
                arguments=dict(arguments),
                question=question[:500],
                created_at=now,
                expires_at=now + self.ttl,
                status="pending",
            )
            tx.execute(
                "INSERT INTO approvals (id, digest, principal_id, principal_name, tool, targets, arguments, question, "
                "created_at, expires_at, status, decided_by, decided_at, used_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    approval.id,
                    digest,
                    approval.principal_id,
                    approval.principal_name,
                    approval.tool,
                    json.dumps(approval.targets, sort_keys=True),
                    json.dumps(approval.arguments, sort_keys=True, default=str),
                    approval.question,
                    now,
                    approval.expires_at,
                    "pending",
                    None,
                    None,
                    None,
                ),
            )
            tx.execute(  # forget what ended long ago (decided, used or expired more than a day back)
                "DELETE FROM approvals WHERE expires_at < ? AND status <> 'pending'", (now - DECLINE_TTL,)
            )
            return approval

    def _open(self, tx: Transaction, digest: str, now: float) -> Approval | None:
        row = tx.execute(
            _SELECT + "WHERE digest = ? AND status IN ('pending', 'approved') "
            "AND expires_at > ? ORDER BY created_at DESC LIMIT 1",
            (digest, now),
        ).fetchone()
        return _row(row) if row is not None else None

    def get(self, approval_id: str) -> Approval | None:
        with self.db.transaction() as tx:
            row = tx.execute(_SELECT + "WHERE id = ?", (approval_id,)).fetchone()
        return _row(row) if row is not None else None

    def pending(self, limit: int = 200) -> list[Approval]:
        """Approvals a person may still decide, oldest first."""
        with self.db.transaction() as tx:
            rows = tx.execute(
                _SELECT + "WHERE status = 'pending' AND expires_at > ? ORDER BY created_at, id LIMIT ?",
                (self.clock(), limit),
            ).fetchall()
        return [_row(r) for r in rows]

    def recent(self, limit: int = 50) -> list[Approval]:
        """The latest approvals in any state, newest first (for a history view)."""
        with self.db.transaction() as tx:
            rows = tx.execute(_SELECT + "ORDER BY created_at DESC, id DESC LIMIT ?", (limit,)).fetchall()
        return [_row(r) for r in rows]

    def approve(self, approval_id: str, approver: str) -> Approval:
        """Approve a pending approval (it then lives `ttl` more seconds for the agent to call again)."""
        return self._decide(approval_id, approver, "approved")

    def reject(self, approval_id: str, approver: str) -> Approval:
        """Reject a pending approval; the call it stood for is declined, as if its user had said no."""
        return self._decide(approval_id, approver, "rejected")

    def _decide(self, approval_id: str, approver: str, status: str) -> Approval:
        approver = approver.strip()[:200]
        if not approver:
            raise ApprovalError("an approval needs the approver's name")
        now = self.clock()
        with self.db.transaction(write=True) as tx:
            row = tx.execute(_SELECT + "WHERE id = ?", (approval_id,)).fetchone()
            if row is None:
                raise ApprovalError(f"no approval {approval_id[:40]!r}: see `bugwarden approvals list`")
            current = _row(row)
            state = current.state(now)
            if state != "pending":
                raise ApprovalError(f"approval {current.id} is {state}, not pending: nothing was changed")
            expires = now + self.ttl if status == "approved" else current.expires_at
            tx.execute(
                "UPDATE approvals SET status = ?, decided_by = ?, decided_at = ?, expires_at = ? "
                "WHERE id = ? AND status = 'pending'",
                (status, approver, now, expires, current.id),
            )
            if status == "rejected":
                key = decline_key(current.digest)
                tx.execute("DELETE FROM declines WHERE digest = ?", (key,))
                tx.execute("INSERT INTO declines (digest, expires_at) VALUES (?, ?)", (key, now + DECLINE_TTL))
        return Approval(
            **{**_fields(current), "status": status, "decided_by": approver, "decided_at": now, "expires_at": expires}
        )

    def redeem(self, digest: str) -> Approval | None:
        """The approved, unexpired approval for the call `digest`, marked used (single-use: of several callers
        racing, one gets it); None when there is none."""
        now = self.clock()
        with self.db.transaction(write=True) as tx:
            row = tx.execute(
                _SELECT + "WHERE digest = ? AND status = 'approved' AND expires_at > ? ORDER BY decided_at LIMIT 1",
                (digest, now),
            ).fetchone()
            if row is None:
                return None
            approval = _row(row)
            used = tx.execute(
                "UPDATE approvals SET status = 'used', used_at = ? WHERE id = ? AND status = 'approved'",
                (now, approval.id),
            )
            if used.rowcount != 1:
                return None
        return Approval(**{**_fields(approval), "status": "used", "used_at": now})

    def rejected(self, digest: str) -> Approval | None:
        """The latest rejection of the call `digest`, if a person rejected it."""
        with self.db.transaction() as tx:
            row = tx.execute(
                _SELECT + "WHERE digest = ? AND status = 'rejected' ORDER BY decided_at DESC LIMIT 1",
                (digest,),
            ).fetchone()
        return _row(row) if row is not None else None


def _fields(approval: Approval) -> dict[str, Any]:
    return {name: getattr(approval, name) for name in Approval.__slots__}
