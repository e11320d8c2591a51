"""A real headless Chromium for page tests, driven by Playwright's API by the pages' accessible labels.

One browser serves the whole test session (started on first use, about a second); each `run` gets a fresh
context (its own cookies and storage), so tests do not see each other's sign-ins. Playwright's sync API is
bound to the thread that started it, so the browser lives in one worker thread and tests hand it functions:

    def test_sign_in(chromium):
        chromium.run(lambda page: page.goto(url) ...)          # from a sync test
    async def test_sign_in(chromium):
        await chromium.arun(lambda page: ...)                   # from an anyio test (the server keeps running)

The browser is Debian's `chromium` (`/usr/bin/chromium`, or BUGWARDEN_TEST_CHROMIUM): Playwright cannot
download its own here, and `.ci/run` installs the package when it is missing. Without it, browser tests skip.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import anyio.to_thread
import pytest

T = TypeVar("T")
CHROMIUM = os.environ.get("BUGWARDEN_TEST_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 15_000


class Chromium:
    """One Chromium process; `run(fn)` calls `fn(page)` on a new page in a fresh context, in the browser's thread."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chromium")
        self._pool.submit(self._start).result()

    def _start(self) -> None:
        from playwright.sync_api import sync_playwright

        self._playwright = sync_playwright().start()
        # Playwright gives the browser a fresh, throw-away profile directory (its own --user-data-dir), so
        # nothing from a developer's own browser leaks in.
        self._browser = self._playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)

    def _run(self, fn: Callable[[Any], T]) -> T:
        context = self._browser.new_context()
        context.set_default_timeout(TIMEOUT_MS)
        try:
            return fn(context.new_page())
        finally:
            context.close()

    def run(self, fn: Callable[[Any], T]) -> T:
        """`fn(page)` on a new page in a fresh browser context; returns what `fn` returns."""
        return self._pool.submit(self._run, fn).result()

    async def arun(self, fn: Callable[[Any], T]) -> T:
        """`run` from async code: the event loop (and a server running on it) goes on while the browser works."""
        return await anyio.to_thread.run_sync(self.run, fn)

    def close(self) -> None:
        def stop() -> None:
            self._browser.close()
            self._playwright.stop()

        self._pool.submit(stop).result()
        self._pool.shutdown()


@pytest.fixture(scope="session")
def chromium() -> Iterator[Chromium]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium; .ci/run does)")
    try:
        import playwright  # noqa: F401
    except ImportError:
        pytest.skip("the playwright package is not installed (pip install -e '.[dev]')")
    browser = Chromium()
    try:
        yield browser
    finally:
        browser.close()
