"""A Starlette app that behaves like the BugSnag Data Access API v2 (as observed, not as specified).

    app = create_bugsnag_app(rate_limit=30)
    app.state.control.faults.fail_next(2, 503)      # inject faults
    app.state.control.log                           # every request seen

Tokens: `sandbox-admin-token` (admin of both organizations), `sandbox-readonly-token` (Acme,
read-only role: writes get 403 code 40000), `sandbox-globex-token` (Globex only). Each user can also sign in
as on-premise installs allow: its email and `SANDBOX_PASSWORD` over HTTP Basic, with `X-Bugsnag-API: true`.
"""

from __future__ import annotations

import base64
import copy
import hmac
import json
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, ClassVar

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import bugsnag_query as q
from .bugsnag_query import ApiError
from .bugsnag_seed import NOW, World, build_world, iso, oid
from .faults import Control, LoggedRequest

Handler = Callable[[Request], Awaitable[Response]]
ROLE_ERROR = "Insufficient Project Role for performing requested action"
SANDBOX_PASSWORD = "sandbox-password"
"""The password of every sandbox user, for on-premise sign-in (email and password over HTTP Basic)."""


class BugsnagSim:
    """Routes and state of one simulated BugSnag account."""

    def __init__(self, control: Control, sorted_cap: int = 1000) -> None:
        self.control = control
        self.world: World = build_world()
        self.sorted_cap = sorted_cap
        self.comments: dict[str, dict[str, Any]] = self._seed_comments()
        self.deletions: dict[str, dict[str, Any]] = {}

    def _seed_comments(self) -> dict[str, dict[str, Any]]:
        """`comment_count` comments on each error, written by the project's organization's first collaborator."""
        out: dict[str, dict[str, Any]] = {}
        for seed in self.world.errors.values():
            error = seed.data
            org = self.world.projects.get(error["project_id"], {}).get("organization_id")
            people = self.world.collaborators.get(org or "", [])
            for i in range(error.get("comment_count") or 0):
                cid = oid("comment", error["id"], str(i))
                person = people[i % len(people)] if people else {"id": oid("user", "x"), "name": None, "email": ""}
                out[cid] = {
                    "id": cid,
                    "error_id": error["id"],
                    "message": f"Looked into this ({i + 1}): {error['message'][:200]}",
                    "collaborator": {"id": person["id"], "name": person["name"], "email": person["email"]},
                    "created_at": iso(NOW - timedelta(days=3 - i)),
                    "updated_at": iso(NOW - timedelta(days=3 - i)),
                }
        return out

    # -- plumbing ---------------------------------------------------------------------------------

    def route(self, handler: Callable[[Request, dict[str, Any]], Awaitable[Response]]) -> Handler:
        async def endpoint(request: Request) -> Response:
            header = request.headers.get("authorization", "")
            token = header[6:].strip() if header.lower().startswith("token ") else None
            if header.lower().startswith("basic "):
                token = self.basic_user(header[6:].strip(), request.headers.get("x-bugsnag-api", ""))
            entry = LoggedRequest(request.method, request.url.path, request.url.query, token)
            self.control.log.append(entry)
            response = await self._guarded(request, token, handler)
            entry.status = response.status_code
            return response

        return endpoint

    def basic_user(self, encoded: str, api_header: str) -> str | None:
        """On-premise sign-in: a user's email and password over HTTP Basic, with `X-Bugsnag-API: true`; the token
        key of the user they name (every sandbox user's password is SANDBOX_PASSWORD), or None."""
        try:
            email, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        if api_header.strip().lower() != "true" or not hmac.compare_digest(password, SANDBOX_PASSWORD):
            return None
        return next((key for key, user in self.world.users.items() if user.get("email") == email), None)

    async def _guarded(
        self, request: Request, token: str | None, handler: Callable[[Request, dict[str, Any]], Awaitable[Response]]
    ) -> Response:
        faults = self.control.faults
        if delay := faults.delay_for(request.url.path):
            await anyio.sleep(delay)
        if faults.hang_remaining > 0:
            faults.hang_remaining -= 1
            await anyio.sleep(3600)
        if faults.fail_remaining > 0:
            faults.fail_remaining -= 1
            body: dict[str, Any] = {"errors": [faults.fail_message]}
            if faults.fail_code:
                body["code"] = faults.fail_code
            headers = {"Retry-After": str(faults.retry_after)} if faults.retry_after is not None else {}
            return JSONResponse(body, faults.fail_status, headers=headers)
        if (status := faults.failing_status(request.url.path)) is not None:
            return JSONResponse({"errors": ["Injected failure"]}, status)
        if faults.garbage_remaining > 0:
            faults.garbage_remaining -= 1
            return Response("<html><body>502 Bad Gateway</body></html>", 200, media_type="application/json")
        if (oversized := faults.oversized()) is not None:
            return oversized
        if (redirect := faults.redirected(request.method, str(request.url))) is not None:
            return redirect
        user = self.world.users.get(token or "")
        if user is None:
            return JSONResponse({"errors": ["Unauthorized"]}, 401)
        allowed, remaining, retry_after = self.control.limiter.hit(token or "")
        limit = self.control.limiter.limit
        limit_headers = {"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": str(remaining)} if limit > 0 else {}
        if not allowed:
            return JSONResponse(
                {"errors": ["Rate limit exceeded"]}, 429, headers={**limit_headers, "Retry-After": str(retry_after)}
            )
        try:
            response = await handler(request, user)
        except ApiError as exc:
            body = {"errors": [exc.message]}
            if exc.code is not None:
                body["code"] = exc.code
            response = JSONResponse(body, exc.status)
        response.headers.update(limit_headers)
        return faults.relink(str(request.url), request.url.path, request.url.query, response)

    def project_view(self, project: dict[str, Any]) -> dict[str, Any]:
        """A project as the API shows it; its open-error count is counted now, so it always matches list_errors."""
        pid = project["id"]
        open_errors = sum(
            1 for e in self.world.errors.values() if e.data["project_id"] == pid and e.data["status"] == "open"
        )
        return {**project, "open_error_count": open_errors}

    @staticmethod
    def ok(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        return JSONResponse(data, status, headers=headers)

    async def body(self, request: Request) -> dict[str, Any]:
        try:
            data = json.loads(await request.body() or b"{}")
        except ValueError:
            raise ApiError(400, "Bad request: body is not JSON") from None
        if not isinstance(data, dict):
            raise ApiError(400, "Bad request")
        return data

    def org_for(self, user: dict[str, Any], org_id: str) -> dict[str, Any]:
        org = self.world.organizations.get(org_id)
        if org is None or org["slug"] not in user["orgs"]:
            raise ApiError(404, "Organization not found")
        return org

    def project_for(self, user: dict[str, Any], project_id: str) -> dict[str, Any]:
        project = self.world.projects.get(project_id)
        if project is None:
            raise ApiError(404, "Project not found")
        owner = self.world.organizations.get(project["organization_id"])
        if owner is None or owner["slug"] not in user["orgs"]:
            raise ApiError(404, "Project not found")
        return project

    def error_for(self, user: dict[str, Any], project_id: str, error_id: str) -> Any:
        self.project_for(user, project_id)
        seed = self.world.errors.get(error_id)
        if seed is None or seed.data["project_id"] != project_id:
            raise ApiError(404, "Error not found")
        return seed

    @staticmethod
    def require_writer(user: dict[str, Any]) -> None:
        if user["role"] != "admin":
            raise ApiError(403, ROLE_ERROR, 40000)

    # -- organizations ----------------------------------------------------------------------------

    async def list_orgs(self, request: Request, user: dict[str, Any]) -> Response:
        orgs = [o for o in self.world.organizations.values() if o["slug"] in user["orgs"]]
        if q.bool_param(request, "admin"):
            orgs = orgs if user["role"] == "admin" else []
        chunk, headers = q.paginate(request, orgs, "objectid")
        return self.ok(chunk, headers=headers)

    async def get_org(self, request: Request, user: dict[str, Any]) -> Response:
        return self.ok(self.org_for(user, request.path_params["id"]))

    async def update_org(self, request: Request, user: dict[str, Any]) -> Response:
        org = self.org_for(user, request.path_params["id"])
        self.require_writer(user)
        data = await self.body(request)
        if "invoice_info" in data:
            data.setdefault("invoice_address", data.pop("invoice_info"))
        allowed = {"name", "auto_upgrade", "billing_emails", "invoice_address"}
        if unknown := set(data) - allowed:
            raise ApiError(400, f"Unknown fields: {', '.join(sorted(unknown))}")
        if not isinstance(data.get("name"), str) or not data["name"].strip():
            raise ApiError(400, "name is required and must be a non-empty string")
        if not isinstance(data.get("auto_upgrade"), bool):
            raise ApiError(400, "auto_upgrade is required and must be a boolean")
        org.update(data)
        org["updated_at"] = iso(NOW)
        return self.ok(org)

    async def delete_org(self, request: Request, user: dict[str, Any]) -> Response:
        org = self.org_for(user, request.path_params["id"])
        self.require_writer(user)
        del self.world.organizations[org["id"]]
        for pid in [p for p, project in self.world.projects.items() if project["organization_id"] == org["id"]]:
            del self.world.projects[pid]
        return Response(status_code=204)

    # -- projects ---------------------------------------------------------------------------------

    async def list_projects(self, request: Request, user: dict[str, Any]) -> Response:
        org = self.org_for(user, request.path_params["organization_id"])
        projects = [p for p in self.world.projects.values() if p["organization_id"] == org["id"]]
        if term := request.query_params.get("q"):
            projects = [p for p in projects if term.lower() in p["name"].lower()]
        sort = request.query_params.get("sort", "created_at")
        direction = request.query_params.get("direction", "asc" if sort == "favorite" else "desc")
        if sort not in ("created_at", "name", "favorite") or direction not in ("asc", "desc"):
            raise ApiError(400, "Invalid sort")
        if sort == "favorite" and direction == "desc":
            raise ApiError(400, "Favorites only support ascending sort.")
        key = "name" if sort == "name" else "created_at"
        projects.sort(key=lambda p: (p[key], p["id"]), reverse=direction == "desc")
        chunk, headers = q.paginate(request, projects, "objectid")
        return self.ok([self.project_view(p) for p in chunk], headers=headers)

    async def create_project(self, request: Request, user: dict[str, Any]) -> Response:
        org = self.org_for(user, request.path_params["organization_id"])
        self.require_writer(user)
        data = await self.body(request)
        name, ptype = data.get("name"), data.get("type")
        if not isinstance(name, str) or not name.strip() or name.startswith("$"):
            raise ApiError(400, "name is required and must not start with $")
        if not isinstance(ptype, str) or not ptype:
            raise ApiError(400, "type is required")
        pid = oid("project", org["slug"], name)
        if pid in self.world.projects:
            raise ApiError(409, "A project with this name already exists")
        slug = "-".join(name.lower().split())
        project = {
            "id": pid,
            "organization_id": org["id"],
            "name": name,
            "slug": slug,
            "type": ptype,
            "language": None,
            "api_key": "not-a-real-" + pid[:12],
            "release_stages": [],
            "created_at": iso(NOW),
            "updated_at": iso(NOW),
            "url": "",
            "html_url": f"https://app.bugsnag.com/{org['slug']}/{slug}",
            "open_error_count": 0,
            "ignore_old_browsers": bool(data.get("ignore_old_browsers", False)),
            "collaborators_count": 1,
        }
        project["url"] = str(request.base_url).rstrip("/") + f"/projects/{pid}"
        self.world.projects[pid] = project
        return self.ok(self.project_view(project), 200)

    async def get_project(self, request: Request, user: dict[str, Any]) -> Response:
        return self.ok(self.project_view(self.project_for(user, request.path_params["project_id"])))

    async def update_project(self, request: Request, user: dict[str, Any]) -> Response:
        project = self.project_for(user, request.path_params["project_id"])
        self.require_writer(user)
        data = await self.body(request)
        allowed = {
            "name",
            "global_grouping",
            "location_grouping",
            "discarded_app_versions",
            "discarded_errors",
            "url_whitelist",
            "ignore_old_browsers",
            "ignored_browser_versions",
            "resolve_on_deploy",
            "collaborator_ids",
        }
        if unknown := set(data) - allowed:
            raise ApiError(400, f"Unknown fields: {', '.join(sorted(unknown))}")
        data.pop("collaborator_ids", None)
        project.update(data)
        project["updated_at"] = iso(NOW)
        return self.ok(self.project_view(project))

    # -- errors -----------------------------------------------------------------------------------

    def error_accessors(self) -> dict[str, Callable[[dict[str, Any], str], bool]]:
        def events_of(item: dict[str, Any]) -> list[dict[str, Any]]:
            return self.world.errors[item["id"]].events

        return {
            "error.status": lambda e, v: e["status"] == v,
            "event.severity": lambda e, v: e["severity"] == v,
            "app.release_stage": lambda e, v: v in e["release_stages"],
            "event.class": lambda e, v: q.contains(e["error_class"], v),
            "event.message": lambda e, v: q.contains(e["message"], v),
            "app.context": lambda e, v: q.contains(e["context"], v),
            "error.id": lambda e, v: e["id"] == v,
            "search": lambda e, v: any(q.contains(e[k], v) for k in ("error_class", "message", "context")),
            "event.since": lambda e, v: q.ts(e["last_seen"]) >= q.parse_time(v),
            "event.before": lambda e, v: q.ts(e["first_seen"]) < q.parse_time(v),
            "error.assigned_to": lambda e, v: (
                e["assigned_collaborator_id"] is not None if v == "anyone" else e["assigned_collaborator_id"] == v
            ),
            "user.id": lambda e, v: any(ev["user"].get("id") == v for ev in events_of(e)),
            "user.email": lambda e, v: any(q.contains(ev["user"].get("email"), v) for ev in events_of(e)),
            "version.seen_in": lambda e, v: any(q.wildcard(ev["app"].get("version"), v) for ev in events_of(e)),
            "release.seen_in": lambda e, v: any(q.wildcard(ev["app"].get("version"), v) for ev in events_of(e)),
            "release.introduced_in": lambda e, v: any(
                q.wildcard(r.get("build_label"), v) for r in e.get("introduced_in_releases", [])
            ),
            "version.introduced_in": lambda e, v: any(
                q.wildcard(r.get("build_label"), v) for r in e.get("introduced_in_releases", [])
            ),
            "os.name": lambda e, v: any(ev["device"].get("osName") == v for ev in events_of(e)),
            "browser.name": lambda e, v: any(ev["device"].get("browserName") == v for ev in events_of(e)),
            "event.unhandled": lambda e, v: any(str(ev["unhandled"]).lower() == v for ev in events_of(e)),
        }

    async def list_errors(self, request: Request, user: dict[str, Any]) -> Response:
        pid = request.path_params["project_id"]
        self.project_for(user, pid)
        filters = q.parse_filters(request)
        for name in ("event.since", "event.before"):
            for _, value in filters.get(name, []):
                q.parse_time(value)
        accessors = self.error_accessors()
        items = [
            s.data
            for s in self.world.errors.values()
            if s.data["project_id"] == pid and q.matches(s.data, filters, accessors)
        ]
        sort = request.query_params.get("sort", "last_seen")
        direction = request.query_params.get("direction", "desc")
        if sort not in ("last_seen", "first_seen", "users", "events", "unsorted") or direction not in ("asc", "desc"):
            raise ApiError(400, "Invalid sort")
        if sort != "unsorted":
            if len(items) > self.sorted_cap:
                raise ApiError(422, "Unable to return complete results", 60000)
            items.sort(key=lambda e: (e[sort], e["id"]), reverse=direction == "desc")
        style = "objectid" if sort in ("last_seen", "first_seen") else "integer"
        chunk, headers = q.paginate(request, items, style)
        return self.ok(chunk, headers=headers)

    async def get_error(self, request: Request, user: dict[str, Any]) -> Response:
        seed = self.error_for(user, request.path_params["project_id"], request.path_params["error_id"])
        return self.ok(seed.data)

    def apply_operation(self, seed: Any, data: dict[str, Any], org_id: str) -> bool:
        """Apply one update; returns True when the answer is 204 (delete/discard)."""
        op = data.get("operation")
        error = seed.data
        if op == "override_severity":
            if data.get("severity") not in ("info", "warning", "error"):
                raise ApiError(400, "severity must be one of info, warning, error")
            error["severity"] = error["overridden_severity"] = data["severity"]
        elif op == "assign":
            collaborator, team = data.get("assigned_collaborator_id"), data.get("assigned_team_id")
            if collaborator and team:
                raise ApiError(400, "assigned_collaborator_id and assigned_team_id are mutually exclusive")
            if collaborator and collaborator not in {c["id"] for c in self.world.collaborators.get(org_id, [])}:
                raise ApiError(400, "assigned_collaborator_id is not a collaborator on this project")
            if team is not None and (not isinstance(team, str) or not team):
                raise ApiError(400, "assigned_team_id must be a team id")
            error["assigned_collaborator_id"] = collaborator or None
            error["assigned_team_id"] = team or None
        elif op in ("link_issue", "create_issue"):
            url = data.get("issue_url") or f"https://issues.acme.test/BUG-{len(error['linked_issues']) + 101}"
            if op == "link_issue" and not data.get("issue_url"):
                raise ApiError(400, "issue_url is required")
            issue = {
                "id": oid("issue", url),
                "key": url.rsplit("/", 1)[-1],
                "number": None,
                "type": "generic",
                "url": url,
            }
            error["linked_issues"].append(issue)
            error["created_issue"] = error["linked_issues"][0]
        elif op == "unlink_issue":
            error["linked_issues"], error["created_issue"] = [], {}
        elif op in ("open", "fix", "ignore"):
            error["status"] = {"open": "open", "fix": "fixed", "ignore": "ignored"}[op]
            error["reopen_rules"] = None
        elif op == "snooze":
            rules = data.get("reopen_rules")
            needs = {
                "occurs_after": ["seconds"],
                "n_occurrences_in_m_hours": ["occurrences", "hours"],
                "n_additional_occurrences": ["additional_occurrences"],
                "n_additional_users": ["additional_users"],
            }
            if not isinstance(rules, dict) or rules.get("reopen_if") not in needs:
                raise ApiError(400, "reopen_rules.reopen_if is required for snooze")
            for companion in needs[rules["reopen_if"]]:
                if not isinstance(rules.get(companion), int) or rules[companion] < 1:
                    raise ApiError(400, f"reopen_rules.{companion} must be a positive integer")
            rules = dict(rules)
            if rules["reopen_if"] == "occurs_after":
                rules["reopen_after"] = iso(NOW + timedelta(seconds=rules["seconds"]))
            if rules["reopen_if"] == "n_additional_occurrences":
                rules["occurrence_threshold"] = error["events"] + rules["additional_occurrences"]
            error["status"], error["reopen_rules"] = "snoozed", rules
        elif op == "delete":
            del self.world.errors[error["id"]]
            return True
        elif op == "discard":
            error["discarded"] = True
            return True
        elif op == "undiscard":
            error["discarded"] = False
        else:
            raise ApiError(400, "operation is required and must be a known operation")
        return False

    async def update_error(self, request: Request, user: dict[str, Any]) -> Response:
        pid = request.path_params["project_id"]
        seed = self.error_for(user, pid, request.path_params["error_id"])
        self.require_writer(user)
        data = await self.body(request)
        if self.apply_operation(seed, data, self.world.projects[pid]["organization_id"]):
            return Response(status_code=204)
        return self.ok(seed.data)

    async def bulk_update(self, request: Request, user: dict[str, Any]) -> Response:
        pid = request.path_params["project_id"]
        self.project_for(user, pid)
        ids = [v for k, v in q.pairs(request) if k in ("error_ids[]", "error_ids")]
        if not ids:
            raise ApiError(400, "error_ids is required")
        seeds = [self.error_for(user, pid, i) for i in ids]
        self.require_writer(user)
        data = await self.body(request)
        out: dict[str, Any] = {"operation": data.get("operation")}
        for seed in seeds:
            self.apply_operation(seed, data, self.world.projects[pid]["organization_id"])
            e = seed.data
            out[e["id"]] = {
                k: e.get(k)
                for k in (
                    "status",
                    "assigned_collaborator_id",
                    "assigned_team_id",
                    "linked_issues",
                    "created_issue",
                    "reopen_rules",
                    "discarded",
                )
            }
        return self.ok(out)

    async def delete_error(self, request: Request, user: dict[str, Any]) -> Response:
        seed = self.error_for(user, request.path_params["project_id"], request.path_params["error_id"])
        self.require_writer(user)
        del self.world.errors[seed.data["id"]]
        return Response(status_code=204)

    # -- events -----------------------------------------------------------------------------------

    @staticmethod
    def summary(event: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": event["id"],
            "url": event["url"],
            "project_url": event["project_url"],
            "is_full_report": False,
            "error_id": event["error_id"],
            "received_at": event["received_at"],
            "exceptions": [{"errorClass": e["error_class"], "message": e["message"]} for e in event["exceptions"]],
            "severity": event["severity"],
            "context": event["context"],
            "unhandled": event["unhandled"],
            "app": {"releaseStage": event["app"].get("releaseStage"), "type": event["app"].get("type")},
        }

    def event_accessors(self) -> dict[str, Callable[[dict[str, Any], str], bool]]:
        return {
            "event.since": lambda ev, v: q.ts(ev["received_at"]) >= q.parse_time(v),
            "event.before": lambda ev, v: q.ts(ev["received_at"]) < q.parse_time(v),
            "user.id": lambda ev, v: ev["user"].get("id") == v,
            "user.email": lambda ev, v: q.contains(ev["user"].get("email"), v),
            "app.release_stage": lambda ev, v: ev["app"].get("releaseStage") == v,
            "version.seen_in": lambda ev, v: q.wildcard(ev["app"].get("version"), v),
            "os.name": lambda ev, v: ev["device"].get("osName") == v,
            "browser.name": lambda ev, v: ev["device"].get("browserName") == v,
            "event.unhandled": lambda ev, v: str(ev["unhandled"]).lower() == v,
            "event.severity": lambda ev, v: ev["severity"] == v,
        }

    def list_event_page(self, request: Request, events: list[dict[str, Any]]) -> Response:
        filters = q.parse_filters(request)
        events = [e for e in events if q.matches(e, filters, self.event_accessors())]
        sort = request.query_params.get("sort", "timestamp")
        direction = request.query_params.get("direction", "desc")
        if sort != "timestamp" or direction not in ("asc", "desc"):
            raise ApiError(400, "Events can only be sorted by timestamp")
        events.sort(key=lambda e: (e["received_at"], e["id"]), reverse=direction == "desc")
        chunk, headers = q.paginate(request, events, "keyset", key=lambda e: e["received_at"])
        full = q.bool_param(request, "full_reports")
        return self.ok([copy.deepcopy(e) if full else self.summary(e) for e in chunk], headers=headers)

    async def error_events(self, request: Request, user: dict[str, Any]) -> Response:
        seed = self.error_for(user, request.path_params["project_id"], request.path_params["error_id"])
        return self.list_event_page(request, seed.events)

    async def project_events(self, request: Request, user: dict[str, Any]) -> Response:
        pid = request.path_params["project_id"]
        self.project_for(user, pid)
        events = [e for s in self.world.errors.values() if s.data["project_id"] == pid for e in s.events]
        return self.list_event_page(request, events)

    async def latest_event(self, request: Request, user: dict[str, Any]) -> Response:
        seed = self.world.errors.get(request.path_params["error_id"])
        if seed is None:
            raise ApiError(404, "Error not found")
        try:
            self.project_for(user, seed.data["project_id"])
        except ApiError:
            raise ApiError(404, "Error not found") from None
        if not seed.events:
            raise ApiError(404, "Event not found")
        return self.ok(max(seed.events, key=lambda e: e["received_at"]))

    def find_event(self, user: dict[str, Any], pid: str, event_id: str) -> tuple[Any, dict[str, Any]]:
        self.project_for(user, pid)
        for seed in self.world.errors.values():
            if seed.data["project_id"] != pid:
                continue
            for event in seed.events:
                if event["id"] == event_id:
                    return seed, event
        raise ApiError(404, "Event not found")

    async def get_event(self, request: Request, user: dict[str, Any]) -> Response:
        _, event = self.find_event(user, request.path_params["project_id"], request.path_params["event_id"])
        return self.ok(event)

    async def delete_event(self, request: Request, user: dict[str, Any]) -> Response:
        seed, event = self.find_event(user, request.path_params["project_id"], request.path_params["event_id"])
        self.require_writer(user)
        seed.events.remove(event)
        return Response(status_code=204)

    # -- pivots -----------------------------------------------------------------------------------

    _PIVOT_FIELDS: ClassVar[dict[str, tuple[str, Callable[[dict[str, Any]], Any]]]] = {
        "app.release_stage": ("Release stages", lambda ev: ev["app"].get("releaseStage")),
        "app.version": ("App versions", lambda ev: ev["app"].get("version")),
        "os.name": ("Operating systems", lambda ev: ev["device"].get("osName")),
        "browser.name": ("Browsers", lambda ev: ev["device"].get("browserName")),
        "user.id": ("Users", lambda ev: ev["user"].get("id")),
        "user.email": ("User emails", lambda ev: ev["user"].get("email")),
        "event.severity": ("Severity", lambda ev: ev.get("severity")),
    }
    """Every pivotable event field of the seeded projects (event_fields with pivot_options) that events carry: a
    listing without `pivots[]` answers all of them, as BugSnag does."""

    def pivot_counts(self, events: list[dict[str, Any]], field: str, scale: float) -> tuple[dict[str, int], int]:
        _, get = self._PIVOT_FIELDS[field]
        counts: dict[str, int] = {}
        missing = 0
        for event in events:
            value = get(event)
            if value is None:
                missing += 1
            else:
                counts[str(value)] = counts.get(str(value), 0) + 1
        return {k: max(1, round(v * scale)) for k, v in counts.items()}, round(missing * scale)

    def scope_events(self, user: dict[str, Any], request: Request) -> tuple[list[dict[str, Any]], float]:
        pid = request.path_params["project_id"]
        if error_id := request.path_params.get("error_id"):
            seeds = [self.error_for(user, pid, error_id)]
        else:
            self.project_for(user, pid)
            seeds = [s for s in self.world.errors.values() if s.data["project_id"] == pid]
        events = [e for s in seeds for e in s.events]
        total = sum(s.data["events"] for s in seeds)
        return events, (total / len(events)) if events else 1.0

    async def list_pivots(self, request: Request, user: dict[str, Any]) -> Response:
        if not request.path_params.get("error_id"):
            q.refuse(request, "per_page")
        events, scale = self.scope_events(user, request)
        raw = request.query_params.get("summary_size", "5")
        if not raw.isdigit():
            raise ApiError(400, "summary_size must be a number")
        size = int(raw)
        wanted = [v for k, v in q.pairs(request) if k in ("pivots[]", "pivots")] or list(self._PIVOT_FIELDS)
        out = []
        for field in wanted:
            if field not in self._PIVOT_FIELDS:
                continue
            counts, missing = self.pivot_counts(events, field, scale)
            top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
            out.append(
                {
                    "event_field_display_id": field,
                    "name": self._PIVOT_FIELDS[field][0],
                    "cardinality": len(counts),
                    "summary": {
                        "list": [{"value": k, "events": v} for k, v in top[:size]],
                        "no_value": missing,
                        "other": sum(v for _, v in top[size:]),
                    },
                    "average": None,
                }
            )
        if request.path_params.get("error_id"):
            chunk, headers = q.paginate(request, out, "integer")
            return self.ok(chunk, headers=headers)
        return self.ok(out)

    async def pivot_values(self, request: Request, user: dict[str, Any]) -> Response:
        events, scale = self.scope_events(user, request)
        field = request.path_params["event_field_display_id"]
        if field not in self._PIVOT_FIELDS:
            raise ApiError(404, "Event field not found")
        counts, _ = self.pivot_counts(events, field, scale)
        total = sum(counts.values()) or 1
        sort = request.query_params.get("sort")
        if sort not in (None, "unsorted"):
            raise ApiError(400, "Invalid sort")
        if sort is None and len(counts) > self.sorted_cap:
            raise ApiError(422, "Unable to return complete results", 60000)
        rows: list[dict[str, Any]] = [
            {
                "id": oid("pv", field, k),
                "event_field_value": k,
                "events": v,
                "proportion": round(v / total, 4),
                "first_seen": iso(NOW - timedelta(days=9)),
                "last_seen": iso(NOW - timedelta(hours=2)),
                "fields": [],
            }
            for k, v in counts.items()
        ]
        if sort is None:
            rows.sort(key=lambda r: (-r["events"], r["event_field_value"]))
        chunk, headers = q.paginate(request, rows, "integer")
        return self.ok(chunk, headers=headers)

    # -- trends -----------------------------------------------------------------------------------

    async def trend(self, request: Request, user: dict[str, Any]) -> Response:
        q.refuse(request, "per_page")
        pid = request.path_params["project_id"]
        if error_id := request.path_params.get("error_id"):
            seeds = [self.error_for(user, pid, error_id)]
        else:
            self.project_for(user, pid)
            seeds = [s for s in self.world.errors.values() if s.data["project_id"] == pid]
        hourly = [0] * (30 * 24)
        window = NOW - timedelta(days=30)
        for seed in seeds:  # counted from the events themselves, so the trend agrees with every other view
            for event in seed.events:
                hour = int((q.ts(event["received_at"]) - window).total_seconds() // 3600)
                if 0 <= hour < len(hourly):
                    hourly[hour] += 1
        filters = q.parse_filters(request)
        start = NOW - timedelta(days=30)
        if since := filters.get("event.since"):
            start = max(start, q.parse_time(since[0][1]))
        end = NOW
        if before := filters.get("event.before"):
            end = min(end, q.parse_time(before[0][1]))
        resolution = request.query_params.get("resolution")
        buckets_raw = request.query_params.get("buckets_count")
        if resolution and buckets_raw:
            raise ApiError(400, "Use either buckets_count or resolution")
        if resolution:
            step = {"1m": 60, "5m": 300, "30m": 1800, "2h": 7200, "12h": 43200}.get(resolution)
            if step is None:
                raise ApiError(400, "Invalid resolution")
            count = int((end - start).total_seconds() // step) or 1
            if count > 2000:
                raise ApiError(
                    400, "Too many data points requested. Please use a narrower time range or lower resolution."
                )
        else:
            raw = buckets_raw or "10"
            if not raw.isdigit() or not 1 <= int(raw) <= 50:
                raise ApiError(400, "Buckets count must be between 1 and 50")
            count = int(raw)
        width = (end - start) / count
        out = []
        for i in range(count):
            lo, hi = start + width * i, start + width * (i + 1)
            first_hour = int((lo - (NOW - timedelta(days=30))).total_seconds() // 3600)
            last_hour = int((hi - (NOW - timedelta(days=30))).total_seconds() // 3600)
            total = sum(hourly[max(0, first_hour) : max(0, last_hour)])
            out.append(
                {
                    "from": lo.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "to": hi.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "events_count": total,
                }
            )
        return self.ok(out)

    # -- releases, release groups, stability ------------------------------------------------------

    async def list_releases(self, request: Request, user: dict[str, Any]) -> Response:
        pid = request.path_params["project_id"]
        self.project_for(user, pid)
        rels = list(self.world.releases.get(pid, []))
        if stage := request.query_params.get("release_stage"):
            rels = [r for r in rels if r["release_stage"]["name"] == stage]
        sort = request.query_params.get("sort", "timestamp")
        if sort not in ("timestamp", "percent_of_sessions"):
            raise ApiError(400, "Invalid sort")
        key = "release_time" if sort == "timestamp" else "total_sessions_count"
        rels.sort(key=lambda r: (r[key], r["id"]), reverse=True)
        chunk, headers = q.paginate(request, rels, "integer", default=5, maximum=10)
        return self.ok(chunk, headers=headers)

    async def get_release(self, request: Request, user: dict[str, Any]) -> Response:
        pid = request.path_params["project_id"]
        self.project_for(user, pid)
        for rel in self.world.releases.get(pid, []):
            if rel["id"] == request.path_params["release_id"]:
                return self.ok(rel)
        raise ApiError(404, "Release not found")

    async def list_release_groups(self, request: Request, user: dict[str, Any]) -> Response:
        pid = request.path_params["project_id"]
        self.project_for(user, pid)
        stage = request.query_params.get("release_stage_name")
        if not stage:
            raise ApiError(400, "release_stage_name is required")
        groups = [
            g for g in self.world.release_groups.values() if g["project_id"] == pid and g["release_stage_name"] == stage
        ]
        if q.bool_param(request, "top_only"):
            groups = [g for g in groups if g["top_release_group"]]
        if q.bool_param(request, "visible_only"):
            groups = [g for g in groups if g["visible"]]
        groups.sort(key=lambda g: (g["first_released_at"], g["id"]), reverse=True)
        chunk, headers = q.paginate(request, groups, "page_token", total=False)
        return self.ok(chunk, headers=headers)

    async def update_release_group(self, request: Request, user: dict[str, Any]) -> Response:
        group = self.world.release_groups.get(request.path_params["id"])
        if group is None:
            raise ApiError(404, "Release group not found")
        self.project_for(user, group["project_id"])
        self.require_writer(user)
        data = await self.body(request)
        if not isinstance(data.get("visible"), bool):
            raise ApiError(400, "visible is required and must be a boolean")
        group["visible"] = data["visible"]
        return self.ok(group)

    async def stability_trend(self, request: Request, user: dict[str, Any]) -> Response:
        q.refuse(request, "per_page")
        pid = request.path_params["project_id"]
        self.project_for(user, pid)
        points = self.world.stability.get(pid)
        if not points:
            return Response(status_code=204)
        return self.ok({"project_id": pid, "release_stage_name": "production", "timeline_points": points})

    # -- collaborators ----------------------------------------------------------------------------

    async def org_collaborators(self, request: Request, user: dict[str, Any]) -> Response:
        org = self.org_for(user, request.path_params["organization_id"])
        self.require_writer(user)
        people = list(self.world.collaborators.get(org["id"], []))
        if term := request.query_params.get("q"):
            people = [p for p in people if q.contains(p["email"], term) or q.contains(p["name"], term)]
        chunk, headers = q.paginate(request, people, "objectid")
        return self.ok(chunk, headers=headers)

    async def integration_summaries(self, request: Request, user: dict[str, Any]) -> Response:
        project = self.project_for(user, request.path_params["project_id"])
        found = list(self.world.integrations.get(project["id"], []))
        if category := request.query_params.get("category"):
            found = [i for i in found if i["category"] == category]
        chunk, headers = q.paginate(request, found, "objectid")
        return self.ok(chunk, headers=headers)

    async def org_teams(self, request: Request, user: dict[str, Any]) -> Response:
        org = self.org_for(user, request.path_params["organization_id"])
        if user["role"] != "admin":
            raise ApiError(403, "Organization Administrator role required")
        teams = list(self.world.teams.get(org["id"], []))
        if term := request.query_params.get("q"):
            teams = [t for t in teams if q.contains(t["name"], term)]
        chunk, headers = q.paginate(request, teams, "objectid")
        return self.ok(chunk, headers=headers)

    async def org_collaborator(self, request: Request, user: dict[str, Any]) -> Response:
        org = self.org_for(user, request.path_params["organization_id"])
        self.require_writer(user)
        for person in self.world.collaborators.get(org["id"], []):
            if person["id"] == request.path_params["id"]:
                return self.ok(person)
        raise ApiError(404, "Collaborator not found")

    async def project_collaborators(self, request: Request, user: dict[str, Any]) -> Response:
        project = self.project_for(user, request.path_params["project_id"])
        people = [
            p for p in self.world.collaborators.get(project["organization_id"], []) if project["id"] in p["project_ids"]
        ]
        chunk, headers = q.paginate(request, people, "objectid")
        return self.ok(chunk, headers=headers)

    # -- event fields, saved searches -------------------------------------------------------------

    async def event_fields(self, request: Request, user: dict[str, Any]) -> Response:
        q.refuse(request, "per_page")
        self.project_for(user, request.path_params["project_id"])
        return self.ok(self.world.event_fields)

    async def list_saved_searches(self, request: Request, user: dict[str, Any]) -> Response:
        q.refuse(request, "per_page")
        pid = request.path_params["project_id"]
        self.project_for(user, pid)
        found = [s for s in self.world.saved_searches.values() if s["project_id"] == pid]
        shared = q.bool_param(request, "shared")
        if shared is not None:
            found = [s for s in found if s["shared"] == shared]
        return self.ok(sorted(found, key=lambda s: s["name"]))

    async def create_saved_search(self, request: Request, user: dict[str, Any]) -> Response:
        data = await self.body(request)
        pid = data.get("project_id")
        if not isinstance(pid, str):
            raise ApiError(400, "project_id is required")
        self.project_for(user, pid)
        name, filters = data.get("name"), data.get("filters")
        if not isinstance(name, str) or not name.strip():
            raise ApiError(400, "name is required")
        if not isinstance(filters, dict):
            raise ApiError(400, "filters is required")
        check_filter_object(filters)
        if not isinstance(data.get("project_default"), bool):
            raise ApiError(400, "project_default is required")
        if data.get("sort") not in (None, "first_seen", "users", "events", "last_seen"):
            raise ApiError(400, "Invalid sort")
        sid = oid("saved", pid, name)
        search = {
            "id": sid,
            "user_id": user["id"],
            "project_id": pid,
            "name": name,
            "filters": filters,
            "sort": data.get("sort") or "last_seen",
            "shared": bool(data.get("shared", False)),
            "project_default": data["project_default"],
            "created_at": iso(NOW),
            "updated_at": iso(NOW),
        }
        self.world.saved_searches[sid] = search
        return self.ok(search, 201)

    def saved_search_for(self, user: dict[str, Any], search_id: str) -> dict[str, Any]:
        search = self.world.saved_searches.get(search_id)
        if search is None:
            raise ApiError(404, "Saved search not found")
        try:
            self.project_for(user, search["project_id"])
        except ApiError:
            raise ApiError(404, "Saved search not found") from None
        return search

    async def get_saved_search(self, request: Request, user: dict[str, Any]) -> Response:
        return self.ok(self.saved_search_for(user, request.path_params["id"]))

    async def update_saved_search(self, request: Request, user: dict[str, Any]) -> Response:
        search = self.saved_search_for(user, request.path_params["id"])
        data = await self.body(request)
        allowed = {"name", "filters", "sort", "shared", "project_default"}
        if unknown := set(data) - allowed:
            raise ApiError(400, f"Unknown fields: {', '.join(sorted(unknown))}")
        if "name" in data and (not isinstance(data["name"], str) or not data["name"].strip()):
            raise ApiError(400, "name must not be blank")
        if "filters" in data and not isinstance(data["filters"], dict):
            raise ApiError(400, "filters must be an object")
        if "filters" in data:
            check_filter_object(data["filters"])
        if data.get("sort") not in (None, "first_seen", "users", "events", "last_seen"):
            raise ApiError(400, "Invalid sort")
        for flag in ("shared", "project_default"):
            if flag in data and not isinstance(data[flag], bool):
                raise ApiError(400, f"{flag} must be a boolean")
        search.update(data)
        search["updated_at"] = iso(NOW)
        return self.ok(search)

    async def delete_saved_search(self, request: Request, user: dict[str, Any]) -> Response:
        search = self.saved_search_for(user, request.path_params["id"])
        del self.world.saved_searches[search["id"]]
        return Response(status_code=204)

    # -- comments ---------------------------------------------------------------------------------

    async def list_comments(self, request: Request, user: dict[str, Any]) -> Response:
        seed = self.error_for(user, request.path_params["project_id"], request.path_params["error_id"])
        found = [c for c in self.comments.values() if c["error_id"] == seed.data["id"]]
        direction = request.query_params.get("direction", "desc")
        if request.query_params.get("sort", "created_at") != "created_at" or direction not in ("asc", "desc"):
            raise ApiError(400, "Invalid sort")
        found.sort(key=lambda c: (c["created_at"], c["id"]), reverse=direction == "desc")
        chunk, headers = q.paginate(request, [self._comment_view(c) for c in found], "integer")
        return self.ok(chunk, headers=headers)

    @staticmethod
    def _comment_view(comment: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in comment.items() if k != "error_id"}

    async def create_comment(self, request: Request, user: dict[str, Any]) -> Response:
        seed = self.error_for(user, request.path_params["project_id"], request.path_params["error_id"])
        data = await self.body(request)
        if set(data) - {"message"}:
            raise ApiError(400, f"Unknown fields: {', '.join(sorted(set(data) - {'message'}))}")
        message = data.get("message")
        if not isinstance(message, str) or not message.strip():
            raise ApiError(422, "message can't be blank")
        cid = oid("comment", seed.data["id"], str(len(self.comments)), message)
        comment = {
            "id": cid,
            "error_id": seed.data["id"],
            "message": message,
            "collaborator": {"id": user["id"], "name": user.get("name"), "email": user.get("email")},
            "created_at": iso(NOW),
            "updated_at": iso(NOW),
        }
        self.comments[cid] = comment
        seed.data["comment_count"] = (seed.data.get("comment_count") or 0) + 1
        base = str(request.base_url).rstrip("/")
        return self.ok(self._comment_view(comment), 201, headers={"Location": f"{base}/comments/{cid}"})

    def comment_for(self, user: dict[str, Any], comment_id: str) -> dict[str, Any]:
        comment = self.comments.get(comment_id)
        seed = self.world.errors.get(comment["error_id"]) if comment else None
        if comment is None or seed is None:
            raise ApiError(404, "Comment not found")
        try:
            self.project_for(user, seed.data["project_id"])
        except ApiError:
            raise ApiError(404, "Comment not found") from None
        if comment["collaborator"]["id"] != user["id"]:
            raise ApiError(403, "You can only change your own comments")
        return comment

    async def update_comment(self, request: Request, user: dict[str, Any]) -> Response:
        comment = self.comment_for(user, request.path_params["id"])
        data = await self.body(request)
        message = data.get("message")
        if set(data) - {"message"} or not isinstance(message, str) or not message.strip():
            raise ApiError(400, "message is required")
        comment.update(message=message, updated_at=iso(NOW))
        return self.ok(self._comment_view(comment))

    async def delete_comment(self, request: Request, user: dict[str, Any]) -> Response:
        comment = self.comment_for(user, request.path_params["id"])
        del self.comments[comment["id"]]
        seed = self.world.errors.get(comment["error_id"])
        if seed is not None:
            seed.data["comment_count"] = max(0, (seed.data.get("comment_count") or 1) - 1)
        return Response(status_code=204)

    # -- feature flags, release group builds, data deletion ---------------------------------------

    _FLAGS: ClassVar[tuple[tuple[str, bool, int], ...]] = (
        ("new-checkout", True, 2),
        ("dark-mode", True, 20),
        ("legacy-cart", False, 60),
    )

    async def feature_flags(self, request: Request, user: dict[str, Any]) -> Response:
        project = self.project_for(user, request.path_params["project_id"])
        stage = request.query_params.get("release_stage_name")
        if not stage:
            raise ApiError(400, "release_stage_name is required")
        include_inactive = q.bool_param(request, "include_inactive")
        flags = [
            {
                "id": oid("flag", project["id"], name),
                "name": name,
                "first_seen": iso(NOW - timedelta(days=days)),
                "is_starred": False,
                "is_active": active,
            }
            for name, active, days in self._FLAGS
            if stage in project.get("release_stages", []) and (active or include_inactive is not False)
        ]
        if term := request.query_params.get("q"):
            flags = [f for f in flags if q.contains(f["name"], term)]
        chunk, headers = q.paginate(request, flags, "integer")
        return self.ok(chunk, headers=headers)

    async def release_group_releases(self, request: Request, user: dict[str, Any]) -> Response:
        group = self.world.release_groups.get(request.path_params["id"])
        if group is None:
            raise ApiError(404, "Release group not found")
        self.project_for(user, group["project_id"])
        builds = [
            r for r in self.world.releases.get(group["project_id"], []) if r.get("release_group_id") == group["id"]
        ]
        builds.sort(key=lambda r: (r["release_time"], r["id"]), reverse=True)
        chunk, headers = q.paginate(request, builds, "page_token", total=False)
        return self.ok(chunk, headers=headers)

    async def create_deletion(self, request: Request, user: dict[str, Any]) -> Response:
        pid = request.path_params["project_id"]
        self.project_for(user, pid)
        self.require_writer(user)
        data = await self.body(request)
        allowed = {"filters", "filter_groups", "filter_groups_join", "skip_confirmation"}
        if unknown := set(data) - allowed:
            raise ApiError(400, f"Unknown fields: {', '.join(sorted(unknown))}")
        filters = data.get("filters")
        if not isinstance(filters, dict) or not filters:
            raise ApiError(400, "filters is required")
        conditions: dict[str, list[tuple[str, str]]] = {}
        for name, items in filters.items():
            if not isinstance(items, list) or not all(
                isinstance(i, dict) and i.get("type") in ("eq", "ne") and isinstance(i.get("value"), str) for i in items
            ):
                raise ApiError(400, 'Each filter must be of the format {"type": <type>, "value": <value>}')
            conditions[name] = [(i["type"], i["value"]) for i in items]
        events = [e for s in self.world.errors.values() if s.data["project_id"] == pid for e in s.events]
        total = sum(1 for e in events if q.matches(e, conditions, self.event_accessors()))
        did = oid("deletion", pid, str(len(self.deletions)))
        confirmed = data.get("skip_confirmation") is True
        self.deletions[did] = {
            "id": did,
            "project_id": pid,
            "status": "in_progress" if confirmed else "awaiting_confirmation",
            "total": total,
            "filters": filters,
            "created_at": iso(NOW),
            "completed_at": None,
        }
        return self.ok({k: v for k, v in self.deletions[did].items() if k != "project_id"}, 201)

    async def get_deletion(self, request: Request, user: dict[str, Any]) -> Response:
        pid = request.path_params["project_id"]
        self.project_for(user, pid)
        found = self.deletions.get(request.path_params["id"])
        if found is None or found["project_id"] != pid:
            raise ApiError(404, "Event data deletion not found")
        return self.ok({k: v for k, v in found.items() if k != "project_id"})

    # -- root -------------------------------------------------------------------------------------

    async def root(self, request: Request, user: dict[str, Any]) -> Response:
        return self.ok({"organizations_url": str(request.base_url).rstrip("/") + "/user/organizations"})


async def _requests_endpoint(request: Request) -> Response:
    """What the simulator has seen (for out-of-process tests): method and path of every request."""
    control: Control = request.app.state.control
    return JSONResponse({"requests": [f"{r.method} {r.path}" for r in control.log]})


async def _faults_endpoint(request: Request) -> Response:
    control: Control = request.app.state.control
    try:
        data = json.loads(await request.body() or b"{}")
        control.faults.update(data)
    except (ValueError, TypeError):
        return JSONResponse({"errors": ["bad fault spec"]}, 400)
    return JSONResponse({"ok": True})


async def _raise_endpoint(request: Request) -> Response:
    """Raise a new error in a project (as if an app had reported it) and fire the webhook deliveries BugSnag
    would: `firstException` and `exception`. Body (all optional): error_class, message, context, release_stage,
    severity, app_version, unhandled."""
    from .webhook import delivery, fire, raise_error

    sim: BugsnagSim = request.app.state.sim
    control: Control = request.app.state.control
    project_id = request.path_params["project_id"]
    if project_id not in sim.world.projects:
        return JSONResponse({"errors": ["Project not found"]}, 404)
    try:
        spec = json.loads(await request.body() or b"{}")
    except ValueError:
        return JSONResponse({"errors": ["Bad request: body is not JSON"]}, 400)
    if not isinstance(spec, dict):
        return JSONResponse({"errors": ["Bad request"]}, 400)
    seed, event = raise_error(sim.world, project_id, spec)
    kind = "unhandled" if event["unhandled"] else "handled"
    payloads = [
        delivery(sim.world, seed, event, "firstException", f"New {kind} error"),
        delivery(sim.world, seed, event, "exception", "New event"),
    ]
    statuses = await fire(control.hooks, payloads, control.hook_transport)
    return JSONResponse({"error_id": seed.data["id"], "event_id": event["id"], "deliveries": statuses}, 201)


async def _test_hook_endpoint(request: Request) -> Response:
    """What the dashboard's "Test" button does: BugSnag's "Test error" delivery, placeholder ids and all."""
    from .webhook import dashboard_test_delivery, fire

    sim: BugsnagSim = request.app.state.sim
    control: Control = request.app.state.control
    project_id = request.path_params["project_id"]
    if project_id not in sim.world.projects:
        return JSONResponse({"errors": ["Project not found"]}, 404)
    statuses = await fire(control.hooks, [dashboard_test_delivery(sim.world, project_id)], control.hook_transport)
    return JSONResponse({"deliveries": statuses})


def check_filter_object(filters: dict[str, Any]) -> None:
    """A saved search's `filters` as the document's `Filters` object has them: each field id maps to a list of
    `{"type": "eq"|"ne", "value": string}`; anything else is a 400, as BugSnag answers it."""
    for field, conditions in filters.items():
        if not isinstance(conditions, list) or not all(isinstance(c, dict) for c in conditions):
            raise ApiError(400, f"filters.{field} must be an array of filters")
        for condition in conditions:
            if set(condition) != {"type", "value"} or condition["type"] not in ("eq", "ne"):
                raise ApiError(400, 'Each filter must be of the format {"type": "eq"|"ne", "value": ...}')
            if not isinstance(condition["value"], str):
                raise ApiError(400, f"filters.{field} value must be a string")


def create_bugsnag_app(*, rate_limit: int = 30, sorted_cap: int = 1000, control: Control | None = None) -> Starlette:
    """Build a fresh simulator with freshly seeded data. `app.state.control` holds faults and the request log."""
    control = control or Control(rate_limit=rate_limit)
    sim = BugsnagSim(control, sorted_cap=sorted_cap)
    r = sim.route
    P = "/projects/{project_id}"
    E = P + "/errors/{error_id}"
    routes = [
        Route("/", r(sim.root)),
        Route("/user/organizations", r(sim.list_orgs)),
        Route("/organizations/{id}", r(sim.get_org), methods=["GET"]),
        Route("/organizations/{id}", r(sim.update_org), methods=["PATCH"]),
        Route("/organizations/{id}", r(sim.delete_org), methods=["DELETE"]),
        Route("/organizations/{organization_id}/projects", r(sim.list_projects), methods=["GET"]),
        Route("/organizations/{organization_id}/projects", r(sim.create_project), methods=["POST"]),
        Route("/organizations/{organization_id}/collaborators", r(sim.org_collaborators)),
        Route("/organizations/{organization_id}/teams", r(sim.org_teams)),
        Route(P + "/configured_integration_summaries", r(sim.integration_summaries)),
        Route("/organizations/{organization_id}/collaborators/{id}", r(sim.org_collaborator)),
        Route(P, r(sim.get_project), methods=["GET"]),
        Route(P, r(sim.update_project), methods=["PATCH"]),
        Route(P + "/errors", r(sim.list_errors), methods=["GET"]),
        Route(P + "/errors", r(sim.bulk_update), methods=["PATCH"]),
        Route(E, r(sim.get_error), methods=["GET"]),
        Route(E, r(sim.update_error), methods=["PATCH"]),
        Route(E, r(sim.delete_error), methods=["DELETE"]),
        Route(E + "/events", r(sim.error_events)),
        Route(E + "/comments", r(sim.list_comments), methods=["GET"]),
        Route(E + "/comments", r(sim.create_comment), methods=["POST"]),
        Route("/comments/{id}", r(sim.update_comment), methods=["PATCH"]),
        Route("/comments/{id}", r(sim.delete_comment), methods=["DELETE"]),
        Route(P + "/feature_flags", r(sim.feature_flags)),
        Route("/release_groups/{id}/releases", r(sim.release_group_releases)),
        Route(P + "/event_data_deletions", r(sim.create_deletion), methods=["POST"]),
        Route(P + "/event_data_deletions/{id}", r(sim.get_deletion), methods=["GET"]),
        Route(E + "/pivots", r(sim.list_pivots)),
        Route(E + "/pivots/{event_field_display_id}/values", r(sim.pivot_values)),
        Route(E + "/trend", r(sim.trend)),
        Route("/errors/{error_id}/latest_event", r(sim.latest_event)),
        Route(P + "/events", r(sim.project_events)),
        Route(P + "/events/{event_id}", r(sim.get_event), methods=["GET"]),
        Route(P + "/events/{event_id}", r(sim.delete_event), methods=["DELETE"]),
        Route(P + "/pivots", r(sim.list_pivots)),
        Route(P + "/pivots/{event_field_display_id}/values", r(sim.pivot_values)),
        Route(P + "/trend", r(sim.trend)),
        Route(P + "/releases", r(sim.list_releases)),
        Route(P + "/releases/{release_id}", r(sim.get_release)),
        Route(P + "/release_groups", r(sim.list_release_groups)),
        Route("/release_groups/{id}", r(sim.update_release_group), methods=["PATCH"]),
        Route(P + "/stability_trend", r(sim.stability_trend)),
        Route(P + "/collaborators", r(sim.project_collaborators)),
        Route(P + "/event_fields", r(sim.event_fields)),
        Route(P + "/saved_searches", r(sim.list_saved_searches)),
        Route("/saved_searches", r(sim.create_saved_search), methods=["POST"]),
        Route("/saved_searches/{id}", r(sim.get_saved_search), methods=["GET"]),
        Route("/saved_searches/{id}", r(sim.update_saved_search), methods=["PATCH"]),
        Route("/saved_searches/{id}", r(sim.delete_saved_search), methods=["DELETE"]),
        Route("/_sandbox/faults", _faults_endpoint, methods=["POST"]),
        Route("/_sandbox/requests", _requests_endpoint, methods=["GET"]),
        Route("/_sandbox/projects/{project_id}/raise", _raise_endpoint, methods=["POST"]),
        Route("/_sandbox/projects/{project_id}/test-hook", _test_hook_endpoint, methods=["POST"]),
    ]

    async def not_found(request: Request, exc: Exception) -> Response:
        return JSONResponse({"errors": ["Not found"]}, 404)

    async def not_allowed(request: Request, exc: Exception) -> Response:
        return JSONResponse({"errors": ["Method not allowed"]}, 405)

    app = Starlette(routes=routes, exception_handlers={404: not_found, 405: not_allowed})
    app.state.control = control
    app.state.sim = sim
    return app
