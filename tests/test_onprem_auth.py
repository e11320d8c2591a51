"""On-premise BugSnag: a user's email and password over HTTP Basic with `X-Bugsnag-API: true`, as an alternative
to a personal auth token; never logged, audited or shown; doctor says which form is in use."""

from __future__ import annotations

import base64
import logging
from pathlib import Path

import httpx
import pytest
from mcp import Client
from starlette.applications import Starlette

from bugwarden import doctor
from bugwarden.app import build_server
from bugwarden.backends.bugsnag import BugsnagBackend
from bugwarden.config import ConfigError, Retries, Settings
from bugwarden.guard.principal import local_principal
from bugwarden.sandbox.bugsnag_app import SANDBOX_PASSWORD
from tests.conftest import API_PROJECT, SANDBOX_URL

EMAIL = "ada@acme.test"
pytestmark = pytest.mark.anyio


def onprem(home: Path, password: str = SANDBOX_PASSWORD) -> Settings:
    env = {"BUGSNAG_USER_EMAIL": EMAIL, "BUGSNAG_PASSWORD": password, "BUGSNAG_API_URL": SANDBOX_URL}
    return Settings.from_env(env, home=str(home), retries=Retries(attempts=0))


def test_email_and_password_configure_bugsnag_and_never_print(home: Path, tmp_path: Path) -> None:
    settings = onprem(home)
    assert settings.bugsnag_auth == "password" and settings.backends == ("bugsnag",)
    assert SANDBOX_PASSWORD not in repr(settings)
    secret_file = tmp_path / "password"
    secret_file.write_text(SANDBOX_PASSWORD + "\n")
    from_file = Settings.from_env({"BUGSNAG_USER_EMAIL": EMAIL, "BUGSNAG_PASSWORD_FILE": str(secret_file)})
    assert from_file.bugsnag_password is not None and from_file.bugsnag_password.reveal() == SANDBOX_PASSWORD
    with pytest.raises(ConfigError, match="go together"):
        Settings.from_env({"BUGSNAG_USER_EMAIL": EMAIL})
    with pytest.raises(ConfigError, match="choose one way"):
        Settings.from_env({"BUGSNAG_USER_EMAIL": EMAIL, "BUGSNAG_PASSWORD": "x", "BUGSNAG_AUTH_TOKEN": "t"})
    with pytest.raises(ConfigError, match="BUGSNAG_PASSWORD_FILE"):
        Settings.from_env({"BUGSNAG_USER_EMAIL": EMAIL, "BUGSNAG_PASSWORD_FILE": str(tmp_path / "missing")})


async def test_requests_sign_in_with_http_basic_and_the_on_premise_header(sandbox: Starlette, home: Path) -> None:
    backend = BugsnagBackend(onprem(home), transport=httpx.ASGITransport(app=sandbox))
    try:
        projects = await backend.list_projects()
    finally:
        await backend.aclose()
    assert API_PROJECT in {p.id for p in projects}
    assert all(r.status == 200 for r in sandbox.state.control.log)
    assert sandbox.state.control.log[0].token == "sandbox-admin-token"  # the user the email names


async def test_the_sandbox_refuses_a_wrong_password_or_a_missing_header(sandbox: Starlette) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox), base_url=SANDBOX_URL) as c:
        good = base64.b64encode(f"{EMAIL}:{SANDBOX_PASSWORD}".encode()).decode()
        bad = base64.b64encode(f"{EMAIL}:nope".encode()).decode()
        assert (await c.get("/user/organizations", headers={"Authorization": f"Basic {good}"})).status_code == 401
        headers = {"Authorization": f"Basic {bad}", "X-Bugsnag-API": "true"}
        assert (await c.get("/user/organizations", headers=headers)).status_code == 401
        headers = {"Authorization": f"Basic {good}", "X-Bugsnag-API": "true"}
        assert (await c.get("/user/organizations", headers=headers)).status_code == 200


async def test_the_password_is_never_logged_audited_or_answered(
    sandbox: Starlette, home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server = build_server(
        onprem(home), principal=local_principal("triage"), backend_transport=httpx.ASGITransport(app=sandbox)
    )
    try:
        async with Client(server) as client:
            listed = await client.call_tool("list_errors", {"project_id": API_PROJECT})
            assert not listed.is_error
            answered = str(listed.model_dump())
        audit = str(list(server.audit.records()))
    finally:
        server.close()
    encoded = base64.b64encode(f"{EMAIL}:{SANDBOX_PASSWORD}".encode()).decode()
    for said in (caplog.text, audit, answered):
        assert SANDBOX_PASSWORD not in said and encoded not in said


async def test_doctor_says_which_sign_in_is_in_use(sandbox: Starlette, home: Path) -> None:
    _, lines = await doctor.run(onprem(home), transport=httpx.ASGITransport(app=sandbox))
    assert any("BugSnag sign-in: an on-premise user's email and password over HTTP Basic" in line for line in lines)
    assert not any(SANDBOX_PASSWORD in line for line in lines)
    from tests.conftest import make_settings

    _, lines = await doctor.run(make_settings(home), transport=httpx.ASGITransport(app=sandbox))
    assert any("BugSnag sign-in: a personal auth token" in line for line in lines)


def test_connect_carries_the_on_premise_sign_in_and_treats_the_password_as_a_secret() -> None:
    from bugwarden import connect

    env = {"BUGSNAG_USER_EMAIL": EMAIL, "BUGSNAG_PASSWORD": SANDBOX_PASSWORD, "BUGSNAG_API_URL": SANDBOX_URL}
    launched = connect.launch(env, demo=False, command=["bugwarden"])
    assert launched.env["BUGSNAG_USER_EMAIL"] == EMAIL and "BUGSNAG_PASSWORD" in launched.env
    assert "BUGSNAG_PASSWORD" in connect.SECRETS
