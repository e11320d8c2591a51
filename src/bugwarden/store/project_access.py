"""What an agent limited to projects may do in each of them, and the names of the projects the console has seen.

An agent (a static token, or an OAuth grant stored as one) holds one set of scopes in `tokens.scopes`. Once an admin
sets its access for one of its projects, every project it is limited to gets a row here (each starting from the
scopes it held), and `tokens.scopes` becomes the union of the rows: what the agent may do somewhere, which decides
the tools it sees; the guard then checks the row of the project a call acts on. An agent without rows has the same
scopes everywhere it may go. Every replica reads the rows at the agent's next request, as it reads the token.

    access = ProjectAccess(store.tokens)
    access.of("tok_1")                                  -> {"p1": frozenset({...}), ...} (empty: the same everywhere)
    access.set_project("tok_1", "p2", scopes, limits)   -> the token's scopes after (the union)
    ProjectNames(store.tokens).remember([("p1", "Checkout")]); .names(["p1"]) -> {"p1": "Checkout"}
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime

from .database import Database, StoreError

NAME_LIMIT = 200


def _scopes(text: str) -> frozenset[str]:
    return frozenset(str(s) for s in json.loads(text))


class ProjectAccess:
    """The `token_project_scopes` table."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def of(self, token_id: str) -> dict[str, frozenset[str]]:
        """The per-project scopes of one agent (empty when it has the same scopes everywhere)."""
        with self.db.transaction() as tx:
            rows = tx.execute(
                "SELECT project_id, scopes FROM token_project_scopes WHERE token_id = ?", (token_id,)
            ).fetchall()
        return {str(r[0]): _scopes(str(r[1])) for r in rows}

    def every(self) -> dict[str, dict[str, frozenset[str]]]:
        """The per-project scopes of every agent that has some (token id -> project -> scopes)."""
        with self.db.transaction() as tx:
            rows = tx.execute("SELECT token_id, project_id, scopes FROM token_project_scopes").fetchall()
        found: dict[str, dict[str, frozenset[str]]] = {}
        for token_id, project_id, scopes in rows:
            found.setdefault(str(token_id), {})[str(project_id)] = _scopes(str(scopes))
        return found

    def set_project(
        self, token_id: str, project_id: str, scopes: frozenset[str], projects: frozenset[str]
    ) -> frozenset[str]:
        """Set what a live agent limited to `projects` may do in `project_id`, in one transaction: its other
        projects keep what they have (the token's scopes, for those without a row yet), and the token's scopes
        become the union. Returns that union; StoreError when the agent is gone, revoked or not limited so."""
        if project_id not in projects:
            raise StoreError(f"project {project_id!r} is not one this agent is limited to")
        with self.db.transaction(write=True) as tx:
            row = tx.execute("SELECT scopes FROM tokens WHERE id = ? AND revoked_at IS NULL", (token_id,)).fetchone()
            if row is None:
                raise StoreError(f"no live agent with id {token_id!r}")
            held = _scopes(str(row[0]))
            rows = {
                str(r[0]): _scopes(str(r[1]))
                for r in tx.execute(
                    "SELECT project_id, scopes FROM token_project_scopes WHERE token_id = ?", (token_id,)
                ).fetchall()
            }
            grid = {p: rows.get(p, held) for p in projects}
            grid[project_id] = scopes
            for project, granted in grid.items():
                text = json.dumps(sorted(granted))
                if project in rows:
                    tx.execute(
                        "UPDATE token_project_scopes SET scopes = ? WHERE token_id = ? AND project_id = ?",
                        (text, token_id, project),
                    )
                else:
                    tx.execute(
                        "INSERT INTO token_project_scopes (token_id, project_id, scopes) VALUES (?, ?, ?)",
                        (token_id, project, text),
                    )
            union = frozenset().union(*grid.values())
            tx.execute("UPDATE tokens SET scopes = ? WHERE id = ?", (json.dumps(sorted(union)), token_id))
        return union


class ProjectNames:
    """The `project_names` table: what trackers called each project when bugwarden last listed it. Names come from
    upstream and are data: whoever shows them cleans and escapes them."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def remember(self, projects: Iterable[tuple[str, str]]) -> None:
        now = datetime.now(UTC).isoformat()
        pairs = [(str(i)[:200], str(n)[:NAME_LIMIT]) for i, n in projects if i and n]
        if not pairs:
            return
        with self.db.transaction(write=True) as tx:
            for project_id, name in pairs:
                updated = tx.execute(
                    "UPDATE project_names SET name = ?, seen_at = ? WHERE project_id = ?", (name, now, project_id)
                ).rowcount
                if updated == 0:
                    tx.execute(
                        "INSERT INTO project_names (project_id, name, seen_at) VALUES (?, ?, ?)",
                        (project_id, name, now),
                    )

    def names(self, project_ids: Iterable[str]) -> dict[str, str]:
        """id -> name for those of `project_ids` bugwarden has seen listed."""
        query = "SELECT project_id, name FROM project_names WHERE project_id IN ({})"
        rows = _rows_where_in(self.db, query, project_ids)
        return {str(r[0]): str(r[1]) for r in rows}


class ErrorTitles:
    """What webhook deliveries called errors (the `signals` table of the hooks store): `Class: message`, from the
    newest delivery naming each error. Data from upstream, like project names."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def titles(self, error_ids: Iterable[str]) -> dict[str, str]:
        query = "SELECT error_id, error_class, message FROM signals WHERE error_id IN ({}) ORDER BY seq"
        found: dict[str, str] = {}
        for error_id, error_class, message in _rows_where_in(self.db, query, error_ids):
            title = ": ".join(str(p) for p in (error_class, message) if p)
            if title:
                found[str(error_id)] = title[:NAME_LIMIT]
        return found


def _rows_where_in(db: Database, query: str, ids: Iterable[str], chunk: int = 200) -> list[tuple[object, ...]]:
    """The rows of `query` (its `{}` is the IN list) for `ids`, asked `chunk` at a time in one transaction, in
    order within each chunk: placeholders only go into the text, the ids are parameters."""
    wanted = sorted({str(i) for i in ids})
    rows: list[tuple[object, ...]] = []
    with db.transaction() as tx:
        for start in range(0, len(wanted), chunk):
            part = wanted[start : start + chunk]
            rows += tx.execute(query.format(", ".join("?" for _ in part)), part).fetchall()
    return rows
