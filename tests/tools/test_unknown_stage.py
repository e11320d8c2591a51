"""A release stage the project does not have, named to a listing that takes one: the answer says so and names
the stages it has, instead of "0 of 0" and a hint that cannot work (list_errors has done so since issue 26)."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client

from tests.conftest import API_PROJECT, Servers, admin_principal, make_settings
from tests.snapshot import text_of

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("tool", "argument", "title"),
    [
        ("list_releases", "release_stage", "Releases"),
        ("list_release_groups", "release_stage_name", "Release groups"),
        ("list_feature_flags", "release_stage_name", "Feature flags"),
    ],
)
async def test_an_unknown_release_stage_is_said_plainly_with_the_ones_there_are(
    servers: Servers, home: Path, tool: str, argument: str, title: str
) -> None:
    server = servers(admin_principal(), settings=make_settings(home, toolsets="all"))
    async with Client(server) as client:
        result = await client.call_tool(tool, {"project_id": API_PROJECT, argument: "prod"})
        text = text_of(result)
        assert not result.is_error
        assert f"no release stage by that name; it has these (pass one as {argument})" in text
        assert text.startswith(f"# {title}\nNo {title.lower()}: this project has no release stage")
        assert "production\nstaging" in text and "0 of 0" not in text and "More:" not in text
        known = await client.call_tool(tool, {"project_id": API_PROJECT, argument: "production"})
        assert "no release stage by that name" not in text_of(known)


async def test_no_flag_matching_a_name_search_is_said_as_such(servers: Servers, home: Path) -> None:
    server = servers(admin_principal(), settings=make_settings(home, toolsets="all"))
    async with Client(server) as client:
        args = {"project_id": API_PROJECT, "release_stage_name": "production"}
        searched = text_of(await client.call_tool("list_feature_flags", args | {"q": "no-such-flag"}))
        assert "No feature flag of this stage has that in its name." in searched
        assert "No feature flags seen in this stage" not in searched
