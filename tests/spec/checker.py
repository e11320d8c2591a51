"""Holds recorded upstream requests to BugSnag's OpenAPI document (its request side, extracted into
`bugsnag_requests.json` by `extract.py`) and to the real-API notes of `shared/reference/bugsnag-api.md`.

    recorder = Recorder(httpx.ASGITransport(app=sandbox))   # the upstream transport of a server or backend
    ...drive tools...
    assert SPEC.problems(recorder.sent) == []
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote

import httpx

_FILTER = re.compile(r"^filters\[([^\]\[]+)\]\[\]\[(type|value)\]$")
_ARRAY = re.compile(r"^([a-z_]+)\[\]$")
# The Link header's next URL is followed verbatim (bugsnag-api.md section 7); these come from it, not from us.
FROM_NEXT_LINK = re.compile(r"^(offset(\[[a-z_]+\])?|base|page_token)$")
# The real API where the document is wrong (bugsnag-api.md section 10).
REAL_PATHS = {
    "/projects/{project_id}/trend": "/projects/{project_id}/trends",
    "/projects/{project_id}/errors/{error_id}/trend": "/projects/{project_id}/errors/{error_id}/trends",
}


@dataclass(frozen=True, slots=True)
class Sent:
    """One upstream request exactly as sent: method, path, query string (in order, still encoded) and body."""

    method: str
    path: str
    query: str
    body: bytes

    def __str__(self) -> str:
        return f"{self.method} {self.path}" + (f"?{unquote(self.query)}" if self.query else "")


class Recorder(httpx.AsyncBaseTransport):
    """A transport that records every request before passing it on."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.sent: list[Sent] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        path, _, query = request.url.raw_path.decode().partition("?")
        self.sent.append(Sent(request.method, path, query, request.content))
        return await self.inner.handle_async_request(request)


@dataclass(frozen=True, slots=True)
class Operation:
    method: str
    template: str
    pattern: re.Pattern[str]
    query: dict[str, dict[str, Any]]
    body: dict[str, Any] | None


class Spec:
    def __init__(self, path: Path = Path(__file__).parent / "bugsnag_requests.json") -> None:
        self.operations: list[Operation] = []
        for op in json.loads(path.read_text()):
            template = op["path"]
            for real, documented in REAL_PATHS.items():
                if template == documented:
                    template = real
            pattern = re.compile("^" + re.sub(r"\\\{[a-z_]+\\\}", "[^/]+", re.escape(template)) + "$")
            self.operations.append(Operation(op["method"], template, pattern, op["query"], op["body"]))
        # A literal path segment beats a parameter (`/collaborators/project_access_counts` before `/{id}`).
        self.operations.sort(key=lambda o: o.template.count("{"))

    def operation(self, method: str, path: str) -> Operation | None:
        return next((o for o in self.operations if o.method == method and o.pattern.match(path)), None)

    def problems(self, sent: list[Sent]) -> list[str]:
        """Every way each request departs from the document: an empty list when all of them follow it."""
        found: list[str] = []
        for request in sent:
            found += [f"{request}: {p}" for p in self.check(request)]
        return found

    def check(self, request: Sent) -> list[str]:
        op = self.operation(request.method, request.path)
        if op is None:
            return ["no such operation in the specification"]
        out = self._query(op, parse_qsl(request.query, keep_blank_values=True))
        out += self._body(op, request.body)
        return out

    @staticmethod
    def _query(op: Operation, pairs: list[tuple[str, str]]) -> list[str]:
        out: list[str] = []
        given: set[str] = set()
        open_filter: str | None = None
        for key, value in pairs:
            if m := _FILTER.match(key):
                field, part = m.groups()
                given.add("filters")
                if part == "type":
                    if open_filter is not None:
                        out.append(f"filter {open_filter} has a type but no value before the next filter")
                    if value not in ("eq", "ne"):
                        out.append(f"filter {field} has type {value!r} (eq or ne)")
                    open_filter = field
                else:
                    if open_filter != field:
                        out.append(f"filter {field}'s value does not follow its own type (BugSnag pairs them in order)")
                    open_filter = None
                continue
            if key.startswith("filters"):
                out.append(f"{key} is not the filters[field][][type|value] form")
                continue
            if open_filter is not None:
                out.append(f"filter {open_filter} has a type but no value")
                open_filter = None
            name = m.group(1) if (m := _ARRAY.match(key)) else key
            if FROM_NEXT_LINK.match(key):
                continue
            if name not in op.query:
                out.append(f"query parameter {key!r} is not a parameter of {op.method} {op.template}")
                continue
            given.add(name)
            spec = op.query[name]
            if spec.get("type") == "array" and not _ARRAY.match(key):
                out.append(f"array parameter {name} must be sent as {name}[]")
            if "enum" in spec and value not in spec["enum"]:
                out.append(f"{name}={value!r} is not one of {spec['enum']}")
            if spec.get("type") in ("integer", "number") and not value.isdigit():
                out.append(f"{name}={value!r} is not a number")
            if spec.get("type") == "boolean" and value not in ("true", "false"):
                out.append(f"{name}={value!r} is not true or false")
        if open_filter is not None:
            out.append(f"filter {open_filter} has a type but no value")
        for name, spec in op.query.items():
            if spec.get("required") and name not in given:
                out.append(f"required query parameter {name} is missing")
        return out

    @staticmethod
    def _body(op: Operation, raw: bytes) -> list[str]:
        if op.body is None:
            return ["this operation takes no body"] if raw.strip() else []
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            return ["the body is not JSON"]
        if not isinstance(body, dict):
            return ["the body is not a JSON object"] if op.body["required"] or raw.strip() else []
        out = [f"body field {k!r} is not in the request schema" for k in body if k not in op.body["properties"]]
        out += [f"required body field {k!r} is missing" for k in op.body["required"] if k not in body]
        for key, value in body.items():
            prop = op.body["properties"].get(key, {})
            if "enum" in prop and value not in prop["enum"]:
                out.append(f"body field {key}={value!r} is not one of {prop['enum']}")
        if "filters" in body:
            out += _filter_object(body["filters"])
        return out


def _filter_object(filters: Any) -> list[str]:
    """How a body's `filters` departs from the document's `Filters` object: field id -> [{type: eq|ne, value}]."""
    if not isinstance(filters, dict):
        return ["body field filters is not an object of field ids"]
    out: list[str] = []
    for field, conditions in filters.items():
        if not isinstance(conditions, list) or not conditions:
            out.append(f"body filter {field} is not a list of conditions")
            continue
        for condition in conditions:
            if not isinstance(condition, dict) or set(condition) != {"type", "value"}:
                out.append(f"body filter {field} has a condition that is not {{type, value}}: {condition!r}")
            elif condition["type"] not in ("eq", "ne"):
                out.append(f"body filter {field} has type {condition['type']!r} (eq or ne)")
            elif not isinstance(condition["value"], str):
                out.append(f"body filter {field}'s value {condition['value']!r} is not a string")
    return out


SPEC = Spec()
