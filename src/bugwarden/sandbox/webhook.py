"""The simulated account's webhook (data forwarding): raise a new error in a project, and POST what BugSnag would.

    POST /_sandbox/projects/{project_id}/raise   {"error_class": "KeyError", "message": "'sku'", ...}

adds a new error with one event to the simulated API (so `get_error` on its id works) and fires the vendor's
payloads at every hook URL the sandbox was given (`bugwarden sandbox --hook URL`, or `control.hooks`): a
`firstException` and an `exception` delivery for the one event, as BugSnag sends both. The payloads have the
reference's shape and its quirks: camelCase keys, line numbers as strings, optional objects left out
(`app`, `device`, `user`, `metaData` and `breadcrumbs` only when there is something to say). Nothing here is
shared with bugwarden's receiver, so a shared misunderstanding cannot pass a test.
"""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime
from typing import Any

import httpx

from .bugsnag_seed import API, SeedError, World, iso, oid

DASHBOARD = "https://app.bugsnag.com"
TEST_ERROR_ID = "530c3522e694aae2f4000035"
_raised = itertools.count(1)


def _now() -> datetime:
    return datetime.now(UTC)


def _stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def raise_error(world: World, project_id: str, spec: dict[str, Any]) -> tuple[SeedError, dict[str, Any]]:
    """Add a new error with one event to `project_id` (KeyError unless `spec` says otherwise); returns both."""
    project = world.projects[project_id]
    n = next(_raised)
    now = _now()
    error_id = oid("error", "raised", project_id, str(n), now.isoformat())
    event_id = oid("event", error_id, "0")
    stage = str(spec.get("release_stage") or project["release_stages"][0])
    severity = str(spec.get("severity") or "error")
    error_class = str(spec.get("error_class") or "KeyError")
    message = str(spec.get("message") or f"'sku' (raised in the sandbox, #{n})")
    context = str(spec.get("context") or "POST /orders")
    version = str(spec.get("app_version") or "2.4.1")
    frames = [
        {
            "file": "orders/views.py",
            "method": "create_order",
            "line_number": 88,
            "column_number": 12,
            "in_project": True,
            "code": {"87": "for item in cart:", "88": "    sku = item['sku']"},
        },
        {
            "file": "site-packages/django/core/handlers/base.py",
            "method": "_get_response",
            "line_number": 197,
            "column_number": None,
            "in_project": False,
        },
    ]
    data: dict[str, Any] = {
        "id": error_id,
        "project_id": project_id,
        "url": f"{API}/projects/{project_id}/errors/{error_id}",
        "project_url": f"{API}/projects/{project_id}",
        "error_class": error_class,
        "message": message,
        "context": context,
        "severity": severity,
        "original_severity": severity,
        "overridden_severity": None,
        "events": 1,
        "events_url": f"{API}/projects/{project_id}/errors/{error_id}/events",
        "unthrottled_occurrence_count": 1,
        "users": 1,
        "first_seen": iso(now),
        "last_seen": iso(now),
        "first_seen_unfiltered": iso(now),
        "last_seen_unfiltered": iso(now),
        "status": "open",
        "reopen_rules": None,
        "assigned_collaborator_id": None,
        "assigned_team_id": None,
        "linked_issues": [],
        "created_issue": {},
        "comment_count": 0,
        "missing_dsyms": [],
        "release_stages": [stage],
        "grouping_reason": "frame-inner",
        "grouping_fields": {"file": "orders/views.py", "lineNumber": 88, "errorClass": error_class},
        "discarded": False,
        "introduced_in_releases": [],
    }
    event: dict[str, Any] = {
        "id": event_id,
        "url": f"{API}/projects/{project_id}/events/{event_id}",
        "project_url": f"{API}/projects/{project_id}",
        "is_full_report": True,
        "error_id": error_id,
        "received_at": iso(now),
        "exceptions": [{"error_class": error_class, "message": message, "type": "python", "stacktrace": frames}],
        "threads": [],
        "metaData": {"order": {"cart_size": 3}},
        "request": {},
        "app": {"version": version, "releaseStage": stage, "type": "python"},
        "device": {"hostname": "web-3", "osName": "linux", "time": iso(now)},
        "user": {"id": "u-1842", "email": "pat@shop.example"},
        "breadcrumbs": [],
        "context": context,
        "severity": severity,
        "unhandled": bool(spec.get("unhandled", severity == "error")),
        "feature_flags": [],
        "correlation": {},
    }
    seed = SeedError(data=data, daily=[0] * 29 + [1], events=[event])
    world.errors[error_id] = seed
    project["open_error_count"] = project.get("open_error_count", 0) + 1
    return seed, event


def _org_slug(world: World, project: dict[str, Any]) -> str:
    return str(world.organizations[project["organization_id"]]["slug"])


def delivery(world: World, seed: SeedError, event: dict[str, Any], trigger: str, message: str) -> dict[str, Any]:
    """The JSON BugSnag POSTs for `trigger` about `event` of `seed` (the reference's shape, quirks included)."""
    error = seed.data
    project = world.projects[error["project_id"]]
    org = world.organizations[project["organization_id"]]
    slug = _org_slug(world, project)
    exception = event["exceptions"][0]
    body: dict[str, Any] = {
        "id": event["id"],
        "errorId": error["id"],
        "exceptionClass": exception["error_class"],
        "message": exception["message"],
        "context": event.get("context"),
        "releaseStage": event["app"].get("releaseStage"),
        "occurrences": error["events"],
        "firstReceived": _stamp(datetime.fromisoformat(error["first_seen"].replace("Z", "+00:00"))),
        "receivedAt": _stamp(datetime.fromisoformat(event["received_at"].replace("Z", "+00:00"))),
        "url": f"{DASHBOARD}/{slug}/{project['slug']}/errors/{error['id']}?event_id={event['id']}&i=wh&m=nw",
        "severity": event["severity"],
        "status": error["status"],
        "unhandled": event["unhandled"],
        "stackTrace": [
            {
                "inProject": bool(frame.get("in_project")),
                "lineNumber": str(frame["line_number"]),  # the vendor's quirk: strings
                **({"columnNumber": str(frame["column_number"])} if frame.get("column_number") else {}),
                "file": frame["file"],
                "method": frame["method"],
                **({"code": frame["code"]} if frame.get("code") else {}),
            }
            for frame in exception.get("stacktrace", [])
        ],
    }
    if version := event["app"].get("version"):
        body["appVersion"] = version
        body["app"] = {"version": version, "releaseStage": event["app"].get("releaseStage"), "type": "python"}
    if event.get("user"):
        body["user"] = event["user"]
    if event.get("metaData"):
        body["metaData"] = event["metaData"]
    return {
        "account": {"id": org["id"], "name": org["name"], "url": f"{DASHBOARD}/accounts/{slug}"},
        "project": {"id": project["id"], "name": project["name"], "url": f"{DASHBOARD}/{slug}/{project['slug']}"},
        "trigger": {"type": trigger, "message": message},
        "error": body,
    }


def dashboard_test_delivery(world: World, project_id: str) -> dict[str, Any]:
    """BugSnag's "Test error" delivery: placeholder ids that resolve to nothing."""
    project = world.projects[project_id]
    org = world.organizations[project["organization_id"]]
    slug = _org_slug(world, project)
    return {
        "account": {"id": org["id"], "name": org["name"], "url": f"{DASHBOARD}/account/{slug}"},
        "project": {"id": project["id"], "name": project["name"], "url": f"{DASHBOARD}/{slug}/{project['slug']}"},
        "trigger": {"type": "exception", "message": "Test error"},
        "error": {
            "id": "530c3522e694aae2f4000036",
            "errorId": TEST_ERROR_ID,
            "exceptionClass": "ExampleException",
            "message": "Something went wrong",
            "context": "example/context",
            "releaseStage": "production",
            "url": f"{DASHBOARD}/{slug}/{project['slug']}/errors/example/events/example",
            "severity": "error",
            "status": "open",
            "unhandled": False,
            "assignedUserId": None,
        },
    }


async def fire(hooks: list[str], payloads: list[dict[str, Any]], transport: Any = None) -> list[int]:
    """POST each payload to each hook URL as BugSnag does (JSON, no auth, 4 s timeout); the statuses (0: failed)."""
    statuses: list[int] = []
    async with httpx.AsyncClient(timeout=4.0, transport=transport) as client:
        for url in hooks:
            for payload in payloads:
                try:
                    response = await client.post(
                        url, content=json.dumps(payload), headers={"Content-Type": "application/json"}
                    )
                    statuses.append(response.status_code)
                except httpx.HTTPError:
                    statuses.append(0)
    return statuses
