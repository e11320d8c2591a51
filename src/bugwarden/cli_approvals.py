"""`bugwarden approvals list | approve ID | reject ID`: what the console's Approvals page does, from the shell.

The approver is `--as NAME`, else the operating-system user running the command; every decision is audited
with that name.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
import time
from datetime import UTC, datetime
from typing import Any

from .config import Settings


def add_parser(sub: Any, make: Any, database_arg: Any) -> None:
    """Register `approvals` under the CLI's subcommands (`make` builds a subparser, `database_arg` adds
    --database-url)."""
    approvals = make(sub, "approvals", "list, approve or reject changes waiting for a person's approval")
    asub = approvals.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = make(asub, "list", "show the changes waiting for approval, oldest first")
    listing.add_argument("--all", action="store_true", help="also show recent decided, used and expired ones")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    database_arg(listing)
    for action, help in (
        ("approve", "approve a waiting change; the agent's next identical call makes it, once"),
        ("reject", "reject a waiting change; the agent's identical calls are then refused"),
    ):
        decide = make(asub, action, help)
        decide.add_argument("id", help="the approval id (apv_…) from `approvals list`")
        decide.add_argument("--as", dest="approver", help="the approver's name (default: the OS user)")
        database_arg(decide)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from .guard.approvals import ApprovalDesk
    from .guard.audit import AuditLog
    from .store import Store
    from .store.approvals import ApprovalError, ApprovalStore

    store = Store.open(settings)
    state_key = settings.state_key.reveal() if settings.state_key else None
    desk = ApprovalDesk(ApprovalStore(store.state), AuditLog.for_store(store, state_key))
    try:
        if args.action == "list":
            now = time.time()
            shown = desk.recent(100) if args.all else desk.pending()
            if args.json:
                for approval in shown:
                    print(json.dumps(approval.as_dict(now), sort_keys=True, default=str))
                return 0
            if not shown:
                print("nothing waits for approval")
                return 0
            print(f"{'ID':<16} {'STATE':<9} {'REQUESTED':<20} {'EXPIRES':<20} {'AGENT':<20} {'TOOL':<20} TARGET")
            for a in shown:
                target = _printable(" ".join(f"{k}={v}" for k, v in a.targets.items()))
                print(
                    f"{_printable(a.id):<16} {a.state(now):<9} {_when(a.created_at):<20} {_when(a.expires_at):<20} "
                    f"{_printable(a.principal_name[:20]):<20} {_printable(a.tool[:20]):<20} {target}"
                )
                print(f"{'':<16} {_arguments(a.arguments)}")
            return 0
        approver = (args.approver or _os_user()).strip()
        if not approver:
            print("bugwarden: pass --as NAME: the approver's name is recorded in the audit log", file=sys.stderr)
            return 2
        try:
            decided = (desk.approve if args.action == "approve" else desk.reject)(args.id, approver, via="cli")
        except ApprovalError as exc:
            print(f"bugwarden: {exc}", file=sys.stderr)
            return 1
        if args.action == "approve":
            print(
                f"approved {decided.id} as {approver}: {decided.principal_name}'s next {decided.tool} call with the "
                f"same arguments makes the change, once, until {_when(decided.expires_at)}"
            )
        else:
            print(f"rejected {decided.id} as {approver}: {decided.principal_name}'s {decided.tool} call is refused")
        return 0
    finally:
        store.close()


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


def _when(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _arguments(arguments: dict[str, Any]) -> str:
    text = json.dumps(arguments, sort_keys=True, ensure_ascii=True)
    return text if len(text) <= 300 else text[:300] + "…"


def _printable(text: str) -> str:
    """Text safe for a terminal: control and other invisible characters shown as escapes."""
    return "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in str(text))
