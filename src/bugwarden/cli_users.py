"""`bugwarden user add|list|remove|passwd`: the people who sign in to bugwarden's pages.

Passwords are read from stdin (`--password-stdin`), never from the command line, where other users of the
machine and the shell history would see them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from .config import Settings


def register(sub: Any, new: Callable[..., argparse.ArgumentParser], database_arg: Callable[..., None]) -> None:
    """Add the `user` command to the `bugwarden` parser (`new` and `database_arg` are cli.py's helpers)."""
    user = new(sub, "user", "add, list, remove people who sign in (OAuth consent, console), or set a password")
    usub = user.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = new(usub, "add", "add a person; the password is read from stdin")
    add.add_argument("name", help="the name they sign in with")
    add.add_argument(
        "--bundle", choices=["read", "triage", "admin"], default="read", help="the most they may grant an agent"
    )
    add.add_argument(
        "--project", action="append", default=[], help="a project they may grant (repeatable; default: all)"
    )
    add.add_argument("--admin", action="store_true", help="may use the console's team pages")
    add.add_argument("--password-stdin", action="store_true", required=True, help="read the password from stdin")
    database_arg(add)
    database_arg(new(usub, "list", "list people (never passwords)"))
    remove = new(usub, "remove", "remove a person; ends their browser sessions and revokes their agents' grants")
    remove.add_argument("name")
    database_arg(remove)
    passwd = new(usub, "passwd", "set a person's password (read from stdin); ends their browser sessions")
    passwd.add_argument("name")
    passwd.add_argument("--password-stdin", action="store_true", required=True, help="read the password from stdin")
    database_arg(passwd)


def _read_password() -> str:
    line = sys.stdin.readline()
    return line[:-1] if line.endswith("\n") else line


def run(args: argparse.Namespace, settings: Settings, usage_error: type[Exception]) -> int:
    """Run a `user` action; problems the user can fix raise `usage_error` with one line saying what to do."""
    from .store import Store
    from .web.passwords import PasswordError
    from .web.people import People, PersonError

    state = Store.open(settings)
    people = People(state.tokens)
    try:
        if args.action == "add":
            person = people.add(
                args.name, _read_password(), bundle=args.bundle, projects=args.project, admin=args.admin
            )
            print(
                f"added {person.name}: may grant up to {person.bundle}; "
                f"projects {','.join(sorted(person.projects)) or 'all'}; "
                f"console admin {'yes' if person.admin else 'no'}"
            )
        elif args.action == "list":
            everyone = people.list()
            if not everyone:
                print("no people yet: add one with `bugwarden user add NAME --password-stdin`")
            for p in everyone:
                print(
                    f"{p.name}\t{p.bundle}\t{','.join(sorted(p.projects)) or 'all projects'}\t"
                    f"{'admin' if p.admin else '-'}\tadded {p.created_at}"
                )
        elif args.action == "remove":
            people.remove(args.name)
            revoked = _revoke_grants_of(state, args.name, settings)
            print(f"removed {args.name}" + (f"; revoked {revoked} grant(s)" if revoked else ""))
        else:
            people.set_password(args.name, _read_password())
            print(f"password set for {args.name}; their browser sessions have ended")
        return 0
    except (PersonError, PasswordError) as exc:
        raise usage_error(str(exc)) from None
    finally:
        state.close()


def _revoke_grants_of(state: Any, name: str, settings: Settings) -> int:
    """Revoke every OAuth grant a removed person gave, and audit each."""
    import time

    from .guard.audit import AuditLog
    from .store.oauth import OAuthRepository
    from .web.events import audit_event_sync

    repo = OAuthRepository(state.tokens)
    audit = AuditLog.for_store(state, settings.state_key.reveal() if settings.state_key else None)  # head keyed
    revoked = 0
    for grant in repo.grants_of(name):
        if repo.revoke(grant.id, time.time()):
            revoked += 1
            audit_event_sync(
                audit,
                "grant.revoked",
                person=name,
                decision="allowed",
                reason="the person was removed",
                outcome="ok",
                client=grant.client_id,
                details={"grant": grant.id},
                transport="cli",
            )
    return revoked
