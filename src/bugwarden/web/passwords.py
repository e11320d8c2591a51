"""Password hashing: argon2id (memory-hard), with argon2-cffi's RFC 9106 low-memory profile (64 MiB, 3 passes).

A check against a name that does not exist costs the same as one against a real hash, so the time a sign-in
takes does not tell whether the name is known.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 12
MAX_LENGTH = 1024
_HASHER = PasswordHasher()
_dummy: dict[str, str] = {}


def _dummy_hash() -> str:
    """A hash made with the current parameters, checked when the name is unknown."""
    params = repr(_HASHER)
    if params not in _dummy:
        _dummy[params] = _HASHER.hash("bugwarden: no such person, but take as long as if there were")
    return _dummy[params]


class PasswordError(ValueError):
    """A new password does not meet the policy; the message says what to change."""


def check_policy(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise PasswordError(f"the password must have at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise PasswordError(f"the password must have at most {MAX_LENGTH} characters")


def hash_password(password: str) -> str:
    """An argon2id hash of a password that meets the policy (raises PasswordError)."""
    check_policy(password)
    return _HASHER.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """Whether `password` matches `stored` (None: no such person; checked against a dummy hash all the same)."""
    if len(password) > MAX_LENGTH:
        return False
    try:
        return _HASHER.verify(stored or _dummy_hash(), password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
