"""The grid per project in a real headless Chromium: a team lead turns "Resolve and update errors" Off in one of an
agent's projects, by the grid's labels within that project's section, and the agent's next resolve is refused
there and allowed in its other project."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette

from bugwarden.guard.tokens import TokenStore
from tests.browser import Chromium
from tests.conftest import API_PROJECT, WEB_PROJECT
from tests.snapshot import text_of
from tests.web.helpers import PASSWORD, site
from tests.web.test_console_browser import shot
from tests.web.test_console_projects import ON_API, ON_WEB, call

pytestmark = pytest.mark.anyio


async def test_a_row_turned_off_in_one_project_refuses_there_only(
    sandbox: Starlette, home: Path, chromium: Chromium
) -> None:
    async with site(sandbox, home) as s:
        s.add_person("lead", bundle="admin", admin=True)
        info, secret = TokenStore(s.store.tokens).create("triage-bot", "triage", [API_PROJECT, WEB_PROJECT])

        def turn_off(page: Any) -> str:
            page.goto(f"{s.url}/signin?next=/console")
            page.get_by_label("Name").fill("lead")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.get_by_role("link", name="Agents").click()
            page.get_by_role("link", name="triage-bot").click()
            web = page.get_by_role("region", name="Project Web Frontend")
            web.get_by_label("Resolve and update errors").select_option("Off")
            web.get_by_role("button", name="Save").click()
            page.get_by_role("status").filter(has_text="Saved.").wait_for()
            shot(page, "agent-projects")
            api = page.get_by_role("region", name="Project Api Server")
            return str(api.get_by_label("Resolve and update errors").input_value())

        assert await chromium.arun(turn_off) == "Full"
        assert not (await call(s.url, secret, "resolve_error", ON_API)).is_error
        refused = await call(s.url, secret, "resolve_error", ON_WEB)
        assert refused.is_error and "needs the errors:write scope" in text_of(refused)
        assert [r["tool"] for r in s.audit() if r["tool"].startswith("console.")] == ["console.access"]
        assert TokenStore(s.store.tokens).get(info.id).project_scopes[WEB_PROJECT] == {"errors:read", "projects:read"}
