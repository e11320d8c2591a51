"""The one root of bugwarden's own exceptions, and the small tree under it.

    BugwardenError
    ├── Refusal          guard/errors.py: the checkpoint will not run a call (`denied` or `invalid`)
    ├── BackendError     backends/errors.py: an upstream failure, or input refused before any request
    │   └── ...          (InvalidArgument, UpstreamError, TransportError, QuotaUnavailable: see there)
    ├── StoreError       store/database.py: the state store could not be used
    │   └── AuditError   guard/audit.py: the audit log could not record
    └── ConfigError, TokenError, ScopeError: a setting, token or scope list a person gave is wrong

Every member says how a call that ended in it is audited (`outcome`): the checkpoint maps the tree to outcomes
in one table (`OUTCOMES` in `guard/checkpoint.py`), by class, never by a class's name.
"""

from __future__ import annotations


class BugwardenError(Exception):
    """Base of every failure bugwarden raises on purpose. `outcome` is the audit record's outcome label (a class
    says it once; a refusal carries its own)."""

    outcome: str = "failed"
