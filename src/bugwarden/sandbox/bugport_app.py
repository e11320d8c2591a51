"""A Starlette app that behaves like the BugPort API (`/v1`) and its MCP bridge, per bugport-contract.md part B.

    app = create_bugport_app(rate_limit=30)                # mount it so its base URL ends in /v1
    app.state.control.faults.fail_next(1, 503)
    app.state.sim.unwired = {"context", "prompt"}          # bridge routes answer 501: adapters fall back

Tokens: `bp_mcp_sandbox_rw` (bugs:read, bugs:write), `bp_mcp_sandbox_ro` (bugs:read), and
`bp_mcp_sandbox_shop_only` (read-write, limited to the Shop project). Errors are FastAPI-shaped.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .bugport_seed import NOW, Report, Workspace, build_workspace, iso, uid
from .faults import Control, LoggedRequest

STATUSES = ("open", "triage", "in_progress", "resolved", "closed")
SEVERITIES = ("low", "medium", "high", "critical", "urgent")
BRIDGE_TOOLS = [
    ("list_bugs", "List bug reports", ["bugs:read"]),
    ("get_bug", "Get one bug report", ["bugs:read"]),
    ("get_bug_context", "Full context of a bug report", ["bugs:read"]),
    ("generate_fix_prompt", "A fix prompt for a bug report", ["bugs:read"]),
    ("add_comment", "Comment on a bug report", ["bugs:write"]),
    ("update_bug_status", "Change status and/or severity", ["bugs:write"]),
]


class Problem(Exception):
    def __init__(self, status: int, detail: Any) -> None:
        super().__init__(str(detail))
        self.status, self.detail = status, detail


def invalid(field: str, msg: str) -> Problem:
    return Problem(422, [{"loc": ["body", field], "msg": msg, "type": "value_error"}])


class BugportSim:
    def __init__(self, control: Control) -> None:
        self.control = control
        self.ws: Workspace = build_workspace()
        self.unwired: set[str] = set()

    def route(self, handler: Callable[[Request, dict[str, Any]], Awaitable[Any]], auth: bool = True) -> Any:
        async def endpoint(request: Request) -> Response:
            header = request.headers.get("authorization", "")
            token = header[7:].strip() if header.lower().startswith("bearer ") else None
            entry = LoggedRequest(request.method, request.url.path, request.url.query, token)
            self.control.log.append(entry)
            response = await self._guarded(request, token, handler, auth)
            entry.status = response.status_code
            return response

        return endpoint

    async def _guarded(self, request: Request, token: str | None, handler: Any, auth: bool) -> Response:
        faults = self.control.faults
        if delay := faults.delay_for(request.url.path):
            await anyio.sleep(delay)
        if faults.hang_remaining > 0:
            faults.hang_remaining -= 1
            await anyio.sleep(3600)
        if faults.fail_remaining > 0:
            faults.fail_remaining -= 1
            headers = {"Retry-After": str(faults.retry_after)} if faults.retry_after is not None else {}
            return JSONResponse({"detail": faults.fail_message}, faults.fail_status, headers=headers)
        if (status := faults.failing_status(request.url.path)) is not None:
            return JSONResponse({"detail": "Injected failure"}, status)
        if faults.garbage_remaining > 0:
            faults.garbage_remaining -= 1
            return Response("<html>upstream proxy error</html>", 200, media_type="application/json")
        if (oversized := faults.oversized()) is not None:
            return oversized
        grant = self.ws.tokens.get(token or "")
        if auth and grant is None:
            return JSONResponse({"detail": "Invalid or missing token"}, 401, headers={"WWW-Authenticate": "Bearer"})
        if auth:
            allowed, _, retry_after = self.control.limiter.hit(token or "")
            if not allowed:
                return JSONResponse({"detail": "Rate limit exceeded"}, 429, headers={"Retry-After": str(retry_after)})
        try:
            result = await handler(request, grant or {})
        except Problem as exc:
            return JSONResponse({"detail": exc.detail}, exc.status)
        if isinstance(result, Response):
            return result
        return JSONResponse(result, 201 if request.method == "POST" and "comments" in request.url.path else 200)

    # -- helpers ----------------------------------------------------------------------------------

    @staticmethod
    def need(grant: dict[str, Any], scope: str) -> None:
        if scope not in grant["scopes"]:
            raise Problem(403, f"Token lacks the {scope} scope")

    def visible_projects(self, grant: dict[str, Any]) -> list[dict[str, Any]]:
        return [p for p in self.ws.projects.values() if not grant["projects"] or p["id"] in grant["projects"]]

    def report(self, grant: dict[str, Any], bug_id: str) -> Report:
        self.need(grant, "bugs:read")
        report = self.ws.reports.get(bug_id)
        if report is None:
            raise Problem(404, "Bug not found")
        if grant["projects"] and report.bug["project_id"] not in grant["projects"]:
            raise Problem(403, "Token is not allowed for this project")
        return report

    async def body(self, request: Request) -> dict[str, Any]:
        try:
            data = json.loads(await request.body() or b"{}")
        except ValueError:
            raise Problem(422, [{"loc": ["body"], "msg": "invalid JSON", "type": "json_invalid"}]) from None
        if not isinstance(data, dict):
            raise Problem(422, [{"loc": ["body"], "msg": "expected an object", "type": "dict_type"}])
        return data

    def context_of(self, report: Report) -> dict[str, Any]:
        return {
            "bug": report.bug,
            "console_logs": report.logs,
            "network": report.network,
            "comments": report.comments,
            "activity": report.activity,
            "media": [
                {
                    "id": uid("m", report.bug["id"]),
                    "kind": "screenshot",
                    "url": f"https://storage.bugport.test/{report.bug['id']}.png?sig=short-lived",
                    "expires_at": iso(NOW + timedelta(minutes=15)),
                }
            ],
        }

    def apply_update(self, grant: dict[str, Any], bug_id: str, data: dict[str, Any]) -> dict[str, Any]:
        report = self.report(grant, bug_id)
        self.need(grant, "bugs:write")
        status, severity = data.get("status"), data.get("severity")
        if status is None and severity is None:
            raise invalid("status", "status or severity is required")
        if status is not None and status not in STATUSES:
            raise invalid("status", f"must be one of {', '.join(STATUSES)}")
        if severity is not None and severity not in SEVERITIES:
            raise invalid("severity", f"must be one of {', '.join(SEVERITIES)}")
        for key, value in (("status", status), ("severity", severity)):
            if value is not None and value != report.bug[key]:
                report.activity.append(
                    {
                        "type": f"{key}_changed",
                        "actor": "mcp",
                        "at": iso(NOW),
                        "detail": f"{report.bug[key]} -> {value}",
                    }
                )
                report.bug[key] = value
        report.bug["updated_at"] = iso(NOW)
        return report.bug

    def add_comment(self, grant: dict[str, Any], bug_id: str, data: dict[str, Any]) -> dict[str, Any]:
        report = self.report(grant, bug_id)
        self.need(grant, "bugs:write")
        body = data.get("body")
        if not isinstance(body, str) or not body.strip():
            raise invalid("body", "field required")
        if len(body) > 10_000:
            raise invalid("body", "at most 10000 characters")
        comment = {
            "id": uid("c", bug_id, str(len(report.comments))),
            "author": "MCP agent",
            "body": body,
            "created_at": iso(NOW),
        }
        report.comments.append(comment)
        report.bug["counts"]["comments"] = len(report.comments)
        return comment

    # -- routes -----------------------------------------------------------------------------------

    async def health(self, request: Request, grant: dict[str, Any]) -> Any:
        return {"status": "ok"}

    async def version(self, request: Request, grant: dict[str, Any]) -> Any:
        return {"version": "0.2.0", "api": "v1"}

    async def projects(self, request: Request, grant: dict[str, Any]) -> Any:
        return {"items": self.visible_projects(grant)}

    async def list_bugs(self, request: Request, grant: dict[str, Any]) -> Any:
        self.need(grant, "bugs:read")
        q = request.query_params
        visible = {p["id"] for p in self.visible_projects(grant)}
        if (pid := q.get("project_id")) and pid not in visible:
            raise Problem(403 if pid in self.ws.projects else 404, "Project not found or not allowed")
        items = [
            r.bug
            for r in self.ws.reports.values()
            if r.bug["project_id"] in visible
            and (not pid or r.bug["project_id"] == pid)
            and (not q.get("status") or r.bug["status"] == q["status"])
            and (not q.get("severity") or r.bug["severity"] == q["severity"])
            and (not q.get("q") or q["q"].lower() in (r.bug["title"] + r.bug["description"]).lower())
        ]
        items.sort(key=lambda b: (b["created_at"], b["id"]), reverse=True)
        raw_limit = q.get("limit", "20")
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 100:
            raise Problem(422, [{"loc": ["query", "limit"], "msg": "must be between 1 and 100", "type": "value_error"}])
        limit = int(raw_limit)
        start = 0
        if cursor := q.get("cursor"):
            ids = [b["id"] for b in items]
            if cursor not in ids:
                raise Problem(422, [{"loc": ["query", "cursor"], "msg": "invalid cursor", "type": "value_error"}])
            start = ids.index(cursor)
        page = items[start : start + limit]
        following = items[start + limit] if start + limit < len(items) else None
        return {"items": page, "next_cursor": following["id"] if following else None, "total": len(items)}

    async def get_bug(self, request: Request, grant: dict[str, Any]) -> Any:
        return self.report(grant, request.path_params["bug_id"]).bug

    async def patch_bug(self, request: Request, grant: dict[str, Any]) -> Any:
        return self.apply_update(grant, request.path_params["bug_id"], await self.body(request))

    async def sub_resource(self, request: Request, grant: dict[str, Any]) -> Any:
        report = self.report(grant, request.path_params["bug_id"])
        kind = request.url.path.rsplit("/", 1)[-1]
        return {
            "items": {
                "logs": report.logs,
                "network": report.network,
                "comments": report.comments,
                "activity": report.activity,
            }[kind]
        }

    async def post_comment(self, request: Request, grant: dict[str, Any]) -> Any:
        return self.add_comment(grant, request.path_params["bug_id"], await self.body(request))

    async def mcp_config(self, request: Request, grant: dict[str, Any]) -> Any:
        token = next(k for k, v in self.ws.tokens.items() if v is grant)
        return {
            "workspace": self.ws.workspace,
            "projects": [{"id": p["id"], "name": p["name"]} for p in self.visible_projects(grant)],
            "scopes": grant["scopes"],
            "token": {"id": grant["id"], "name": grant["name"], "expires_at": None, "prefix": token[:6]},
        }

    async def mcp_tools(self, request: Request, grant: dict[str, Any]) -> Any:
        return {
            "tools": [
                {"name": name, "description": desc, "scopes": scopes, "input_schema": {"type": "object"}}
                for name, desc, scopes in BRIDGE_TOOLS
                if set(scopes) <= set(grant["scopes"]) and name not in self.unwired
            ]
        }

    async def mcp_invoke(self, request: Request, grant: dict[str, Any]) -> Any:
        if "invoke" in self.unwired:
            raise Problem(501, "Not wired up yet")
        data = await self.body(request)
        name, args = data.get("tool"), data.get("arguments") or {}
        scopes = {n: s for n, _, s in BRIDGE_TOOLS}
        if name not in scopes:
            return {"result": {"message": f"unknown tool {name}"}, "is_error": True}
        for scope in scopes[name]:
            self.need(grant, scope)
        try:
            if name == "add_comment":
                result: Any = self.add_comment(grant, str(args.get("bug_id")), args)
            elif name == "update_bug_status":
                result = self.apply_update(grant, str(args.get("bug_id")), args)
            elif name == "get_bug":
                result = self.report(grant, str(args.get("bug_id"))).bug
            else:
                return {"result": {"message": f"{name} is served by its REST route"}, "is_error": True}
        except Problem as exc:
            if exc.status in (401, 403):
                raise
            return {"result": {"message": str(exc.detail)}, "is_error": True}
        return {"result": result, "is_error": False}

    async def mcp_context(self, request: Request, grant: dict[str, Any]) -> Any:
        if "context" in self.unwired:
            raise Problem(501, "Not wired up yet")
        return self.context_of(self.report(grant, request.path_params["bug_id"]))

    async def mcp_prompt(self, request: Request, grant: dict[str, Any]) -> Any:
        if "prompt" in self.unwired:
            raise Problem(501, "Not wired up yet")
        report = self.report(grant, request.path_params["bug_id"])
        bug = report.bug
        errors = [log["message"] for log in report.logs if log["level"] == "error"]
        prompt = (
            f"Fix the bug '{bug['title']}' reported on {bug['page']['url']}.\n"
            f"Reporter says: {bug['description']}\n"
            + (f"Console errors: {'; '.join(errors)}\n" if errors else "")
            + "Check the failing network requests and add a regression test."
        )
        return {"bug_id": bug["id"], "prompt": prompt}


async def _requests_endpoint(request: Request) -> Response:
    """What the simulator has seen (for out-of-process tests): method and path of every request."""
    control: Control = request.app.state.control
    return JSONResponse({"requests": [f"{r.method} {r.path}" for r in control.log]})


async def _faults_endpoint(request: Request) -> Response:
    control: Control = request.app.state.control
    try:
        control.faults.update(json.loads(await request.body() or b"{}"))
    except (ValueError, TypeError):
        return JSONResponse({"detail": "bad fault spec"}, 400)
    return JSONResponse({"ok": True})


def create_bugport_app(*, rate_limit: int = 30, control: Control | None = None) -> Starlette:
    """A fresh BugPort simulator. Serve or mount it so that its base URL ends in /v1."""
    control = control or Control(rate_limit=rate_limit)
    sim = BugportSim(control)
    r = sim.route
    B = "/v1/bugs/{bug_id}"
    routes = [
        Route("/v1/health", r(sim.health, auth=False)),
        Route("/v1/version", r(sim.version, auth=False)),
        Route("/v1/projects", r(sim.projects)),
        Route("/v1/bugs", r(sim.list_bugs)),
        Route(B, r(sim.get_bug), methods=["GET"]),
        Route(B, r(sim.patch_bug), methods=["PATCH"]),
        Route(B + "/logs", r(sim.sub_resource)),
        Route(B + "/network", r(sim.sub_resource)),
        Route(B + "/activity", r(sim.sub_resource)),
        Route(B + "/comments", r(sim.sub_resource), methods=["GET"]),
        Route(B + "/comments", r(sim.post_comment), methods=["POST"]),
        Route("/v1/mcp/config", r(sim.mcp_config)),
        Route("/v1/mcp/tools", r(sim.mcp_tools)),
        Route("/v1/mcp/tools/invoke", r(sim.mcp_invoke), methods=["POST"]),
        Route("/v1/mcp/bugs/{bug_id}/context", r(sim.mcp_context)),
        Route("/v1/mcp/bugs/{bug_id}/prompt", r(sim.mcp_prompt)),
        Route("/_sandbox/faults", _faults_endpoint, methods=["POST"]),
        Route("/_sandbox/requests", _requests_endpoint, methods=["GET"]),
    ]

    async def not_found(request: Request, exc: Exception) -> Response:
        return JSONResponse({"detail": "Not Found"}, 404)

    async def not_allowed(request: Request, exc: Exception) -> Response:
        return JSONResponse({"detail": "Method Not Allowed"}, 405)

    app = Starlette(routes=routes, exception_handlers={404: not_found, 405: not_allowed})
    app.state.control = control
    app.state.sim = sim
    return app
