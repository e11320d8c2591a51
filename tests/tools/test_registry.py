"""Conventions every registered tool must keep; the registry is the source of truth."""

from __future__ import annotations

import inspect
import re
import typing
from pathlib import Path

import pytest

from bugwarden.call.call import AccountCall, FeedCall, ListingCall, ProjectCall, ProjectOrAccountCall
from bugwarden.call.consent import Consent
from bugwarden.call.scopes import SCOPES
from bugwarden.tools import REGISTRY

CORE = {
    "list_projects",
    "list_errors",
    "get_error",
    "list_events",
    "get_event",
    "get_latest_event",
    "resolve_error",
    "update_error",
    "get_bug_context",
    "generate_fix_prompt",
}
WRITE_SCOPES = frozenset({"errors:write", "errors:delete", "projects:admin"})
"""The scopes that allow changing something: write tools need one, read tools none."""
README = Path(__file__).parents[2] / "README.md"
REACH_OF = {
    ProjectCall: "project",
    AccountCall: "account",
    ProjectOrAccountCall: "account",
    ListingCall: "listing",
    FeedCall: "feed",
}


def test_the_design_names_are_all_registered_and_documented() -> None:
    assert set(REGISTRY) >= CORE
    readme = README.read_text()
    for name in REGISTRY:
        assert f"`{name}`" in readme, f"{name} is missing from the README's tools table"


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_tool_is_described_annotated_and_scoped(name: str) -> None:
    spec = REGISTRY[name]
    doc = (spec.fn.__doc__ or "").strip()
    assert 20 <= len(doc) <= 1000, "description missing or too long"
    assert spec.title and spec.scope in SCOPES
    assert not (spec.read_only and spec.destructive), "read-only tools cannot be destructive"
    if spec.read_only:
        assert spec.scope not in WRITE_SCOPES, "read tools must not need a write scope"
    else:
        assert spec.scope in WRITE_SCOPES, "write tools need a write scope"
    if spec.name.startswith(("list_", "get_", "generate_")):
        assert spec.read_only


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_the_target_a_tool_takes_matches_its_registered_reach(name: str) -> None:
    spec = REGISTRY[name]
    hints = typing.get_type_hints(spec.fn, include_extras=True)
    targets = [REACH_OF[h] for h in hints.values() if h in REACH_OF]
    assert targets == [spec.reach], "the checkpoint resolves the target the registry names, and the tool takes it"
    params = inspect.signature(spec.fn).parameters
    assert next(iter(params)) == "call", "the checkpoint hands the Call as the first argument"
    asks = spec.ask is not None
    assert asks == (Consent in hints.values()), "a tool that asks first takes the consent, and only then"
    assert asks == ("confirm" in params), "a tool that asks first offers `confirm` for clients that cannot ask"
    if spec.reach == "project":
        assert "project_id" in params


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_tool_has_a_whole_output_snapshot(name: str) -> None:
    snapshots = Path(__file__).parents[1] / "snapshots"
    found = [
        p.name
        for p in snapshots.glob("*.txt")
        if p.stem in (name, f"bugport_{name}") or p.stem.startswith((f"{name}_", f"bugport_{name}_"))
    ]
    assert found, f"{name} has no snapshot in tests/snapshots (see tests/tools/test_snapshots.py)"


def test_every_parameter_is_described_and_no_schema_uses_oneof() -> None:
    from bugwarden.services import sdk_tool

    undocumented = []
    for spec in REGISTRY.values():
        schema = sdk_tool(spec.name).parameters
        assert "call" not in schema.get("properties", {}), "the Call is handed by the checkpoint, not sent"
        assert "oneOf" not in str(schema), spec.name
        for prop, body in schema.get("properties", {}).items():
            if "description" not in body:
                undocumented.append(f"{spec.name}.{prop}")
        assert re.fullmatch(r"[a-z_]+", spec.name)
    assert undocumented == []


def test_the_default_tool_list_stays_small() -> None:
    assert len([s for s in REGISTRY.values() if s.toolset == "core"]) <= 12
    # The whole vendor API is reachable (issue 26); toolsets keep what a default client lists small.
    assert len(REGISTRY) <= 45
