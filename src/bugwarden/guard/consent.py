"""Confirmations that belong to the human where a human can be asked.

A client that can elicit gets a question for its user, and only the user's answer counts. A client
that cannot ask gets a preview and a confirmation code: the code is valid once, for a few minutes,
for the exact call it previewed (same principal, tool and arguments), and never after a user
declined that call. Codes are signed, so replicas sharing a key honour each other's; used codes and
declines are recorded in the store.

    digest = call_digest(principal_id, tool, arguments)
    code = book.issue(digest)        # shown with the preview (raises Refusal if a user declined this call)
    book.redeem(code, digest)        # raises Refusal, or returns: go ahead
    book.decline(digest)             # the user said no: no code is issued or accepted for it for a day
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Callable
from typing import Any

from ..store import Database
from ..store.consent import ConsentRepository, consent_repository
from .errors import invalid

CODE_TTL = 300.0
CLOCK_SKEW = 30.0
"""How far ahead a replica's clock may be when it issues a code that another replica redeems."""
_CODE = re.compile(r"^cf_([0-9a-f]{1,12})_([0-9a-f]{12})_([0-9a-f]{32})$")


def call_digest(principal_id: str, tool: str, arguments: dict[str, Any]) -> str:
    """What a confirmation, a decline or an approval is bound to: who, which tool, and the validated arguments
    (without `confirm`, and without arguments left unset). Multiplexed tools refuse any argument their operation
    does not take before this is computed, so the digest covers exactly what would be sent."""
    body = {k: v for k, v in arguments.items() if k != "confirm" and v is not None}
    canonical = json.dumps([principal_id, tool, body], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


class ConsentBook:
    """Issues and redeems confirmation codes; used codes and declines are kept in the store's consent repository
    (store/consent.py)."""

    def __init__(self, db: Database, key: Callable[[], bytes], clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.records: ConsentRepository = consent_repository(db)
        self._key = key
        self._clock = clock

    def _mac(self, expires: int, nonce: str, digest: str) -> str:
        return hmac.new(self._key(), f"{expires}|{nonce}|{digest}".encode(), hashlib.sha256).hexdigest()[:32]

    def issue(self, digest: str) -> str:
        """A fresh code for the previewed call `digest` (raises Refusal if a user declined that call)."""
        if self.declined(digest):
            raise invalid("the user declined this change when asked; it will not be made without asking again")
        expires = int(self._clock() + CODE_TTL)
        nonce = secrets.token_hex(6)
        return f"cf_{expires:x}_{nonce}_{self._mac(expires, nonce, digest)}"

    def redeem(self, code: str, digest: str) -> None:
        """Accept `code` for the call `digest` once; otherwise raise Refusal saying why."""
        m = _CODE.match(code.strip())
        if not m:
            raise invalid(
                "confirm must be the confirmation code from this call's preview (it starts with 'cf_'): call "
                "again without confirm to see what would change and get one"
            )
        expires, nonce, mac = int(m.group(1), 16), m.group(2), m.group(3)
        if not hmac.compare_digest(mac, self._mac(expires, nonce, digest)):
            raise invalid(
                "this confirmation code belongs to a different preview (another tool, other arguments or another "
                "agent): nothing was changed; call again without confirm for a fresh preview"
            )
        now = self._clock()
        if expires <= now:
            raise invalid("this confirmation code has expired: call again without confirm for a fresh preview")
        if expires > now + CODE_TTL + CLOCK_SKEW:
            # Only a clock far ahead (or a leaked key) makes a code that outlives its lifetime: never honour one.
            raise invalid(
                "this confirmation code claims to stay valid longer than any code does, so it is refused: call "
                "again without confirm for a fresh preview"
            )
        if self.declined(digest):
            raise invalid("the user declined this change when asked; it will not be made without asking again")
        if not self.records.use(nonce, float(expires), now):
            raise invalid("this confirmation code was already used: call again without confirm for a fresh preview")

    def decline(self, digest: str) -> None:
        """Record that a user said no to the call `digest`: no code will be issued or accepted for it."""
        self.records.decline(digest, self._clock())

    def declined(self, digest: str) -> bool:
        return self.records.declined(digest, self._clock())
