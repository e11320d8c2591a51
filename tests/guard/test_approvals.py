"""A person's approval for changes from clients that cannot ask their user (`BUGWARDEN_CONFIRM=approval`).

The call creates a pending approval and answers at once; a person approves or rejects it from the shell (or the
console); the approval is single-use and bound to principal, tool and the validated arguments; a rejection binds
like a decline; every decision is audited with the approver's name.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client
from starlette.applications import Starlette

from bugwarden.cli import main as cli
from bugwarden.config import ConfigError, Settings
from bugwarden.guard.principal import Principal
from bugwarden.guard.scopes import BUNDLES
from bugwarden.sandbox.bugsnag_seed import oid
from bugwarden.store import Store
from bugwarden.store.approvals import ApprovalError, ApprovalStore
from tests.conftest import API_PROJECT, FakeClock, Servers, make_settings
from tests.snapshot import text_of

pytestmark = pytest.mark.anyio
ERROR = oid("error", "api-server", "0")
EVENT = oid("event", ERROR, "0")
OTHER_EVENT = oid("event", ERROR, "1")
AGENT = Principal(id="tok_agent", name="triage-bot", scopes=BUNDLES["admin"])
INTRUDER = Principal(id="tok_other", name="other-bot", scopes=BUNDLES["admin"])


def deletes(sandbox: Starlette) -> list[str]:
    return [r.path for r in sandbox.state.control.log if r.method == "DELETE"]


def approvals(home: Path) -> ApprovalStore:
    return ApprovalStore(Store.sqlite(home).state)


def approve(home: Path, approval_id: str, who: str = "alice", action: str = "approve") -> int:
    return cli(["approvals", action, approval_id, "--as", who])


@pytest.fixture(autouse=True)
def _home_env(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BUGWARDEN_HOME", str(home))


async def test_a_change_waits_for_a_person_and_is_made_once_approved(
    servers: Servers, sandbox: Starlette, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = servers(AGENT, settings=make_settings(home, toolsets="all", confirm="approval"))
    args = {"project_id": API_PROJECT, "event_id": EVENT}
    async with Client(server) as model:
        waiting = await model.call_tool("delete_event", args)
        approval_id = waiting.structured_content["approval_id"]
        assert not waiting.is_error and "waits for a person's approval" in text_of(waiting)
        assert f"bugwarden approvals approve {approval_id}" in text_of(waiting)
        assert waiting.structured_content["deleted"] is False and waiting.structured_content.get("confirm_code") is None
        again = await model.call_tool("delete_event", args)  # asking again finds the same approval
        assert again.structured_content["approval_id"] == approval_id
        sneaky = await model.call_tool("delete_event", {**args, "confirm": "cf_1_000000000000_" + "0" * 32})
        assert sneaky.structured_content["approval_id"] == approval_id  # a code counts for nothing here
        assert deletes(sandbox) == []

        assert cli(["approvals", "list"]) == 0
        listed = capsys.readouterr().out
        assert approval_id in listed and "triage-bot" in listed and "delete_event" in listed and EVENT in listed
        assert approve(home, approval_id) == 0
        assert "approved" in capsys.readouterr().out

        other = await model.call_tool("delete_event", {"project_id": API_PROJECT, "event_id": OTHER_EVENT})
        assert other.structured_content.get("approval_id") not in (None, approval_id)  # other arguments
        done = await model.call_tool("delete_event", args)
        assert not done.is_error and "Deleted event" in text_of(done) and "approved by alice" in text_of(done)
        after = await model.call_tool("delete_event", args)  # single-use: the next identical call waits again
        assert after.structured_content["approval_id"] not in (None, approval_id)
    assert deletes(sandbox) == [f"/projects/{API_PROJECT}/events/{EVENT}"]
    records = list(server.audit.records())
    decision = [r for r in records if r["tool"] == "approvals:approve" and r["phase"] == "result"]
    assert decision and decision[0]["principal_name"] == "alice" and decision[0]["consent"] == "approved by alice"
    made = [r for r in records if r["tool"] == "delete_event" and r["phase"] == "result" and r["outcome"] == "ok"]
    assert [r["consent"] for r in made if r["consent"].startswith("approved")] == [f"approved by alice ({approval_id})"]


async def test_an_approval_is_bound_to_the_principal_that_asked(
    servers: Servers, sandbox: Starlette, home: Path
) -> None:
    settings = make_settings(home, toolsets="all", confirm="approval")
    args = {"project_id": API_PROJECT, "event_id": EVENT}
    async with Client(servers(AGENT, settings=settings)) as model:
        approval_id = (await model.call_tool("delete_event", args)).structured_content["approval_id"]
    assert approve(home, approval_id) == 0
    async with Client(servers(INTRUDER, settings=settings)) as intruder:
        theirs = await intruder.call_tool("delete_event", args)
    assert theirs.structured_content["approval_id"] != approval_id and deletes(sandbox) == []


async def test_a_rejection_binds_like_a_decline(servers: Servers, sandbox: Starlette, home: Path) -> None:
    args = {"project_id": API_PROJECT, "name": "renamed"}
    async with Client(servers(AGENT, settings=make_settings(home, toolsets="all", confirm="approval"))) as model:
        approval_id = (await model.call_tool("update_project", args)).structured_content["approval_id"]
        assert approve(home, approval_id, "bob", action="reject") == 0
        refused = await model.call_tool("update_project", args)
        assert refused.is_error and "(bob) rejected this change" in text_of(refused)
    async with Client(servers(AGENT, settings=make_settings(home, toolsets="all", confirm="code"))) as model:
        preview = await model.call_tool("update_project", args)  # no confirmation code after a rejection either
        assert preview.is_error and "declined" in text_of(preview)
    assert [r for r in sandbox.state.control.log if r.method == "PATCH"] == []
    assert approve(home, approval_id) == 1  # a decided approval cannot be decided again


def test_the_approval_store_is_single_use_and_expires(home: Path) -> None:
    clock = FakeClock()
    store = ApprovalStore(Store.sqlite(home).state, clock=clock, ttl=900)
    asked = store.request(
        "d1", principal_id="p", principal_name="n", tool="delete_event", targets={}, arguments={}, question="?"
    )
    assert store.redeem("d1") is None  # pending is not approved
    assert [a.id for a in store.pending()] == [asked.id]
    clock.now += 600
    approved = store.approve(asked.id, "alice")
    assert approved.expires_at == clock.now + 900  # time for the agent to call again
    with pytest.raises(ApprovalError, match="is approved, not pending"):
        store.reject(asked.id, "bob")
    used = store.redeem("d1")
    assert used is not None and used.status == "used" and store.redeem("d1") is None
    late = store.request(
        "d2", principal_id="p", principal_name="n", tool="delete_event", targets={}, arguments={}, question="?"
    )
    clock.now += 901
    assert store.pending() == [] and late.id not in {a.id for a in store.pending()}
    with pytest.raises(ApprovalError, match="expired"):
        store.approve(late.id, "alice")
    with pytest.raises(ApprovalError, match="no approval"):
        store.approve("apv_nope", "alice")


def test_the_confirm_policy_is_configured_and_defaults_by_transport(home: Path) -> None:
    assert Settings.from_env({}).confirm_policy("http") == "approval"
    assert Settings.from_env({}).confirm_policy("stdio") == "code"
    assert Settings.from_env({"BUGWARDEN_CONFIRM": "code"}).confirm_policy("http") == "code"
    assert Settings.from_env({"BUGWARDEN_CONFIRM": "approval"}).confirm_policy("stdio") == "approval"
    with pytest.raises(ConfigError, match="BUGWARDEN_CONFIRM"):
        Settings.from_env({"BUGWARDEN_CONFIRM": "yes"})


def test_doctor_reports_the_confirm_policy(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cli(["doctor"])
    assert "confirm policy" in capsys.readouterr().out


@pytest.mark.parametrize("decision", ["approve", "reject"])
async def test_a_client_showing_progress_waits_briefly_for_the_person(
    servers: Servers, sandbox: Starlette, home: Path, decision: str
) -> None:
    """With a progress token the call waits (briefly, with progress notifications) for the decision."""
    import anyio.to_thread

    server = servers(AGENT, settings=make_settings(home, toolsets="all", confirm="approval"))
    desk = server.checkpoint.approvals
    assert desk is not None
    heard: list[str | None] = []

    async def person_decides(progress: float, total: float | None, message: str | None) -> None:
        heard.append(message)
        if len(heard) == 1:
            (waiting,) = await anyio.to_thread.run_sync(desk.pending)
            await anyio.to_thread.run_sync(getattr(desk, decision), waiting.id, "carol")

    args = {"project_id": API_PROJECT, "event_id": EVENT}
    async with Client(server) as model:
        result = await model.call_tool("delete_event", args, progress_callback=person_decides)
    assert heard and "a person's approval" in str(heard[0])
    if decision == "approve":
        assert not result.is_error and "approved by carol" in text_of(result)
        assert deletes(sandbox) == [f"/projects/{API_PROJECT}/events/{EVENT}"]
    else:
        assert result.is_error and "(carol) rejected this change" in text_of(result)
        assert deletes(sandbox) == []
