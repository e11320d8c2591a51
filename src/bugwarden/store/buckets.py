"""Per-key call budgets (GCRA, a token bucket kept as one 'theoretical arrival time' per key), in the store.

A key may make `limit` calls a minute, up to `limit` at once after a quiet minute. A call over the budget
is told how long until it may go; `take` records it only if that wait is acceptable to the caller, so a
refused call costs nothing. Being in the store, the budget holds across every process sharing it.
"""

from __future__ import annotations

from .database import Database

WINDOW = 60.0


def gcra(tat: float | None, now: float, limit: int, burst: int) -> tuple[float, float]:
    """(the wait before this call may go, the new arrival time if it does)."""
    interval = WINDOW / limit
    start = max(tat if tat is not None else now, now)
    allowed_at = start - (burst - 1) * interval
    return max(0.0, allowed_at - now), start + interval


class CallBudgets:
    def __init__(self, db: Database, limit: int, burst: int | None = None) -> None:
        if limit <= 0:
            raise ValueError("a call budget needs a positive limit")
        self.db = db
        self.limit = limit
        self.burst = burst or limit

    def ceiling(self, now: float) -> float:
        """The latest arrival time a key can truly have: its whole burst spent, and a window of waits beyond."""
        return now + self.burst * WINDOW / self.limit + WINDOW

    def take(self, key: str, now: float, max_wait: float) -> float:
        """Spend one call for `key`: returns the wait (0: go now) if it is at most `max_wait` (the call is then
        counted and must wait that long); otherwise counts nothing and returns the (longer) wait."""
        with self.db.transaction(write=True) as tx:
            row = tx.execute("SELECT tat FROM buckets WHERE key = ?", (key,)).fetchone()
            stored = float(row[0]) if row else None
            if stored is not None and stored > (ceiling := self.ceiling(now)):
                # Dated beyond its lifetime (a clock ahead, an edited store): held to it, so it ages out as usual.
                stored = ceiling
                tx.execute("UPDATE buckets SET tat = ? WHERE key = ?", (stored, key))
            wait, tat = gcra(stored, now, self.limit, self.burst)
            if wait > max_wait:
                return wait
            if row:
                tx.execute("UPDATE buckets SET tat = ? WHERE key = ?", (tat, key))
            else:
                tx.execute("INSERT INTO buckets (key, tat) VALUES (?, ?)", (key, tat))
            if not row:
                tx.execute("DELETE FROM buckets WHERE tat < ?", (now - WINDOW,))  # idle keys expire
            return wait
