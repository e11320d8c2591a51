"""The upstream quota ledger's rows, shared by every process and replica using a store: when requests were sent
per credential (`quota_sent`) and what the upstream last said about its limit (`quota_word`).

How long a request must wait is the pacing's to decide (backends/quota.py: `decide`); this repository runs that
decision inside one write transaction with what it reads, so that two replicas can never both take the last request
of a window. One SQL implementation serves both databases.

    quota = SqlQuotaRepository(store.state)
    wait = quota.reserve(key, now, said=None, forget_before=now - 120, max_block=3600, decide=paced)  # a `Decide`
    quota.block(key, (limit, remaining, now), until=now + retry_after)   # a 429
    quota.last_word(key)                                                  # (limit, remaining)
"""

from __future__ import annotations

from collections.abc import Callable

from .database import Database, Transaction

Said = tuple[int | None, int | None, float]
"""What one response said: (limit, remaining, when); None where it said nothing."""
Word = tuple[int | None, int | None, float, float]
"""What the upstream last said of a credential: (limit, remaining, when remaining was said, blocked until)."""
Decide = Callable[[list[float], Word], float]
"""The pacing decision: (the stored send times, the stored word) -> the wait before the next request (0: go)."""

_WORD = "SELECT lim, remaining, remaining_at, blocked_until FROM quota_word WHERE key = ?"


class SqlQuotaRepository:
    """The `quota_sent` and `quota_word` tables in SQL (SQLite and PostgreSQL): the `QuotaRecords` a StoredQuota
    asks (backends/quota.py names what it needs, as backends import no store). Every method raises StoreError when
    the store cannot be used."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def reserve(
        self, key: str, now: float, *, said: Said | None, forget_before: float, max_block: float, decide: Decide
    ) -> float:
        """In one write transaction: store `said` (what a response said since the last reserve, if anything),
        forget sends at or before `forget_before`, hold stored times to their lifetimes (nothing later than `now`,
        no block beyond `now + max_block`), ask `decide`, and record a send at `now` when it answers 0. Returns its
        answer."""
        with self.db.transaction(write=True) as tx:
            if said is not None:
                _write_word(tx, key, said, retry_until=None)
            tx.execute("DELETE FROM quota_sent WHERE key = ? AND at <= ?", (key, forget_before))
            # Rows dated beyond their lifetimes (a replica's clock ahead, an edited store) are held to them here, so
            # they age out as usual instead of blocking the credential for as long as they claim.
            tx.execute("UPDATE quota_sent SET at = ? WHERE key = ? AND at > ?", (now, key, now))
            tx.execute(
                "UPDATE quota_word SET blocked_until = ? WHERE key = ? AND blocked_until > ?",
                (now + max_block, key, now + max_block),
            )
            tx.execute("UPDATE quota_word SET remaining_at = ? WHERE key = ? AND remaining_at > ?", (now, key, now))
            sent = [float(r[0]) for r in tx.execute("SELECT at FROM quota_sent WHERE key = ?", (key,)).fetchall()]
            row = tx.execute(_WORD, (key,)).fetchone()
            word: Word = (row[0], row[1], float(row[2]), float(row[3])) if row else (None, None, 0.0, 0.0)
            wait = decide(sent, word)
            if wait <= 0:
                tx.execute("INSERT INTO quota_sent (key, at) VALUES (?, ?)", (key, now))
            return wait

    def block(self, key: str, said: Said, until: float) -> None:
        """Store what a 429 said, and that `key` may send nothing before `until` (a later block stands)."""
        with self.db.transaction(write=True) as tx:
            _write_word(tx, key, said, retry_until=until)

    def last_word(self, key: str) -> tuple[int | None, int | None]:
        """The stored (limit, remaining) for `key` ((None, None): nothing said yet)."""
        with self.db.transaction() as tx:
            row = tx.execute("SELECT lim, remaining FROM quota_word WHERE key = ?", (key,)).fetchone()
        return (row[0], row[1]) if row else (None, None)


def _write_word(tx: Transaction, key: str, said: Said, *, retry_until: float | None) -> None:
    """Merge what a response said into the stored word: what it did not say stays as it was."""
    limit, remaining, at = said
    row = tx.execute(_WORD, (key,)).fetchone()
    old_limit, old_remaining, old_at, old_blocked = row if row else (None, None, 0.0, 0.0)
    values = (
        limit if limit is not None else old_limit,
        remaining if remaining is not None else old_remaining,
        at if remaining is not None else float(old_at),
        max(float(old_blocked), retry_until) if retry_until is not None else float(old_blocked),
    )
    if row:
        tx.execute(
            "UPDATE quota_word SET lim = ?, remaining = ?, remaining_at = ?, blocked_until = ? WHERE key = ?",
            (*values, key),
        )
    else:
        tx.execute(
            "INSERT INTO quota_word (key, lim, remaining, remaining_at, blocked_until) VALUES (?, ?, ?, ?, ?)",
            (key, *values),
        )
