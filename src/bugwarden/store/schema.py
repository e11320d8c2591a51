"""Versioned schemas for the three kinds of state: tokens, the audit log, and short-lived server state.

Each component has an ordered list of migrations; `schema_versions` records how far each database
got. SQLite files are migrated when opened (the embedded default needs no ceremony); a PostgreSQL
database is migrated only by `bugwarden db migrate`, and a server refuses to start against a schema
it does not know.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .audit_facts import FACTS_INDEXES, FACTS_POSTGRES, FACTS_SQLITE, backfill
from .database import Database, StoreError, Transaction

GENESIS = "0" * 64


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    sqlite: tuple[str, ...]
    postgres: tuple[str, ...]
    after: Callable[[Transaction, Path | None], None] | None = None
    """Runs in the same transaction; receives the SQLite state directory (None for PostgreSQL)."""


def _seed_audit_head(tx: Transaction, home: Path | None) -> None:
    """The chain head moves into the database. A head file left by bugwarden 0.1 still counts: if it names a
    later record than the log holds, `audit verify` must go on reporting the cut."""
    row = tx.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
    seq, digest = (int(row[0]), str(row[1])) if row else (0, GENESIS)
    legacy = home / "audit.head" if home is not None else None
    if legacy is not None and legacy.exists():
        parts = legacy.read_text().split()
        if len(parts) == 2 and parts[0].isdigit() and int(parts[0]) >= seq:
            seq, digest = int(parts[0]), parts[1]
    tx.execute("INSERT INTO audit_head (id, seq, hash) VALUES (1, ?, ?)", (seq, digest))


TOKENS: tuple[Migration, ...] = (
    Migration(
        1,
        sqlite=(
            "CREATE TABLE IF NOT EXISTS tokens (id TEXT PRIMARY KEY, name TEXT NOT NULL, secret_hash TEXT UNIQUE "
            "NOT NULL, scopes TEXT NOT NULL, projects TEXT NOT NULL, created_at TEXT NOT NULL, expires_at TEXT, "
            "last_used_at TEXT, revoked_at TEXT)",
        ),
        postgres=(
            "CREATE TABLE IF NOT EXISTS tokens (id TEXT PRIMARY KEY, name TEXT NOT NULL, secret_hash TEXT UNIQUE "
            "NOT NULL, scopes TEXT NOT NULL, projects TEXT NOT NULL, created_at TEXT NOT NULL, expires_at TEXT, "
            "last_used_at TEXT, revoked_at TEXT)",
        ),
    ),
    Migration(
        2,
        sqlite=(
            "CREATE TABLE people (name TEXT PRIMARY KEY, password_hash TEXT NOT NULL, bundle TEXT NOT NULL, "
            "projects TEXT NOT NULL, admin INTEGER NOT NULL, created_at TEXT NOT NULL, password_changed_at TEXT)",
            "CREATE TABLE web_sessions (id_hash TEXT PRIMARY KEY, person TEXT NOT NULL, created_at REAL NOT NULL, "
            "expires_at REAL NOT NULL)",
            "CREATE INDEX web_sessions_person ON web_sessions (person)",
        ),
        postgres=(
            "CREATE TABLE people (name TEXT PRIMARY KEY, password_hash TEXT NOT NULL, bundle TEXT NOT NULL, "
            "projects TEXT NOT NULL, admin INTEGER NOT NULL, created_at TEXT NOT NULL, password_changed_at TEXT)",
            "CREATE TABLE web_sessions (id_hash TEXT PRIMARY KEY, person TEXT NOT NULL, "
            "created_at DOUBLE PRECISION NOT NULL, expires_at DOUBLE PRECISION NOT NULL)",
            "CREATE INDEX web_sessions_person ON web_sessions (person)",
        ),
    ),
    Migration(
        3,
        sqlite=(
            "ALTER TABLE tokens ADD COLUMN person TEXT",
            "ALTER TABLE tokens ADD COLUMN client_id TEXT",
            "ALTER TABLE tokens ADD COLUMN access_expires_at REAL",
            "CREATE TABLE oauth_clients (client_id TEXT PRIMARY KEY, info TEXT NOT NULL, kind TEXT NOT NULL, "
            "created_at REAL NOT NULL)",
            "CREATE TABLE oauth_requests (id_hash TEXT PRIMARY KEY, client_id TEXT NOT NULL, params TEXT NOT NULL, "
            "expires_at REAL NOT NULL)",
            "CREATE TABLE oauth_codes (code_hash TEXT PRIMARY KEY, client_id TEXT NOT NULL, data TEXT NOT NULL, "
            "expires_at REAL NOT NULL, used_at REAL, grant_id TEXT)",
            "CREATE TABLE oauth_refresh (token_hash TEXT PRIMARY KEY, grant_id TEXT NOT NULL, "
            "created_at REAL NOT NULL, spent_at REAL)",
            "CREATE INDEX oauth_refresh_grant ON oauth_refresh (grant_id)",
        ),
        postgres=(
            "ALTER TABLE tokens ADD COLUMN person TEXT",
            "ALTER TABLE tokens ADD COLUMN client_id TEXT",
            "ALTER TABLE tokens ADD COLUMN access_expires_at DOUBLE PRECISION",
            "CREATE TABLE oauth_clients (client_id TEXT PRIMARY KEY, info TEXT NOT NULL, kind TEXT NOT NULL, "
            "created_at DOUBLE PRECISION NOT NULL)",
            "CREATE TABLE oauth_requests (id_hash TEXT PRIMARY KEY, client_id TEXT NOT NULL, params TEXT NOT NULL, "
            "expires_at DOUBLE PRECISION NOT NULL)",
            "CREATE TABLE oauth_codes (code_hash TEXT PRIMARY KEY, client_id TEXT NOT NULL, data TEXT NOT NULL, "
            "expires_at DOUBLE PRECISION NOT NULL, used_at DOUBLE PRECISION, grant_id TEXT)",
            "CREATE TABLE oauth_refresh (token_hash TEXT PRIMARY KEY, grant_id TEXT NOT NULL, "
            "created_at DOUBLE PRECISION NOT NULL, spent_at DOUBLE PRECISION)",
            "CREATE INDEX oauth_refresh_grant ON oauth_refresh (grant_id)",
        ),
    ),
)
# Access per project (store/project_access.py): for an agent limited to projects, what it may do in each one, set
# from the console's grid; and the names of projects the console has seen, so that audit sentences name them.
_PROJECT_ACCESS = (
    "CREATE TABLE token_project_scopes (token_id TEXT NOT NULL, project_id TEXT NOT NULL, scopes TEXT NOT NULL, "
    "PRIMARY KEY (token_id, project_id))",
    "CREATE TABLE project_names (project_id TEXT PRIMARY KEY, name TEXT NOT NULL, seen_at TEXT NOT NULL)",
)
TOKENS += (Migration(4, sqlite=_PROJECT_ACCESS, postgres=_PROJECT_ACCESS),)
AUDIT: tuple[Migration, ...] = (
    Migration(
        1,
        sqlite=(
            "CREATE TABLE IF NOT EXISTS audit (seq INTEGER PRIMARY KEY, ts TEXT NOT NULL, record TEXT NOT NULL, "
            "prev_hash TEXT NOT NULL, hash TEXT NOT NULL)",
        ),
        postgres=(
            "CREATE TABLE IF NOT EXISTS audit (seq BIGINT PRIMARY KEY, ts TEXT NOT NULL, record TEXT NOT NULL, "
            "prev_hash TEXT NOT NULL, hash TEXT NOT NULL)",
        ),
    ),
    Migration(
        2,
        sqlite=(
            "CREATE TABLE audit_head (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL, hash TEXT NOT NULL)",
        ),
        postgres=(
            "CREATE TABLE audit_head (id INTEGER PRIMARY KEY CHECK (id = 1), seq BIGINT NOT NULL, hash TEXT NOT NULL)",
        ),
        after=_seed_audit_head,
    ),
    # The search index of the console and `audit tail` filters (store/audit_facts.py), filled from the records.
    Migration(3, sqlite=FACTS_SQLITE + FACTS_INDEXES, postgres=FACTS_POSTGRES + FACTS_INDEXES, after=backfill),
    # The chain head keyed with the state key (guard/audit.py), so that moving it back is noticed.
    Migration(
        4,
        sqlite=("ALTER TABLE audit_head ADD COLUMN mac TEXT",),
        postgres=("ALTER TABLE audit_head ADD COLUMN mac TEXT",),
    ),
)
STATE: tuple[Migration, ...] = (
    Migration(
        1,
        sqlite=(
            "CREATE TABLE keys (name TEXT PRIMARY KEY, value TEXT NOT NULL, created_at TEXT NOT NULL)",
            "CREATE TABLE consumed (nonce TEXT PRIMARY KEY, expires_at REAL NOT NULL)",
            "CREATE TABLE declines (digest TEXT PRIMARY KEY, expires_at REAL NOT NULL)",
        ),
        postgres=(
            "CREATE TABLE keys (name TEXT PRIMARY KEY, value TEXT NOT NULL, created_at TEXT NOT NULL)",
            "CREATE TABLE consumed (nonce TEXT PRIMARY KEY, expires_at DOUBLE PRECISION NOT NULL)",
            "CREATE TABLE declines (digest TEXT PRIMARY KEY, expires_at DOUBLE PRECISION NOT NULL)",
        ),
    ),
    Migration(
        2,
        sqlite=("CREATE TABLE buckets (key TEXT PRIMARY KEY, tat REAL NOT NULL)",),
        postgres=("CREATE TABLE buckets (key TEXT PRIMARY KEY, tat DOUBLE PRECISION NOT NULL)",),
    ),
    Migration(
        3,
        sqlite=(
            "CREATE TABLE quota_sent (key TEXT NOT NULL, at REAL NOT NULL)",
            "CREATE INDEX quota_sent_key_at ON quota_sent (key, at)",
            "CREATE TABLE quota_word (key TEXT PRIMARY KEY, lim INTEGER, remaining INTEGER, "
            "remaining_at REAL NOT NULL, blocked_until REAL NOT NULL)",
        ),
        postgres=(
            "CREATE TABLE quota_sent (key TEXT NOT NULL, at DOUBLE PRECISION NOT NULL)",
            "CREATE INDEX quota_sent_key_at ON quota_sent (key, at)",
            "CREATE TABLE quota_word (key TEXT PRIMARY KEY, lim INTEGER, remaining INTEGER, "
            "remaining_at DOUBLE PRECISION NOT NULL, blocked_until DOUBLE PRECISION NOT NULL)",
        ),
    ),
)
APPROVALS_TABLE = (
    "CREATE TABLE approvals (id TEXT PRIMARY KEY, digest TEXT NOT NULL, principal_id TEXT NOT NULL, "
    "principal_name TEXT NOT NULL, tool TEXT NOT NULL, targets TEXT NOT NULL, arguments TEXT NOT NULL, "
    "question TEXT NOT NULL, created_at {real} NOT NULL, expires_at {real} NOT NULL, status TEXT NOT NULL, "
    "decided_by TEXT, decided_at {real}, used_at {real})"
)
STATE += (
    Migration(
        4,
        sqlite=(
            APPROVALS_TABLE.format(real="REAL"),
            "CREATE INDEX approvals_digest ON approvals (digest, status)",
            "CREATE INDEX approvals_status ON approvals (status, created_at)",
        ),
        postgres=(
            APPROVALS_TABLE.format(real="DOUBLE PRECISION"),
            "CREATE INDEX approvals_digest ON approvals (digest, status)",
            "CREATE INDEX approvals_status ON approvals (status, created_at)",
        ),
    ),
)
_HOOKS_TABLE = (
    "CREATE TABLE hooks (id TEXT PRIMARY KEY, source TEXT NOT NULL, secret_hash TEXT UNIQUE NOT NULL, "
    "project_id TEXT NOT NULL, created_at TEXT NOT NULL, removed_at TEXT, last_delivery_at TEXT, "
    "accepted INTEGER NOT NULL, refused INTEGER NOT NULL)"
)
_SIGNAL_COLUMNS = (
    "dedup_key TEXT UNIQUE NOT NULL, hook_id TEXT NOT NULL, source TEXT NOT NULL, project_id TEXT NOT NULL, "
    "trigger_type TEXT NOT NULL, triggers TEXT NOT NULL, trigger_message TEXT, error_id TEXT, event_id TEXT, "
    "error_class TEXT, message TEXT, context TEXT, release_stage TEXT, app_version TEXT, severity TEXT, "
    "unhandled INTEGER, status TEXT, occurrences INTEGER, first_seen TEXT, last_seen TEXT, dashboard_url TEXT, "
    "detail TEXT, test INTEGER NOT NULL, received_at TEXT NOT NULL"
)
HOOKS = (
    Migration(
        1,
        sqlite=(
            _HOOKS_TABLE,
            f"CREATE TABLE signals (seq INTEGER PRIMARY KEY, {_SIGNAL_COLUMNS}, received REAL NOT NULL)",
            "CREATE INDEX signals_project_seq ON signals (project_id, seq)",
            "CREATE INDEX signals_received ON signals (received)",
        ),
        postgres=(
            _HOOKS_TABLE,
            f"CREATE TABLE signals (seq BIGINT PRIMARY KEY, {_SIGNAL_COLUMNS}, received DOUBLE PRECISION NOT NULL)",
            "CREATE INDEX signals_project_seq ON signals (project_id, seq)",
            "CREATE INDEX signals_received ON signals (received)",
        ),
    ),
)
"""Webhook receivers (`bugwarden hooks`) and the signals their deliveries became (one component, so that a signal
and its hook's counters move in one transaction)."""
COMPONENTS: dict[str, tuple[Migration, ...]] = {"tokens": TOKENS, "audit": AUDIT, "state": STATE, "hooks": HOOKS}


_VERSIONS_TABLE_EXISTS = {
    "sqlite": "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_versions'",
    "postgres": "SELECT 1 FROM pg_tables WHERE tablename = 'schema_versions' AND schemaname = current_schema()",
}


@dataclass(frozen=True, slots=True)
class SchemaStatus:
    component: str
    current: int
    latest: int

    @property
    def ok(self) -> bool:
        return self.current == self.latest


@dataclass
class Schema:
    """Applies and checks the migrations of some components on one database."""

    db: Database
    components: tuple[str, ...]
    home: Path | None = None

    def status(self) -> list[SchemaStatus]:
        with self.db.transaction() as tx:
            exists = tx.execute(_VERSIONS_TABLE_EXISTS[self.db.dialect]).fetchone()
            rows = dict(tx.execute("SELECT component, version FROM schema_versions").fetchall()) if exists else {}
        return [SchemaStatus(c, int(rows.get(c, 0)), COMPONENTS[c][-1].version) for c in self.components]

    def migrate(self) -> list[str]:
        """Apply what is missing; returns what was applied, e.g. ['audit 2']. Safe to run concurrently."""
        applied: list[str] = []
        for component in self.components:
            for migration in COMPONENTS[component]:
                with self.db.transaction(write=True) as tx:
                    if self.db.dialect == "postgres":
                        tx.execute("SELECT pg_advisory_xact_lock(7341)")
                    tx.execute(
                        "CREATE TABLE IF NOT EXISTS schema_versions (component TEXT PRIMARY KEY, version INTEGER)"
                    )
                    row = tx.execute("SELECT version FROM schema_versions WHERE component = ?", (component,)).fetchone()
                    current = int(row[0]) if row else 0
                    if current > COMPONENTS[component][-1].version:
                        raise StoreError(_too_new(component, current))
                    if current >= migration.version:
                        continue
                    for statement in migration.sqlite if self.db.dialect == "sqlite" else migration.postgres:
                        tx.execute(statement)
                    if migration.after is not None:
                        migration.after(tx, self.home)
                    if row:
                        tx.execute(
                            "UPDATE schema_versions SET version = ? WHERE component = ?", (migration.version, component)
                        )
                    else:
                        tx.execute(
                            "INSERT INTO schema_versions (component, version) VALUES (?, ?)",
                            (component, migration.version),
                        )
                    applied.append(f"{component} {migration.version}")
        return applied

    def require_current(self) -> None:
        """Refuse a schema this bugwarden does not know (behind: run `bugwarden db migrate`; ahead: upgrade)."""
        for status in self.status():
            if status.current > status.latest:
                raise StoreError(_too_new(status.component, status.current))
            if status.current < status.latest:
                raise StoreError(
                    f"the database schema for {status.component} is at version {status.current}, this bugwarden "
                    f"needs {status.latest}: run `bugwarden db migrate`"
                )


def _too_new(component: str, version: int) -> str:
    return (
        f"the database schema for {component} is at version {version}, newer than this bugwarden knows "
        f"({COMPONENTS[component][-1].version}): upgrade bugwarden"
    )
