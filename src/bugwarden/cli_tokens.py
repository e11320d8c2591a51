"""What `bugwarden token create|revoke` adds around the token store: the projects checked, and the change audited.

Each creation or revocation has an intent record before it (a change the log cannot record is not made) and an
outcome record after, with the operating-system user as the actor; never the secret.
"""

from __future__ import annotations

import argparse
import getpass
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from .config import Settings
from .guard.audit import AuditLog, AuditRecord
from .guard.principal import Principal
from .store import Store


def add_create_args(create: argparse.ArgumentParser) -> None:
    create.add_argument(
        "--skip-project-check",
        action="store_true",
        help="do not ask the configured trackers whether each --project exists (for example while offline)",
    )


def checked_projects(settings: Settings, projects: Sequence[str], skip: bool) -> list[str]:
    """`projects` stripped; an empty one refused; with a tracker configured (and no `skip`), unknown ones refused.
    Raises ProjectCheckError."""
    import anyio

    from .project_check import ProjectCheckError, require_named, unknown_projects

    names = require_named(projects)
    if not names or skip:
        return names
    if not settings.backends:
        print(
            "bugwarden: no tracker is configured here, so the projects were not checked: make sure "
            + ", ".join(names)
            + " are the ids list_projects shows",
            file=sys.stderr,
        )
        return names
    unknown = anyio.run(unknown_projects, settings, names)
    if unknown:
        raise ProjectCheckError(
            f"unknown project{'s' if len(unknown) > 1 else ''} {', '.join(repr(u[:60]) for u in unknown[:5])}: no "
            "configured tracker lists it; use an id from list_projects (or `bugwarden doctor`)"
        )
    return names


def actor() -> Principal:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return Principal(id=f"os:{user[:100]}", name=user[:100], scopes=frozenset(), transport="cli")


@contextmanager
def audited(store: Store, settings: Settings, action: str, details: dict[str, Any]) -> Iterator[Callable[..., None]]:
    """Record the intent of `action` (raises AuditError: then nothing is done), run the block, record its outcome.
    The block calls `done(token_id=..., **more details)` once the change is made."""
    audit = AuditLog.for_store(store, settings.state_key.reveal() if settings.state_key else None)
    started = time.monotonic()
    record = AuditRecord.start(
        principal=actor(), client=("bugwarden cli", None), transport="cli", tool=action, arguments=details
    ).allowed("operator at the shell")
    audit.write_intent(record)
    outcome: dict[str, Any] = {}

    def done(**more: Any) -> None:
        outcome.update(more)

    try:
        yield done
    except Exception as exc:
        audit.finish(record.refused("invalid", str(exc)[:300]), started)
        raise
    targets = {"token_id": str(outcome["token_id"])} if "token_id" in outcome else {}
    audit.finish(record.targeting(None, targets, {**details, **outcome}).finished("ok"), started)
