"""`bugwarden hooks add|list|remove|tail`, and the receiver's options on `serve` and `demo`."""

# ruff: noqa: T201 - a CLI: stdout is its output

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any

from .config import DEFAULT_HOOK_RATE, DEFAULT_KEEP_DAYS, HookOptions, Settings
from .hooks.receiver import parse_networks

BUGSNAG_EGRESS = (
    "104.196.245.109,104.196.254.247,107.23.160.224,34.231.155.113,34.235.33.231,52.207.146.211,52.55.78.127"
)
"""BugSnag's published source addresses for data forwarding (docs.bugsnag.com/security/firewall-rules)."""


class HooksUsageError(Exception):
    """A hooks command cannot run as asked; the message says what to do."""


def add_receiver_args(p: argparse.ArgumentParser) -> None:
    """`serve`/`demo` options of the webhook receiver at /hooks/bugsnag/<secret> (HTTP only)."""
    p.add_argument(
        "--hooks-from",
        action="append",
        default=[],
        metavar="CIDR",
        help="HTTP: accept webhook deliveries only from these addresses (repeatable or comma-separated), e.g. "
        f"BugSnag's: {BUGSNAG_EGRESS}",
    )
    p.add_argument(
        "--hooks-rate", type=int, default=DEFAULT_HOOK_RATE, help="HTTP: webhook deliveries a minute per hook"
    )
    p.add_argument(
        "--signals-keep-days", type=float, default=DEFAULT_KEEP_DAYS, help="how long signals are kept, in days"
    )


def receiver_options(args: argparse.Namespace) -> HookOptions:
    try:
        networks = parse_networks(getattr(args, "hooks_from", []) or [])
    except ValueError as exc:
        raise HooksUsageError(str(exc)) from None
    rate = getattr(args, "hooks_rate", DEFAULT_HOOK_RATE)
    keep = getattr(args, "signals_keep_days", DEFAULT_KEEP_DAYS)
    if rate <= 0 or keep <= 0:
        raise HooksUsageError("--hooks-rate and --signals-keep-days must be positive")
    return HookOptions(rate=rate, allow_from=networks, keep_days=keep)


def add_parser(sub: Any, make: Callable[..., argparse.ArgumentParser], database_arg: Callable[..., None]) -> None:
    hooks = make(sub, "hooks", "BugSnag webhook receivers: add, list, remove; tail the signals they stored")
    hsub = hooks.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = make(hsub, "add", "mint a webhook URL for a project; prints it once, as the last line")
    add.add_argument("--project", required=True, help="the BugSnag project id the hook receives for")
    add.add_argument("--public-url", help="the address BugSnag reaches this server at (default: BUGWARDEN_PUBLIC_URL)")
    database_arg(add)
    database_arg(make(hsub, "list", "list hooks: project, created, last delivery, accepted and refused; never secrets"))
    remove = make(hsub, "remove", "remove a hook: its URL answers 404 from the next delivery on")
    remove.add_argument("id", help="the hook id (hook_…) from `hooks list`")
    database_arg(remove)
    tail = make(hsub, "tail", "show the latest signals (what deliveries said), oldest first")
    tail.add_argument("-n", type=int, default=20, help="how many signals")
    tail.add_argument("--follow", "-f", action="store_true", help="keep printing new signals as they land")
    database_arg(tail)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from .backends.errors import InvalidArgument
    from .backends.paths import check_id
    from .guard.signals import StoredSignals
    from .store import Store
    from .store.hooks import HookError, HookStore
    from .store.signals import SignalStore

    store = Store.open(settings)
    hooks = HookStore(store.hooks)
    try:
        if args.action == "add":
            try:
                project = check_id(args.project, "--project")
            except InvalidArgument as exc:
                raise HooksUsageError(exc.agent_message) from None
            base = (args.public_url or settings.public_url or "").rstrip("/")
            if not base:
                raise HooksUsageError(
                    "no public URL: pass --public-url https://bugwarden.example.com (or set BUGWARDEN_PUBLIC_URL) — "
                    "the address BugSnag reaches this server at; HTTPS in production"
                )
            if not base.startswith(("http://", "https://")):
                raise HooksUsageError(f"--public-url {base!r} is not an http(s) URL")
            if base.startswith("http://") and not _loopback(base):
                print(
                    "warning: the URL is plain HTTP, so its secret crosses the network in clear; serve bugwarden "
                    "behind HTTPS in production and use an https:// public URL",
                    file=sys.stderr,
                )
            hook, secret = hooks.create(project)
            print(f"created {hook.id} for project {hook.project_id}")
            print("paste this URL into BugSnag: Project settings > Integrations > Data forwarding > Webhook;")
            print("it is shown once (bugwarden keeps only its hash):")
            print(f"{base}/hooks/bugsnag/{secret}")
        elif args.action == "list":
            listed = hooks.list()
            if not listed:
                print("no hooks yet: add one with `bugwarden hooks add --project ID --public-url URL`")
            for h in listed:
                print(
                    f"{h.id}\t{h.source}\tproject {h.project_id}\tcreated {h.created_at}\t"
                    f"last delivery {h.last_delivery_at or 'never'}\taccepted {h.accepted}\trefused {h.refused}"
                )
        elif args.action == "remove":
            try:
                hook = hooks.remove(args.id)
            except HookError as exc:
                raise HooksUsageError(str(exc)) from None
            print(f"removed {hook.id} (project {hook.project_id}); its URL now answers 404")
        else:
            _tail(StoredSignals(SignalStore(store.hooks), hooks), max(1, args.n), args.follow)
        return 0
    finally:
        store.close()


def _loopback(url: str) -> bool:
    from urllib.parse import urlsplit

    return (urlsplit(url).hostname or "") in ("127.0.0.1", "localhost", "::1")


def demo_project() -> str:
    """The sandbox project the demo's hook receives for (the seeded `api-server`)."""
    from .sandbox.bugsnag_seed import oid

    return oid("project", "api-server")


def demo_hook(store: Any, base_url: str) -> str:
    """A hook for the demo project in the demo's throw-away store; its URL (for the sandbox to fire at)."""
    from .store.hooks import HookStore

    _, secret = HookStore(store.hooks).create(demo_project())
    return f"{base_url}/hooks/bugsnag/{secret}"


def raise_hint(sandbox_url: str, *, tail: bool = True) -> str:
    project = demo_project()
    return (
        f"raise a new error (fires the webhook): curl -X POST {sandbox_url}/_sandbox/projects/{project}/raise ; "
        f"watch it arrive: subscribe to bugsnag://projects/{project}/signals or call list_signals"
        + (", or run `bugwarden hooks tail --follow` where the receiving server keeps its state" if tail else "")
    )


def _tail(reader: Any, n: int, follow: bool) -> None:
    from .model import SignalQuery
    from .render.signals import summary, trigger_words
    from .render.text import when

    def line(s: Any) -> str:
        ids = f" error {s.error_id}" if s.error_id and not s.test else ""
        test = " TEST" if s.test else ""
        return f"{s.seq:>6} {when(s.received_at)} {s.project_id}{ids} {trigger_words(s)}{test}: {summary(s)}"

    page = reader.signals(SignalQuery(limit=n), None)
    last = 0
    for signal in reversed(page.items):
        print(line(signal))
        last = max(last, signal.seq)
    if not page.items and not follow:
        print("no signals yet" + ("" if reader.configured() else ": add a hook with `bugwarden hooks add`"))
    while follow:
        sys.stdout.flush()
        time.sleep(1.0)
        newer = [s for s in reader.signals(SignalQuery(limit=100), None).items if s.seq > last]
        for signal in reversed(newer):
            print(line(signal))
            last = max(last, signal.seq)
