"""How long store work may wait, and the worker threads it runs in.

Store calls block (SQLite's file lock, a PostgreSQL lock or pool), so they run in worker threads. Two rules keep a
stalled store from stalling the server:

- **Waits are bound by the call's deadline.** `bounded(until)` sets, for everything the current call does, the
  monotonic time by which store waits must end; the databases read it (`wait_limit`) to bound their lock and busy
  waits, and `in_store_thread` bounds the wait for a thread. A step that starts past the deadline still gets
  `MIN_WAIT` seconds, so a call that spent its time upstream can still record its outcome.
- **Token checks run apart.** `in_token_thread` uses its own threads, so calls parked on a locked audit file never
  hold up checking a bearer token, opening a session or listing tools.

    with bounded(time.monotonic() + 45):
        seq = await in_store_thread(audit.append, record)
    principal = await in_token_thread(tokens.verify, secret, "stdio")
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TypeVar, TypeVarTuple

import anyio
import anyio.to_thread
from anyio.lowlevel import RunVar

from .database import MIN_WAIT, StoreError, bounded, wait_limit

__all__ = ["MIN_WAIT", "bounded", "in_store_thread", "in_token_thread", "wait_limit"]

T = TypeVar("T")
Ts = TypeVarTuple("Ts")
TOKEN_WAIT = 5.0
"""The bound on a token check's store wait (it precedes every call and session)."""
STORE_THREADS = 32
TOKEN_THREADS = 8

_store_limiter: RunVar[anyio.CapacityLimiter] = RunVar("bugwarden_store_threads")
_token_limiter: RunVar[anyio.CapacityLimiter] = RunVar("bugwarden_token_threads")
_unlimited: RunVar[anyio.CapacityLimiter] = RunVar("bugwarden_unlimited_threads")


def _limiter(var: RunVar[anyio.CapacityLimiter], size: float) -> anyio.CapacityLimiter:
    try:
        return var.get()
    except LookupError:
        limiter = anyio.CapacityLimiter(size)
        var.set(limiter)
        return limiter


async def _run(limiter: anyio.CapacityLimiter, limit: float, fn: Callable[[*Ts], T], *args: *Ts) -> T:
    try:
        with anyio.fail_after(limit):
            await limiter.acquire()
    except TimeoutError:
        raise StoreError(f"no worker thread came free for the state store within {limit:.1f}s") from None
    try:
        # The thread is already counted against `limiter`; the run itself must not be cancelled half-way (a
        # committed write reported as failed), so it waits for the thread, whose own waits are bounded.
        return await anyio.to_thread.run_sync(fn, *args, limiter=_limiter(_unlimited, math.inf))
    finally:
        limiter.release()


async def in_store_thread(fn: Callable[[*Ts], T], *args: *Ts) -> T:
    """Run blocking store work in the store's own worker threads, waiting for one no longer than the bound."""
    return await _run(_limiter(_store_limiter, STORE_THREADS), wait_limit(), fn, *args)


async def in_token_thread(fn: Callable[[*Ts], T], *args: *Ts) -> T:
    """Run a token check in threads of its own (never queued behind parked store writes), its waits bounded by
    `TOKEN_WAIT`."""
    with bounded(time.monotonic() + TOKEN_WAIT):
        return await _run(_limiter(_token_limiter, TOKEN_THREADS), TOKEN_WAIT, fn, *args)
