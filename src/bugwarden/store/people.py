"""People who sign in to bugwarden's pages, and their browser sessions (in the tokens database, so every replica
sharing a PostgreSQL database knows them).

A person has a password hash (made and checked outside the store), the most they may grant an agent (`bundle`),
the projects they may grant (empty: all) and whether they may use the console's team pages (`admin`).
A browser session is stored only as the SHA-256 of its cookie value, so a copy of the database signs no one in.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .database import Database


@dataclass(frozen=True, slots=True)
class Person:
    """Someone who signs in. `projects` empty means every project."""

    name: str
    bundle: str
    projects: frozenset[str]
    admin: bool
    created_at: str

    def allows_project(self, project_id: str) -> bool:
        return not self.projects or project_id in self.projects


def _person(row: Any) -> Person:
    return Person(str(row[0]), str(row[1]), frozenset(json.loads(row[2])), bool(row[3]), str(row[4]))


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


_SELECT = "SELECT name, bundle, projects, admin, created_at"
_LOOKALIKES = str.maketrans({"0": "o", "1": "l", "i": "l", "|": "l"})


def name_key(name: str) -> str:
    """What two names that read alike have in common: case folded (`Ada`, `ADA` and `ada` are one name), and the
    look-alikes a name may be written with read as one letter (`0` as `o`; `1`, `I` and `i` as `l`; `rn` as `m`,
    `vv` as `w`), so that nobody can be added as `adrnin` beside `admin` and pass for them in the audit log."""
    folded = unicodedata.normalize("NFKC", name).casefold()
    return folded.replace("rn", "m").replace("vv", "w").translate(_LOOKALIKES)


class NameTaken(Exception):
    """A person with this name, or one that reads the same (`name_key`), exists: `existing` is their name."""

    def __init__(self, existing: str) -> None:
        super().__init__(existing)
        self.existing = existing


class PeopleRepository:
    """The `people` and `web_sessions` tables."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, name: str, password_hash: str, bundle: str, projects: frozenset[str], admin: bool) -> Person | None:
        """Store a new person; raises NameTaken if the name, or one that reads the same, is taken (checked in the
        write transaction, which every replica takes one at a time)."""
        now = datetime.now(UTC).isoformat()
        key = name_key(name)
        with self.db.transaction(write=True) as tx:
            for (existing,) in tx.execute("SELECT name FROM people").fetchall():
                if name_key(str(existing)) == key:
                    raise NameTaken(str(existing))
            tx.execute(
                "INSERT INTO people (name, password_hash, bundle, projects, admin, created_at, password_changed_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (name, password_hash, bundle, json.dumps(sorted(projects)), int(admin), now, now),
            )
        return self.get(name)

    def get(self, name: str) -> Person | None:
        with self.db.transaction() as tx:
            row = tx.execute(_SELECT + " FROM people WHERE name = ?", (name,)).fetchone()
        return _person(row) if row else None

    def credentials(self, name: str) -> tuple[Person, str] | None:
        """The person and their password hash, for checking a sign-in."""
        with self.db.transaction() as tx:
            row = tx.execute(_SELECT + ", password_hash FROM people WHERE name = ?", (name,)).fetchone()
        return (_person(row), str(row[5])) if row else None

    def list(self) -> list[Person]:
        with self.db.transaction() as tx:
            rows = tx.execute(_SELECT + " FROM people ORDER BY name").fetchall()
        return [_person(r) for r in rows]

    def remove(self, name: str) -> bool:
        """Delete a person and end their browser sessions; False if there was no such person."""
        with self.db.transaction(write=True) as tx:
            gone = tx.execute("DELETE FROM people WHERE name = ?", (name,)).rowcount
            tx.execute("DELETE FROM web_sessions WHERE person = ?", (name,))
        return gone == 1

    def set_password(self, name: str, password_hash: str) -> bool:
        """Replace a person's password hash and end their browser sessions; False if there is no such person."""
        with self.db.transaction(write=True) as tx:
            changed = tx.execute(
                "UPDATE people SET password_hash = ?, password_changed_at = ? WHERE name = ?",
                (password_hash, datetime.now(UTC).isoformat(), name),
            ).rowcount
            tx.execute("DELETE FROM web_sessions WHERE person = ?", (name,))
        return changed == 1

    # -- browser sessions ----------------------------------------------------------------------------------

    def open_session(self, secret: str, person: str, now: float, lifetime: float) -> None:
        with self.db.transaction(write=True) as tx:
            tx.execute("DELETE FROM web_sessions WHERE expires_at < ?", (now,))
            tx.execute(
                "INSERT INTO web_sessions (id_hash, person, created_at, expires_at) VALUES (?, ?, ?, ?)",
                (_digest(secret), person, now, now + lifetime),
            )

    def session_person(self, secret: str, now: float) -> Person | None:
        """The person a live session cookie belongs to (None: unknown, expired, or the person was removed)."""
        with self.db.transaction() as tx:
            row = tx.execute(
                "SELECT p.name, p.bundle, p.projects, p.admin, p.created_at FROM web_sessions s "
                "JOIN people p ON p.name = s.person WHERE s.id_hash = ? AND s.expires_at > ?",
                (_digest(secret), now),
            ).fetchone()
        return _person(row) if row else None

    def close_session(self, secret: str) -> None:
        with self.db.transaction(write=True) as tx:
            tx.execute("DELETE FROM web_sessions WHERE id_hash = ?", (_digest(secret),))
