"""Opaque pagination cursors.

Upstream `Link: rel="next"` URLs never reach an agent. We keep the path and query of the next
page, bound to the backend and to the credential that produced it, and hand out a signed,
base64url token. A cursor that was edited, or that belongs to another backend or token, is
refused; a decoded cursor can only ever point under the configured base URL.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets

from .errors import InvalidArgument

_PROCESS_KEY = secrets.token_bytes(32)


class CursorCodec:
    """Encodes and verifies cursors for one upstream client (one backend, one credential)."""

    def __init__(self, scope: str, key: bytes = _PROCESS_KEY) -> None:
        self._key = hmac.new(key, scope.encode(), hashlib.sha256).digest()

    def encode(self, relative_url: str) -> str:
        body = json.dumps({"u": relative_url}, separators=(",", ":")).encode()
        tag = hmac.new(self._key, body, hashlib.sha256).digest()[:16]
        return base64.urlsafe_b64encode(tag + body).decode().rstrip("=")

    def decode(self, cursor: str) -> str:
        """Return the relative URL inside `cursor`, or raise InvalidArgument."""
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            tag, body = raw[:16], raw[16:]
            if not hmac.compare_digest(tag, hmac.new(self._key, body, hashlib.sha256).digest()[:16]):
                raise ValueError("bad tag")
            url = json.loads(body)["u"]
            if not isinstance(url, str) or not url.startswith("/") or url.startswith("//"):
                raise ValueError("bad url")
        except (ValueError, KeyError, TypeError):
            raise InvalidArgument(
                "cursor is not valid here: pass the next_cursor from the previous page unchanged, "
                "with the same tool and arguments"
            ) from None
        return url
