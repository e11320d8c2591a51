"""Opaque pagination cursors, signed and bound to the call that produced them.

A backend's next-page position (a relative URL of the upstream API) never reaches an agent as is.
The agent gets a signed token that is valid only for the same principal, tool, backend and
project (or organization) it came from, for a day. Anything else is refused before a request is
made, so a cursor can neither be edited nor replayed by another token or against another project.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable

from .errors import invalid

CURSOR_TTL = 24 * 3600.0


def binding(principal_id: str, tool: str, backend: str, scope: str) -> str:
    """What a cursor is bound to; `scope` is the project or organization id ('' for none)."""
    return json.dumps([principal_id, tool, backend, scope], separators=(",", ":"))


class CursorCodec:
    def __init__(self, key: Callable[[], bytes], clock: Callable[[], float] = time.time) -> None:
        self._key = key
        self._clock = clock

    def _tag(self, body: bytes, bound_to: str) -> bytes:
        return hmac.new(self._key(), body + b"\n" + bound_to.encode(), hashlib.sha256).digest()[:16]

    def encode(self, position: str, bound_to: str) -> str:
        body = json.dumps({"p": position, "x": int(self._clock() + CURSOR_TTL)}, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(self._tag(body, bound_to) + body).decode().rstrip("=")

    def decode(self, cursor: str, bound_to: str) -> str:
        """The position inside `cursor`, or Refusal when it was edited, expired, or minted for another call."""
        bad = invalid("cursor is not a bugwarden cursor: pass next_cursor from the previous page unchanged")
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        except (ValueError, TypeError):
            raise bad from None
        tag, body = raw[:16], raw[16:]
        if len(raw) <= 16:
            raise bad
        # The signature is checked before anything of the body is parsed: a forged body is never read.
        if not hmac.compare_digest(tag, self._tag(body, bound_to)):
            raise invalid(
                "this cursor came from another call (a different tool, project or agent token): start again "
                "without a cursor"
            )
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            raise bad from None
        if not isinstance(data, dict) or not isinstance(data.get("p"), str) or not isinstance(data.get("x"), int):
            raise bad
        if data["x"] <= self._clock():
            raise invalid("this cursor has expired: start again without a cursor")
        return str(data["p"])
