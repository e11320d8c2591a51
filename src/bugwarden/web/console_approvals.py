"""The console's Approvals page: destructive calls from clients that could not ask their user, waiting for a person
(`BUGWARDEN_CONFIRM=approval`). Each shows who asked, the tool, its target and the exact validated arguments, and
when it expires, with `Approve` and `Reject`; deciding goes through the same desk as `bugwarden approvals
approve|reject` (single-use, bound to the call, audited with the person's name). For people added with `--admin`.

    GET  /console/approvals                 pending ones (oldest first) and the latest decided
    POST /console/approvals/{id}/approve
    POST /console/approvals/{id}/reject
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ..guard.approvals import ApprovalDesk
from ..guard.audit import AuditError
from ..store.approvals import Approval, ApprovalError, ApprovalStore
from .site import check_csrf, redirect, render, require_admin, web_of


def _desk(request: Request) -> ApprovalDesk:
    web = web_of(request)
    # Approvals carry the wall-clock times the MCP server wrote them with.
    return ApprovalDesk(ApprovalStore(web.store.state, clock=time.time), web.audit)


def _when(moment: float | None) -> str:
    if moment is None:
        return ""
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _view(approval: Approval, now: float) -> dict[str, object]:
    left = max(0, int(approval.expires_at - now))
    return {
        "id": approval.id,
        "state": approval.state(now),
        "who": approval.principal_name,
        "who_id": approval.principal_id,
        "tool": approval.tool,
        "targets": sorted(approval.targets.items()),
        "arguments": sorted(approval.arguments.items()),
        "question": approval.question,
        "created": _when(approval.created_at),
        "expires": _when(approval.expires_at),
        "minutes_left": (left + 59) // 60,
        "decided_by": approval.decided_by or "",
        "decided": _when(approval.decided_at),
    }


async def approvals_page(request: Request, *, problem: str = "", status: int = 200) -> Response:
    await require_admin(request)
    desk = _desk(request)
    pending, recent = await anyio.to_thread.run_sync(lambda: (desk.pending(), desk.recent(20)))
    now = time.time()
    return render(
        request,
        "console/approvals.html",
        status=status,
        section="approvals",
        pending=[_view(a, now) for a in pending if a.state(now) == "pending"],
        recent=[_view(a, now) for a in recent if a.state(now) != "pending"],
        problem=problem,
        message="Done." if request.query_params.get("done") else "",
    )


async def _decide(request: Request, action: str) -> Response:
    person = await require_admin(request)
    await check_csrf(request)
    desk = _desk(request)
    approval_id = str(request.path_params["approval_id"])[:60]
    decide = desk.approve if action == "approve" else desk.reject
    try:
        await anyio.to_thread.run_sync(lambda: decide(approval_id, person.name, via="console"))
    except ApprovalError as exc:
        return await approvals_page(request, problem=str(exc), status=409)
    except AuditError:
        return await approvals_page(
            request, problem="The audit log cannot record this decision, so it was not made.", status=503
        )
    return redirect(request, "/console/approvals?done=1")


async def approve(request: Request) -> Response:
    return await _decide(request, "approve")


async def reject(request: Request) -> Response:
    return await _decide(request, "reject")


def routes() -> list[BaseRoute]:
    return [
        Route("/console/approvals", approvals_page, methods=["GET"]),
        Route("/console/approvals/{approval_id}/approve", approve, methods=["POST"]),
        Route("/console/approvals/{approval_id}/reject", reject, methods=["POST"]),
    ]
