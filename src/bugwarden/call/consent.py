"""The consent a destructive tool receives (the guard asks for it: guard/approval.py)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Consent:
    """`given`, or not: `how` is 'not needed', 'user approved', 'confirmation code', 'approved by <person>',
    'preview', 'awaiting approval' or 'declined'; a preview carries the `code` that confirms exactly this call,
    a change awaiting approval its `approval` id and where a person decides it (`approve_at`).

    A tool that changes data declares a parameter typed `Consent` and branches on `given`; whether a question is
    needed comes from its registration (`ask`), and the checkpoint fills the parameter."""

    given: bool
    how: str
    code: str | None = None
    approval: str | None = None
    approve_at: str | None = None
