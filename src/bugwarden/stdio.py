"""Serving MCP over stdin/stdout, for a host that launches bugwarden and for a person who runs it by hand.

A person who starts `bugwarden serve` or `bugwarden demo` in a terminal sees one line on stderr saying that the
server waits for a client and how to stop it. Ctrl-C (SIGINT) and SIGTERM both stop the server at once: the
cleanup runs (closing the store, deleting the demo's throw-away state) and the process exits, 130 after Ctrl-C
and 0 after SIGTERM. Closing stdin (a host disconnecting, Ctrl-D) ends the server normally, with exit 0.

Stopping does not wait for stdin: it is read in a worker thread that nothing can interrupt, so after the cleanup
the process leaves with `os._exit`. The cleanup runs on the event loop's thread, between calls' awaits, so a
store transaction in flight finishes first (the store's close waits for it).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import Any, Protocol, TextIO

import anyio
import anyio.abc

log = logging.getLogger("bugwarden")

NOTICE = "bugwarden: waiting for an MCP client on stdin (this is an MCP server, not a prompt); Ctrl-C stops"
EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 0}


class StdioServer(Protocol):
    async def run_stdio_async(self) -> None: ...


def announce(stdin: TextIO | None = None, stderr: TextIO | None = None) -> bool:
    """Print the one-line notice on stderr when stdin is a terminal (a person, not a host); say whether it did."""
    stdin, stderr = stdin or sys.stdin, stderr or sys.stderr
    try:
        interactive = stdin.isatty()
    except (AttributeError, ValueError):  # a closed or replaced stdin
        interactive = False
    if interactive:
        print(NOTICE, file=stderr, flush=True)
    return interactive


def stop_at_once(cleanup: Callable[[], None]) -> None:
    """Until the event loop takes over: SIGINT and SIGTERM run `cleanup` and exit (covers start-up)."""

    def stop(signum: int, frame: object) -> None:
        cleanup()
        os._exit(EXIT_CODES.get(signal.Signals(signum), 0))

    for signum in EXIT_CODES:
        signal.signal(signum, stop)


def serve_stdio(
    server: StdioServer,
    *,
    cleanup: Callable[[], None],
    serving: str,
    beside: Callable[[], Coroutine[Any, Any, object]] | None = None,
) -> int:
    """Serve MCP on stdio until stdin closes (exit 0) or a signal stops it (see the module docstring).

    `serving` is logged once the signal handlers are in place, so a host that stops the server as soon as it
    reads that line finds them installed. `beside` runs alongside (the demo's sandbox) and is cancelled when
    stdin closes. `cleanup` runs exactly once, whichever way the server stops.
    """
    cleanup = _once(cleanup)
    announce()

    async def on_signal(*, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        with anyio.open_signal_receiver(*EXIT_CODES) as signals:
            task_status.started()
            async for signum in signals:
                log.info("stopping (%s)", signal.Signals(signum).name)
                cleanup()
                sys.stderr.flush()
                os._exit(EXIT_CODES.get(signal.Signals(signum), 0))

    async def run() -> None:
        async with anyio.create_task_group() as tg:
            await tg.start(on_signal)
            if beside is not None:
                tg.start_soon(beside)
            log.info("%s", serving)
            await server.run_stdio_async()
            tg.cancel_scope.cancel()

    try:
        anyio.run(run)
    finally:
        cleanup()
    return 0


def _once(action: Callable[[], None]) -> Callable[[], None]:
    done = False

    def run_once() -> None:
        nonlocal done
        if not done:
            done = True
            action()

    return run_once
