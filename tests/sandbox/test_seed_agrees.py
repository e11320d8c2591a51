"""The demo's data agree with themselves: counts, pages, trends, pivots, first/last seen, users, and code snippets
that belong to their stack frames (what `bugwarden demo` shows a new user must not contradict itself)."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from starlette.applications import Starlette

from bugwarden.sandbox.bugsnag_seed import ADMIN_TOKEN, NOW, SeedError, build_world, iso

pytestmark = pytest.mark.anyio
AUTH = {"Authorization": f"token {ADMIN_TOKEN}"}
WORLD = build_world()
ERRORS = sorted(WORLD.errors.values(), key=lambda seed: seed.data["id"])


@pytest.mark.parametrize("seed", ERRORS, ids=[s.data["id"] for s in ERRORS])
def test_an_errors_counts_are_its_events(seed: SeedError) -> None:
    data, events = seed.data, seed.events
    times = sorted(e["received_at"] for e in events)
    assert data["events"] == data["unthrottled_occurrence_count"] == len(events) == len({e["id"] for e in events})
    assert (data["first_seen"], data["last_seen"]) == (times[0], times[-1])
    assert data["users"] == len({e["user"]["id"] for e in events})
    window = iso(NOW - timedelta(days=30))
    assert sum(seed.daily) == sum(1 for t in times if t >= window)
    assert len(set(times)) == len(times), "keyset paging needs distinct times"
    for event in events:
        stamps = [c["timestamp"] for c in event["breadcrumbs"]]
        assert all(s <= event["received_at"] for s in stamps), "breadcrumbs come before their event"
        assert event["app"]["releaseStage"] in data["release_stages"]


@pytest.mark.parametrize("seed", ERRORS, ids=[s.data["id"] for s in ERRORS])
def test_a_snippet_is_its_frames_code(seed: SeedError) -> None:
    for event in seed.events[:5]:
        for exception in event["exceptions"]:
            for frame in exception["stacktrace"]:
                if "code" not in frame:
                    continue
                code, line, method = frame["code"], frame["line_number"], frame["method"]
                assert str(line) in code and method in code[min(code, key=int)]
                failing = code[str(line)]
                assert "result =" in failing or "throw" in failing or "raise" in failing, failing


async def test_the_api_agrees_with_itself(sandbox: Starlette) -> None:
    """Listing an error's events pages through exactly its count; trend buckets and pivots add up to it."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox), base_url="http://sb.test") as http:
        project = next(p for p in WORLD.projects.values() if p["slug"] == "api-server")["id"]
        errors = (await http.get(f"/projects/{project}/errors", headers=AUTH, params={"per_page": 100})).json()
        for error in errors:
            path = f"/projects/{project}/errors/{error['id']}"
            first = await http.get(f"{path}/events", headers=AUTH, params={"per_page": 100})
            assert int(first.headers["X-Total-Count"]) == error["events"]
            seen, url = [e["id"] for e in first.json()], first.links.get("next", {}).get("url")
            while url:
                page = await http.get(url, headers=AUTH)
                seen += [e["id"] for e in page.json()]
                url = page.links.get("next", {}).get("url")
            assert len(seen) == len(set(seen)) == error["events"]
            trend = (await http.get(f"{path}/trend", headers=AUTH, params={"buckets_count": 30})).json()
            in_window = sum(
                1 for s in WORLD.errors[error["id"]].events if s["received_at"] >= iso(NOW - timedelta(days=30))
            )
            assert sum(b["events_count"] for b in trend) == in_window
            pivots = (await http.get(f"{path}/pivots", headers=AUTH, params={"summary_size": 100})).json()
            for pivot in pivots:
                summary = pivot["summary"]
                assert (
                    sum(v["events"] for v in summary["list"]) + summary["no_value"] + summary["other"]
                    == error["events"]
                ), pivot["event_field_display_id"]


def test_a_releases_error_counts_are_the_errors_it_introduced_and_saw() -> None:
    """`list_releases` says how many errors a release introduced; `list_errors` with introduced_in must list
    exactly that many (the demo's release questions have one answer)."""
    for pid, releases in WORLD.releases.items():
        mine = [e for e in ERRORS if e.data["project_id"] == pid]
        for rel in releases:
            introduced = [e for e in mine if rel["id"] in {r["release_id"] for r in e.data["introduced_in_releases"]}]
            assert rel["errors_introduced_count"] == len(introduced), rel["id"]
            seen = [
                e
                for e in mine
                if any(
                    ev["app"]["version"] == rel["app_version"]
                    and ev["app"]["releaseStage"] == rel["release_stage"]["name"]
                    for ev in e.events
                )
            ]
            assert rel["errors_seen_count"] == len(seen), rel["id"]
