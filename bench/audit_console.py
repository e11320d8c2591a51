"""Audit console: a filtered page, the live view's poll and `audit verify` on a year of records, against the same
on a small log, in the same run.

The store is filled with a realistic mix (30 tools, 3 decisions, 60 agents granted by 8 people, 25 projects, one
record every ~30 s over a year, a valid hash chain), once with `--baseline` records and once with `--records`,
on SQLite and (when PostgreSQL's server binaries are installed) on a throw-away PostgreSQL cluster. Each query is
the console's own (`AuditQueries`), timed as the median of `--repeat` runs; ratios are large log / small log.
The goal: a filtered page well under 100 ms at a million records.

    python bench/audit_console.py [--records 1000000] [--baseline 1000] [--repeat 15] [--only sqlite|postgres]
"""

from __future__ import annotations

import argparse
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parents[1]))
sys.path.insert(0, str(Path(__file__).parent))
from _util import readme_row
from tests.postgres import binaries, cluster

from bugwarden.config import Settings
from bugwarden.guard.audit import AuditLog, canonical, chain_hash
from bugwarden.store import Store
from bugwarden.store.audit_facts import facts_of
from bugwarden.store.audit_queries import AuditFilter, AuditQueries, stored_time
from bugwarden.store.postgres import PostgresDatabase
from bugwarden.store.schema import GENESIS, Schema

TOOLS = [
    ("list_errors", 30),
    ("get_error", 20),
    ("get_bug_context", 10),
    ("list_events", 8),
    ("get_latest_event", 8),
    ("list_projects", 6),
    ("resolve_error", 5),
    ("update_error", 3),
    ("generate_fix_prompt", 3),
    ("get_event", 3),
    ("delete_error", 1),
    ("delete_event", 1),
    ("add_comment", 1),
    ("get_trend", 1),
    ("list_pivots", 1),
]
PEOPLE = ["alice", "bob", "carol", "dan", "erin", "frank", "grace", "heidi"]
AGENTS = [(f"grant_{i:03d}", f"agent-{i}", PEOPLE[i % len(PEOPLE)]) for i in range(40)] + [
    (f"tok_{i:03d}", f"ci-bot-{i}", None) for i in range(20)
]
PROJECTS = [f"{i:024x}" for i in range(25)]
CLIENTS = ["claude-code", "cursor-vscode", "Visual Studio Code", "claude-ai"]
START = datetime(2025, 12, 1, tzinfo=UTC)


def records(n: int, seed: int = 7) -> Iterator[dict[str, Any]]:
    """`n` plausible outcome records (and intents before writes), one every ~30 s from START."""
    rng = random.Random(seed)
    names, weights = zip(*TOOLS, strict=True)
    for _ in range(n):
        agent_id, agent_name, person = rng.choice(AGENTS)
        tool = rng.choices(names, weights)[0]
        roll = rng.random()
        decision = "allowed" if roll < 0.9 else "denied" if roll < 0.97 else "invalid"
        project = rng.choice(PROJECTS)
        error = f"{rng.getrandbits(96):024x}"
        yield {
            "invocation": f"{rng.getrandbits(128):032x}",
            "principal_id": agent_id,
            "principal_name": agent_name,
            "person": person,
            "client_name": rng.choice(CLIENTS),
            "client_version": "1.0.0",
            "transport": "http",
            "tool": tool,
            "arguments": {"project_id": project, "error_id": error},
            "backend": "bugsnag",
            "targets": {"project_id": project, "error_id": error},
            "decision": decision,
            "reason": "scope errors:read" if decision == "allowed" else "denied: needs the errors:write scope",
            "phase": "result",
            "outcome": "ok" if decision == "allowed" else "denied" if decision == "denied" else "invalid_argument",
            "consent": None,
            "upstream_status": 200 if decision == "allowed" else None,
            "duration_ms": round(rng.uniform(20, 900), 1),
            "result_bytes": rng.randint(200, 9000),
        }


def chained(n: int) -> Iterator[tuple[tuple[Any, ...], tuple[Any, ...]]]:
    """(audit row, facts row) for n records with a valid chain, times ascending."""
    prev, moment = GENESIS, START
    for seq, record in enumerate(records(n), start=1):
        moment += timedelta(seconds=31.5)
        ts = stored_time(moment)
        body = canonical({**record, "seq": seq, "ts": ts})
        digest = chain_hash(prev, body)
        yield (seq, ts, body, prev, digest), facts_of(seq, ts, record)
        prev = digest


def fill_sqlite(home: Path, n: int) -> None:
    Store.sqlite(home).close()  # schema
    conn = sqlite3.connect(home / "audit.sqlite3", isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("BEGIN")
    last: tuple[Any, ...] = (0, GENESIS)
    batch: list[tuple[tuple[Any, ...], tuple[Any, ...]]] = []
    for pair in chained(n):
        batch.append(pair)
        if len(batch) == 20_000:
            _flush_sqlite(conn, batch)
            last, batch = (batch[-1][0][0], batch[-1][0][4]), []
    if batch:
        _flush_sqlite(conn, batch)
        last = (batch[-1][0][0], batch[-1][0][4])
    conn.execute("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1", last)
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()


def _flush_sqlite(conn: sqlite3.Connection, batch: list[tuple[tuple[Any, ...], tuple[Any, ...]]]) -> None:
    conn.executemany("INSERT INTO audit VALUES (?, ?, ?, ?, ?)", [a for a, _ in batch])
    conn.executemany("INSERT INTO audit_facts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", [f for _, f in batch])


def fill_postgres(url: str, n: int) -> None:
    import psycopg

    db = PostgresDatabase(url)
    Schema(db, Store.COMPONENTS).migrate()
    db.close()
    last: tuple[Any, ...] = (0, GENESIS)
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        with cur.copy("COPY audit (seq, ts, record, prev_hash, hash) FROM STDIN") as audit_copy:
            facts: list[tuple[Any, ...]] = []
            for row, fact in chained(n):
                audit_copy.write_row(row)
                facts.append(fact)
                last = (row[0], row[4])
        with cur.copy(
            "COPY audit_facts (seq, ts, tool, decision, phase, principal_id, principal_name, person, project) "
            "FROM STDIN"
        ) as facts_copy:
            for fact in facts:
                facts_copy.write_row(fact)
        cur.execute("UPDATE audit_head SET seq = %s, hash = %s WHERE id = 1", last)
        conn.commit()
        conn.autocommit = True
        cur.execute("VACUUM ANALYZE audit")
        cur.execute("VACUUM ANALYZE audit_facts")


def median_ms(run: Callable[[], object], repeat: int) -> float:
    run()  # warm
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def measure(store: Store, n: int, repeat: int) -> dict[str, float]:
    q = AuditQueries(store.audit)
    week_ago = stored_time(START + timedelta(seconds=31.5 * n) - timedelta(days=7))
    filters = {
        "page, no filter": AuditFilter(),
        "page, tool": AuditFilter(tool="resolve_error"),
        "page, tool + decision": AuditFilter(tool="resolve_error", decision="denied"),
        "page, rare tool + decision": AuditFilter(tool="delete_event", decision="invalid"),
        "page, who (person)": AuditFilter(who="carol"),
        "page, project + since 7d": AuditFilter(project=PROJECTS[3], since=week_ago),
    }
    out: dict[str, float] = {}
    for label, f in filters.items():
        out[label] = median_ms(lambda f=f: q.page(f, limit=50), repeat)
    first = q.page(AuditFilter(tool="resolve_error"), limit=50)
    out["next page, tool (cursor)"] = median_ms(
        lambda: q.page(AuditFilter(tool="resolve_error"), cursor=first.next_cursor, limit=50), repeat
    )
    head = first.head
    out["live poll, tool (nothing new)"] = median_ms(
        lambda: q.newer(AuditFilter(tool="resolve_error"), after=head), repeat
    )
    out["live poll, no filter (nothing new)"] = median_ms(lambda: q.newer(AuditFilter(), after=head), repeat)
    log = AuditLog(store.audit)
    started = time.perf_counter()
    ok, message = log.verify()
    elapsed = time.perf_counter() - started
    assert ok, message
    out["audit verify per 100,000 records"] = elapsed * 1000 * 100_000 / n
    return out


def run(kind: str, sizes: tuple[int, int], repeat: int, pg: Any = None) -> str:
    """Measure one store kind at both sizes; print the table and return its README cell."""
    results: list[dict[str, float]] = []
    for n in sizes:
        started = time.perf_counter()
        if kind == "sqlite":
            home = Path(tempfile.mkdtemp(prefix="bw-bench-audit-"))
            fill_sqlite(home, n)
            settings = Settings.from_env({}, home=str(home))
        else:
            url = pg.create_database(f"audit_{n}")
            fill_postgres(url, n)
            settings = Settings.from_env({}, home=tempfile.mkdtemp(prefix="bw-bench-audit-"), database_url=url)
        print(f"{kind}: filled {n:,} records in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
        store = Store.open(settings)
        try:
            results.append(measure(store, n, repeat))
        finally:
            store.close()
            shutil.rmtree(settings.home, ignore_errors=True)
    small, large = results
    print(f"\n{kind}: {sizes[1]:,} records vs {sizes[0]:,} (median of {repeat}; ms)")
    print(f"  {'':38} {sizes[0]:>10,} {sizes[1]:>12,}   ratio")
    for label in small:
        print(f"  {label:38} {small[label]:10.2f} {large[label]:12.2f}   {large[label] / small[label]:5.2f}x")
    return f"{kind}: " + ", ".join(
        f"{label} {large[label]:.1f} ms ({large[label] / small[label]:.2f}x)" for label in small
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--baseline", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--only", choices=["sqlite", "postgres"], help="measure one store only")
    args = parser.parse_args()
    sizes = (args.baseline, args.records)
    cells: list[str] = []
    if args.only != "postgres":
        cells.append(run("sqlite", sizes, args.repeat))
    if args.only == "sqlite":
        pass
    elif binaries() is None:
        print("\npostgres: skipped (PostgreSQL server binaries are not installed)")
    else:
        with cluster(durable=False) as pg:
            cells.append(run("postgres", sizes, args.repeat, pg))
    readme_row(
        f"audit log queries, {args.records:,} records vs {args.baseline:,} "
        f"(`audit_console.py`, median of {args.repeat})",
        "; ".join(cells),
    )


if __name__ == "__main__":
    main()
