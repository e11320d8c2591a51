"""The upstream client's response cache: fresh, then stale only where allowed, bounded, and dropped by writes."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from bugwarden.backends.bugsnag import BugsnagBackend
from bugwarden.backends.cache import ResponseCache
from bugwarden.backends.errors import UpstreamServerError
from bugwarden.config import Caching
from tests.conftest import API_PROJECT, FakeClock, make_settings

RESPONSE = httpx.Response(200)


def test_entries_are_fresh_for_their_ttl_then_stale_only_when_kept() -> None:
    clock = FakeClock(0)
    cache = ResponseCache(clock, stale_for=100)
    cache.put("stable", "a", RESPONSE, ttl=10, size=1, keep_stale=True)
    cache.put("list", "b", RESPONSE, ttl=10, size=1, keep_stale=False)
    assert cache.fresh("stable") is not None and cache.fresh("list") is not None
    clock.now = 11
    assert cache.fresh("stable") is None and cache.fresh("list") is None
    assert cache.stale("stable") is not None and cache.stale("list") is None
    clock.now = 111
    assert cache.stale("stable") is None and len(cache) == 0


def test_the_least_recently_used_go_first_past_the_entry_and_byte_bounds() -> None:
    cache = ResponseCache(FakeClock(0), max_entries=3, max_bytes=100)
    for key in "abc":
        cache.put(key, key, RESPONSE, ttl=60, size=10, keep_stale=False)
    assert cache.fresh("a") is not None  # a is now the most recently used
    cache.put("d", "d", RESPONSE, ttl=60, size=10, keep_stale=False)
    assert cache.fresh("b") is None and {k for k in "acd" if cache.fresh(k)} == set("acd")
    cache.put("big", "x", RESPONSE, ttl=60, size=90, keep_stale=False)
    assert cache.bytes <= 100 and cache.fresh("big") is not None and len(cache) == 2
    cache.put("huge", "x", RESPONSE, ttl=60, size=101, keep_stale=False)
    assert cache.fresh("huge") is None  # larger than the whole cache: not kept


def test_drop_forgets_stale_entries_too() -> None:
    clock = FakeClock(0)
    cache = ResponseCache(clock)
    cache.put("/projects/a?x", 1, RESPONSE, ttl=1, size=1, keep_stale=True)
    clock.now = 5
    cache.drop("/projects/a")
    assert cache.stale("/projects/a?x") is None and cache.bytes == 0


@pytest.mark.anyio
async def test_a_write_means_no_stale_answer_is_served_for_what_it_changed(sandbox: Starlette, home: Path) -> None:
    clock = FakeClock()
    settings = make_settings(home, caching=Caching(ttl=10, fresh=0, stale_for=600))
    b = BugsnagBackend(
        settings, transport=httpx.ASGITransport(app=sandbox), sleep=clock.sleep, clock=clock, wall_clock=clock
    )
    await b.get_project(API_PROJECT)
    clock.now += 20
    sandbox.state.control.faults.fail_next(100, 503)
    await b.get_project(API_PROJECT)  # stale, served
    b.http.invalidate(f"/projects/{API_PROJECT}")
    with pytest.raises(UpstreamServerError):
        await b.get_project(API_PROJECT)
