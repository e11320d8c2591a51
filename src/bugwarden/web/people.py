"""People: who may sign in, the most each may grant an agent, and their passwords (argon2id).

people = People(store.tokens)
person = people.add("ada", "a long passphrase", bundle="triage", projects=["p1"], admin=False)
people.authenticate("ada", "a long passphrase")   # -> Person, or None
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ..guard.scopes import BUNDLES
from ..store import Database
from ..store.people import NameTaken, PeopleRepository, Person
from .passwords import hash_password, verify_password

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
BUNDLE_ORDER = ("read", "triage", "admin")


class PersonError(ValueError):
    """A person cannot be added or changed as asked; the message says why."""


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise PersonError(
            f"{name[:80]!r} is not a usable name: use 1 to 64 letters, digits, '.', '_', '@' or '-', "
            "starting with a letter or digit"
        )
    return name


def _taken(name: str, existing: str) -> str:
    if existing == name:
        return f"there is already a person named {name!r}: see `bugwarden user list`"
    return (
        f"there is already a person named {existing!r}, and {name!r} reads the same (names must differ by more "
        "than case or look-alike letters): see `bugwarden user list`"
    )


def bundles_up_to(bundle: str) -> tuple[str, ...]:
    """The bundles a person whose own bundle is `bundle` may grant: theirs and the ones below it."""
    return BUNDLE_ORDER[: BUNDLE_ORDER.index(bundle) + 1]


class People:
    """The people table, with password hashing and the rules on names and bundles."""

    def __init__(self, db: Database) -> None:
        self.repo = PeopleRepository(db)

    def add(
        self, name: str, password: str, *, bundle: str = "read", projects: Iterable[str] = (), admin: bool = False
    ) -> Person:
        """Add a person (raises PersonError for a bad or taken name or bundle, PasswordError for a weak password)."""
        check_name(name)
        if bundle not in BUNDLES:
            raise PersonError(f"unknown bundle {bundle!r}: choose from {', '.join(BUNDLE_ORDER)}")
        digest = hash_password(password)
        try:
            person = self.repo.add(name, digest, bundle, frozenset(p.strip() for p in projects if p.strip()), admin)
        except NameTaken as taken:
            raise PersonError(_taken(name, taken.existing)) from None
        if person is None:
            raise PersonError(f"{name!r} could not be added: see `bugwarden user list`")
        return person

    def get(self, name: str) -> Person | None:
        return self.repo.get(name)

    def list(self) -> list[Person]:
        return self.repo.list()

    def remove(self, name: str) -> None:
        if not self.repo.remove(name):
            raise PersonError(f"no person named {name!r}: see `bugwarden user list`")

    def set_password(self, name: str, password: str) -> None:
        digest = hash_password(password)
        if not self.repo.set_password(name, digest):
            raise PersonError(f"no person named {name!r}: see `bugwarden user list`")

    def authenticate(self, name: str, password: str) -> Person | None:
        """The person if the password is theirs; None otherwise (the same work either way)."""
        found = self.repo.credentials(name) if _NAME.match(name) else None
        ok = verify_password(found[1] if found else None, password)
        return found[0] if found and ok else None
