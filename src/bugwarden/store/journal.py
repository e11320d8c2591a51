"""The outage journal: records the audit store could not take, kept in a local file until it can.

While the state store is down (PostgreSQL stopped, a disk full, an audit file locked past a call's deadline) the
checkpoint still refuses calls, and those refusals must not vanish. Each one is appended, as one JSON line, to
`audit-journal.jsonl` under `BUGWARDEN_HOME` (owner-only, one file per host, shared by its processes under a file
lock). The next record that the store does take first moves the journal's lines into the hash chain, in the order
they were written, each marked `journaled` with the time it was refused (`journaled_at`), then empties the file.

The journal is bounded (`MAX_BYTES`): past it, a refusal is counted, not kept, and the count is recorded in the
chain when the store returns. A crash between moving the lines and emptying the file can repeat lines in the chain
(each carries its `invocation` id, so repeats are recognisable); nothing is lost.

    journal = Journal(home / "audit-journal.jsonl")
    journal.keep(record)                         # the store failed: keep it here
    journal.drain(append)                        # the store works again: append each kept record, then empty
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

log = logging.getLogger("bugwarden.store")
MAX_BYTES = 4 * 1024 * 1024
"""The most the journal holds (about 4,000 refusals); past it refusals are counted, not kept."""
FILE_NAME = "audit-journal.jsonl"


class Journal:
    def __init__(self, path: Path, max_bytes: int = MAX_BYTES) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.dropped = 0
        """Refusals this process could not keep (the journal was full or unwritable) since the last drain."""
        self._local = threading.local()
        self._lock = threading.Lock()

    def pending(self) -> bool:
        """Whether anything waits to be moved into the chain (a cheap check: one stat)."""
        try:
            return self.dropped > 0 or self.path.stat().st_size > 0
        except OSError:
            return False

    @property
    def draining(self) -> bool:
        """Whether this thread is moving the journal into the chain (its appends must not drain again)."""
        return bool(getattr(self._local, "draining", False))

    def keep(self, record: dict[str, Any]) -> bool:
        """Append one record the store could not take; False when it could not be kept (full, unwritable)."""
        line = json.dumps({**record, "journaled_at": _now()}, sort_keys=True, default=str) + "\n"
        try:
            with self._locked("a") as handle:
                handle.seek(0, os.SEEK_END)
                if handle.tell() + len(line.encode()) > self.max_bytes:
                    raise OverflowError
                handle.write(line)
                handle.flush()
                os.fsync(handle.fileno())
            return True
        except (OSError, OverflowError):
            with self._lock:
                self.dropped += 1
            log.error("the outage journal could not keep a refusal (%s is full or unwritable)", self.path)
            return False

    def drain(self, append: Callable[[dict[str, Any]], object]) -> int:
        """Move every kept record into the chain with `append` (which raises when the store fails: then the rest
        stays for the next drain), oldest first; returns how many were moved."""
        moved = 0
        self._local.draining = True
        try:
            with self._locked("r+") as handle:
                lines = handle.read().splitlines()
                try:
                    for number, line in enumerate(lines):
                        try:
                            record = json.loads(line)
                        except ValueError:
                            record = {"tool": "audit-journal", "reason": "an unreadable journal line was skipped"}
                        append({**(record if isinstance(record, dict) else {}), "journaled": True})
                        moved = number + 1
                finally:
                    handle.seek(0)
                    handle.truncate()
                    handle.write("".join(line + "\n" for line in lines[moved:]))
                    handle.flush()
                    os.fsync(handle.fileno())
            with self._lock:
                dropped, self.dropped = self.dropped, 0
            if dropped:
                try:
                    append(
                        {
                            "tool": "audit-journal",
                            "decision": "denied",
                            "phase": "result",
                            "outcome": "journal_full",
                            "reason": f"{dropped} refusals during a store outage could not be kept: the outage "
                            "journal was full or unwritable",
                            "journaled": True,
                        }
                    )
                except Exception:
                    with self._lock:
                        self.dropped += dropped
                    raise
        except FileNotFoundError:
            pass
        finally:
            self._local.draining = False
        return moved

    @contextlib.contextmanager
    def _locked(self, mode: str) -> Iterator[IO[str]]:
        """The journal file opened in `mode`, under an exclusive lock shared with the other processes of this host."""
        handle: IO[str]
        if mode == "a":
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
            handle = os.fdopen(fd, "a+", encoding="utf-8")
        else:
            handle = open(self.path, mode, encoding="utf-8")  # noqa: SIM115 - closed below
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            yield handle
        finally:
            handle.close()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
