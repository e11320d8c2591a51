"""`bugwarden doctor`: every check a user needs fails (exit 1) with the fix, and passes when all is well."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from bugwarden import doctor
from bugwarden.config import Settings
from bugwarden.guard.audit import AuditLog
from bugwarden.store import Store
from tests.conftest import bugport_settings, make_settings

pytestmark = pytest.mark.anyio
NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


class Dated(httpx.AsyncBaseTransport):
    """The sandbox, with the `Date` header a real upstream sends (set to `date`)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, date: datetime) -> None:
        self.inner, self.date = inner, date

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        response.headers["Date"] = format_datetime(self.date, usegmt=True)
        return response


def failures(lines: list[str]) -> list[str]:
    """Each failing check with its fix: 'FAIL what | fix: ...' (a report line is 'FAIL what\\n     fix: ...')."""
    return [" | ".join(part.strip() for part in line.split("\n")) for line in lines if line.startswith("FAIL")]


async def run(settings: Settings, sandbox: Starlette, upstream_now: datetime = NOW) -> tuple[bool, list[str]]:
    transport = Dated(httpx.ASGITransport(app=sandbox), upstream_now)
    return await doctor.run(settings, transport=transport, now=lambda: NOW)


async def test_all_well_passes_and_compares_the_clock(sandbox: Starlette, home: Path) -> None:
    ok, lines = await run(make_settings(home), sandbox, NOW - timedelta(seconds=30))
    assert ok, "\n".join(lines)
    assert "ok   clock: within 120 s of http://sandbox.test" in lines


@pytest.mark.parametrize(
    ("offset", "words"), [(timedelta(hours=-3), "3.0 h ahead of"), (timedelta(minutes=10), "10.0 min behind")]
)
async def test_a_clock_far_off_fails_with_the_fix(
    sandbox: Starlette, home: Path, offset: timedelta, words: str
) -> None:
    ok, lines = await run(make_settings(home), sandbox, NOW + offset)
    assert not ok
    assert failures(lines) == [
        f"FAIL clock: this machine is {words} http://sandbox.test | fix: set the clock right (e.g. `timedatectl "
        "set-ntp true`): token expiry and audit times depend on it"
    ]


async def test_an_upstream_without_a_date_header_is_not_compared(sandbox: Starlette, home: Path) -> None:
    ok, lines = await doctor.run(make_settings(home), transport=httpx.ASGITransport(app=sandbox))
    assert ok and "ok   clock: not compared (http://sandbox.test sent no usable Date header)" in lines


async def test_no_tracker_configured_fails_and_says_how_to_configure_one(home: Path) -> None:
    ok, lines = await doctor.run(Settings.from_env({}, home=str(home)))
    assert not ok
    assert failures(lines) == [
        "FAIL configured backends: none | fix: set BUGSNAG_AUTH_TOKEN (a BugSnag personal auth token) and/or "
        "BUGPORT_TOKEN (a BugPort scoped MCP token); to try bugwarden without an account, run `bugwarden demo`"
    ]


async def test_a_home_that_cannot_be_created_fails(sandbox: Starlette, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    home = blocker / "state"
    ok, lines = await run(make_settings(home), sandbox)
    assert not ok
    assert failures(lines) == [
        f"FAIL state directory {home} cannot be created: {blocker} is not a directory | fix: point BUGWARDEN_HOME "
        f"at a directory this user may create, or create it: mkdir -p -m 700 {home}"
    ]


async def test_a_home_that_is_a_file_fails(sandbox: Starlette, tmp_path: Path) -> None:
    home = tmp_path / "a-file"
    home.write_text("")
    ok, lines = await run(make_settings(home), sandbox)
    assert not ok
    assert failures(lines) == [
        f"FAIL state directory {home} is not a directory | fix: point BUGWARDEN_HOME at a directory"
    ]


async def test_a_missing_home_under_a_writable_directory_is_fine(sandbox: Starlette, tmp_path: Path) -> None:
    ok, lines = await run(make_settings(tmp_path / "deep" / "state"), sandbox)
    assert ok and "ok   state directory will be created on first use (owner-only permissions)" in lines
    assert not (tmp_path / "deep").exists(), "doctor created the state directory"


async def test_state_open_to_others_fails_with_chmod(sandbox: Starlette, home: Path) -> None:
    Store.sqlite(home).close()
    os.chmod(home, 0o755)
    ok, lines = await run(make_settings(home), sandbox)
    assert not ok and failures(lines) == [f"FAIL state directory permissions 0o755 | fix: chmod 700 {home}"]


async def test_a_tampered_audit_log_fails(sandbox: Starlette, home: Path) -> None:
    store = Store.sqlite(home)
    log = AuditLog(store.audit)
    for i in range(3):
        log.append({"tool": f"t{i}", "decision": "allowed", "phase": "result"})
    store.close()
    import sqlite3

    db = sqlite3.connect(home / "audit.sqlite3")
    db.execute("UPDATE audit SET record = replace(record, 't1', 'tX')")
    db.commit()
    db.close()
    ok, lines = await run(make_settings(home), sandbox)
    assert not ok and any(line.startswith("FAIL audit log:") for line in lines)


async def test_a_refused_agent_token_fails(sandbox: Starlette, home: Path) -> None:
    settings = make_settings(home, agent_token="bw_nope")
    ok, lines = await run(settings, sandbox)
    assert not ok and [f.split(" | ")[1] for f in failures(lines)] == [
        "fix: create a token with `bugwarden token create` and set it"
    ]


async def test_bugport_refusing_its_token_names_bugport_not_bugsnag(bugport_sandbox: Starlette, home: Path) -> None:
    ok, lines = await doctor.run(
        bugport_settings(home, "bp_wrong"), bugport_transport=httpx.ASGITransport(app=bugport_sandbox)
    )
    assert not ok and any("fix: check BUGPORT_TOKEN" in f for f in failures(lines))
    assert "BUGSNAG" not in "\n".join(lines)


async def test_an_unreachable_bugport_names_its_url(home: Path) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    ok, lines = await doctor.run(bugport_settings(home), bugport_transport=httpx.MockTransport(refuse))
    assert not ok
    assert [f.split(" | ")[1] for f in failures(lines)] == [
        "fix: check BUGPORT_API_URL and that this machine can reach it"
    ]


def test_the_command_exits_1_when_a_check_fails(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bugwarden", "doctor"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": os.environ.get("PATH", ""), "BUGWARDEN_HOME": str(tmp_path / "home")},
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "FAIL configured backends: none" in proc.stdout
    assert proc.stdout.rstrip().endswith("some checks failed: see the fix lines above")
