"""`bugwarden audit tail|export|verify`: the audit log from the shell, with the console's filters.

    bugwarden audit tail --tool resolve_error --decision denied --since 7d     # a table with headers
    bugwarden audit tail --plain                                              # one sentence per record
    bugwarden audit tail --json | audit export --since 2026-11-01             # JSON lines (the same lines)
    bugwarden audit verify                                                    # exits 1 naming the first bad record

Every value shown at the terminal is cleaned of control characters (a hostile client name cannot move the cursor).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

from .cli_common import UsageError, count
from .config import Settings
from .render.audit import NO_NAMES, Names, sentence
from .render.text import inline
from .store.audit_queries import DECISIONS, AuditFilter, AuditQueries, FilterError, export_line, parse_since
from .web.project_names import names_for


def since_arg(value: str) -> str:
    """`--since`/`--until`: an age (15m, 12h, 7d, 2w), an ISO date, or an ISO time with a zone."""
    try:
        return parse_since(value)
    except FilterError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_filters(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tool", help="only calls of this tool (e.g. resolve_error), or console actions (console.revoke)")
    p.add_argument("--decision", choices=DECISIONS, help="only records with this decision")
    p.add_argument("--who", help="only this token or grant (id or name), or the agents a person granted")
    p.add_argument("--project", help="only records about this project id")
    p.add_argument("--since", type=since_arg, help="from this time: an age like 15m, 7d, 2w, or an ISO date or time")
    p.add_argument("--until", type=since_arg, help="before this time (same forms as --since)")


def add_parsers(audit: argparse.ArgumentParser, sub: Callable[..., argparse.ArgumentParser], database_arg: Any) -> None:
    """The `audit` subcommands (`sub(parent, name, help)` makes a subparser, `database_arg` adds --database-url)."""
    asub = audit.add_subparsers(dest="action", required=True, metavar="ACTION")
    tail = sub(asub, "tail", "show the latest records (matching the filters) as a table, oldest first")
    tail.add_argument("-n", type=count, default=20, help="how many records")
    add_filters(tail)
    tail.add_argument("-f", "--follow", action="store_true", help="keep printing matching records as they land")
    shape = tail.add_mutually_exclusive_group()
    shape.add_argument("--plain", action="store_true", help="one plain-English sentence per record")
    shape.add_argument("--json", action="store_true", help="JSON lines, as `audit export` writes them")
    database_arg(tail)
    export = sub(asub, "export", "write records (matching the filters) as JSON lines to stdout, oldest first")
    export.add_argument("--format", choices=["jsonl"], default="jsonl", help="output format")
    add_filters(export)
    database_arg(export)
    verify = sub(asub, "verify", "recompute the hash chain; exits 1 naming the first bad record")
    verify.add_argument(
        "--against",
        metavar="EXPORT.jsonl",
        help="an earlier `audit export` kept elsewhere: also prove the live log still holds it unchanged",
    )
    database_arg(verify)


def filters_of(args: argparse.Namespace) -> AuditFilter:
    return AuditFilter(
        tool=args.tool, decision=args.decision, who=args.who, project=args.project, since=args.since, until=args.until
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    from .guard.audit import AuditLog
    from .store import SQLITE_FILES, Store

    path = Path(settings.home) / SQLITE_FILES["audit"]
    if settings.database_url is None and not path.exists():
        print(
            f"bugwarden: no audit log at {path} yet (nothing has been served with this BUGWARDEN_HOME)", file=sys.stderr
        )
        return 1 if args.action == "verify" else 0
    store = Store.open(settings)
    try:
        if args.action == "verify":
            audit = AuditLog.for_store(store, settings.state_key.reveal() if settings.state_key else None)
            ok, message = audit.verify(against=export_records(args.against) if args.against else None)
            print(message, file=sys.stdout if ok else sys.stderr)
            return 0 if ok else 1
        queries = AuditQueries(store.audit)
        filters = filters_of(args)
        if args.action == "export":
            for record in queries.matching(filters):
                print(export_line(record))
            sys.stdout.flush()
            return 0
        records = _last(queries, filters, args.n)
        if not records and args.n and not args.follow:
            print("no records match" + ("" if filters.empty else " these filters"), file=sys.stderr)
        shape = "json" if args.json else "plain" if args.plain else "table"
        lookup = partial(names_for, store)
        widths = show(records, shape, header=True, names=lookup)
        if args.follow:
            follow(queries, filters, records[-1]["seq"] if records else queries.head(), shape, widths, names=lookup)
        return 0
    finally:
        store.close()


def show(
    records: list[dict[str, Any]],
    shape: str,
    *,
    header: bool,
    widths: list[int] | None = None,
    names: Callable[[list[dict[str, Any]]], Names] | None = None,
) -> list[int]:
    """Print records as a table (the widths used are returned, to keep later rows aligned), sentences (naming
    projects and errors by what `names` knows of them) or JSON."""
    if not records:
        return widths or []
    if shape == "json":
        lines = [export_line(r) for r in records]
    elif shape == "plain":
        known = names(records) if names is not None else NO_NAMES
        lines = [f"{r.get('seq')}  {inline(r.get('ts'), 30)}  {sentence(r, known)}" for r in records]
    else:
        lines, widths = table_lines(records, header=header, widths=widths)
    if lines:
        print("\n".join(lines), flush=True)
    return widths or []


def follow(
    queries: AuditQueries,
    filters: AuditFilter,
    after: int,
    shape: str,
    widths: list[int],
    *,
    sleep: Callable[[float], None] = time.sleep,
    polls: int | None = None,
    names: Callable[[list[dict[str, Any]]], Names] | None = None,
) -> None:
    """Print matching records as they land, until interrupted (or after `polls` polls)."""
    done = 0
    while polls is None or done < polls:
        sleep(1.0)
        records, after = queries.newer(filters, after=after)
        widths = show(records, shape, header=not widths, widths=widths or None, names=names) if records else widths
        done += 1


def export_records(path: str) -> Iterator[dict[str, Any]]:
    """The records of an `audit export` file, one JSON object a line (UsageError when it cannot be read)."""

    try:
        with open(path, encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                if line.strip():
                    try:
                        record = json.loads(line)
                    except ValueError:
                        raise UsageError(f"{path} line {number} is not JSON: pass a file from `audit export`") from None
                    yield record if isinstance(record, dict) else {}
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None


def _last(queries: AuditQueries, filters: AuditFilter, n: int) -> list[dict[str, Any]]:
    """The last `n` matching records, oldest first."""
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    while len(found) < n:
        page = queries.page(filters, cursor=cursor, limit=min(n - len(found), 500))
        found += page.records
        cursor = page.next_cursor
        if cursor is None:
            break
    return list(reversed(found))


COLUMNS: tuple[tuple[str, Callable[[dict[str, Any]], object], int], ...] = (
    ("SEQ", lambda r: r.get("seq"), 10),
    ("TIME", lambda r: r.get("ts"), 24),
    ("WHO", lambda r: r.get("principal_name") or r.get("principal_id"), 24),
    ("CLIENT", lambda r: r.get("client_name"), 20),
    ("TOOL", lambda r: r.get("tool"), 24),
    ("TARGET", lambda r: target_text(r), 40),
    ("DECISION", lambda r: r.get("decision") if r.get("phase") != "intent" else "intent", 8),
    ("OUTCOME", lambda r: r.get("outcome"), 18),
    ("MS", lambda r: r.get("duration_ms"), 8),
    ("REASON", lambda r: r.get("reason"), 80),
)


def target_text(record: dict[str, Any]) -> str:
    targets = record.get("targets")
    if not isinstance(targets, dict):
        return ""
    order = {"organization_id": "org", "project_id": "project", "error_id": "error", "event_id": "event"}
    known = [f"{word}={targets[key]}" for key, word in order.items() if targets.get(key)]
    return " ".join(known + [f"{k}={v}" for k, v in targets.items() if k not in order])


def table_lines(
    records: list[dict[str, Any]], *, header: bool = True, widths: list[int] | None = None
) -> tuple[list[str], list[int]]:
    """The records under headers, columns aligned; every cell one clean line, '-' when empty. With `widths`, rows
    keep those columns (a following tail) and only the last column may run longer."""
    cells = [[inline(get(r), width) if get(r) not in (None, "") else "-" for _, get, width in COLUMNS] for r in records]
    headers = [name for name, _, _ in COLUMNS]
    if widths is None:
        widths = [max(len(row[i]) for row in [headers, *cells]) for i in range(len(COLUMNS))]
    rows = [headers, *cells] if header else cells
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    return lines, widths


def table(records: list[dict[str, Any]]) -> str:
    return "\n".join(table_lines(records)[0])
