"""Audit records in plain words: who, what, where, and the decision, one sentence per record.

    sentence(record)   'triage-bot (granted by alice, via Claude Code) resolved error "TypeError in checkout"
                        in project Checkout — allowed, the user approved'
    parts(record)      the same as (text, is_data) pieces, for a page that marks what came from the record
    sentence(record, Names(projects={"p1": "Checkout"}))   projects (and errors) named by what the trackers call
                        them, where the record itself carries only their ids

Every value taken from a record (names, client names, ids, error titles, reasons) is data: it is cleaned of
control and invisible characters here, quoted when it is not a plain word (so that it cannot pass for our words),
and escaped by whatever shows it (the console's templates escape every piece).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .text import inline

Part = tuple[str, bool]
"""A piece of a sentence: its text, and whether it is data from the record (True) or our words (False)."""

_PLAIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@/+-]{0,79}$")

# tool: (base verb, past tense, object); the object names `{error}`, `{event}`, `{project}`, `{organization}`.
_TOOLS: dict[str, tuple[str, str, str]] = {
    "list_projects": ("list", "listed", "projects"),
    "get_project": ("read", "read", "the settings of {project}"),
    "create_project": ("create", "created", "a project"),
    "update_project": ("change", "changed", "the settings of {project}"),
    "list_errors": ("list", "listed", "errors"),
    "get_error": ("read", "read", "{error}"),
    "list_events": ("list", "listed", "the events of {error}"),
    "get_event": ("read", "read", "{event}"),
    "get_latest_event": ("read", "read", "the latest event of {error}"),
    "get_bug_context": ("read", "read", "the context of {error}"),
    "generate_fix_prompt": ("write", "wrote", "a fix brief for {error}"),
    "resolve_error": ("resolve", "resolved", "{error}"),
    "update_error": ("update", "updated", "{error}"),
    "bulk_update_errors": ("update", "updated", "several errors"),
    "delete_error": ("delete", "deleted", "{error}"),
    "delete_event": ("delete", "deleted", "{event}"),
    "add_comment": ("comment on", "commented on", "{error}"),
    "list_collaborators": ("list", "listed", "collaborators"),
    "list_organizations": ("list", "listed", "organizations"),
    "update_organization": ("change", "changed", "the settings of {organization}"),
    "delete_organization": ("delete", "deleted", "{organization}"),
    "list_releases": ("list", "listed", "releases"),
    "list_release_groups": ("list", "listed", "release groups"),
    "update_release_group": ("change", "changed", "a release group"),
    "get_trend": ("read", "read", "a trend"),
    "get_stability_trend": ("read", "read", "the stability trend"),
    "list_pivots": ("read", "read", "where errors happen"),
    "list_pivot_values": ("read", "read", "the values of a field"),
    "list_event_fields": ("list", "listed", "event fields"),
    "list_project_events": ("list", "listed", "recent events"),
    "list_saved_searches": ("list", "listed", "saved searches"),
    "create_saved_search": ("save", "saved", "a search"),
    "list_signals": ("list", "listed", "signals"),
    "resource:list_signals": ("read", "read", "the signals of {project}"),
    "subscribe:list_signals": ("subscribe to", "subscribed to", "the signals of {project}"),
    "hook:bugsnag": ("deliver", "delivered", "a BugSnag webhook delivery"),
}
# People on the pages (and the authorization server): records with transport "web".
_ACTIONS: dict[str, tuple[str, str, str]] = {
    "sign_in": ("sign in", "signed in", ""),
    "sign_out": ("sign out", "signed out", ""),
    "console.access": ("change", "changed", "the access of {agent}"),
    "console.revoke": ("revoke", "revoked", "{agent}"),
    "console.token_create": ("create", "created", "the token {agent}"),
    "approvals:approve": ("approve", "approved", "the pending {for_tool} of {for_principal}"),
    "approvals:reject": ("reject", "rejected", "the pending {for_tool} of {for_principal}"),
}
_SCOPE_WORDS = {
    "errors:read": "read errors",
    "errors:write": "change errors",
    "errors:delete": "delete errors",
    "projects:read": "read projects",
    "projects:admin": "manage projects",
    "collaborators:read": "read collaborators",
}
_CLIENTS = {
    "claude-code": "Claude Code",
    "claude-ai": "Claude",
    "claude": "Claude",
    "visual studio code": "VS Code",
    "vscode": "VS Code",
    "cursor-vscode": "Cursor",
    "cursor": "Cursor",
    "mcp-inspector": "MCP Inspector",
    "inspector-client": "MCP Inspector",
}
_OUTCOMES = {
    "NotFound": "not found",
    "Forbidden": "forbidden",
    "Unauthorized": "the upstream credential was refused",
    "RateLimited": "rate limited",
    "InvalidRequest": "the request was refused",
    "UpstreamServerError": "a server error",
    "UpstreamTimeout": "no answer in time",
    "UpstreamUnreachable": "no connection",
    "AccountRestricted": "the account is restricted",
    "ResultsCapped": "too many results to sort",
    "MalformedResponse": "an answer bugwarden could not read",
    "ResponseTooLarge": "an answer too large to read",
    "QuotaUnavailable": "the rate limit leaves no room",
}
_TARGET_KINDS = ("error", "event", "project", "organization")
_NEEDS_SCOPE = re.compile(r"needs the ([a-z]+:[a-z]+) scope")


@dataclass(frozen=True, slots=True)
class Names:
    """What the trackers call the projects and errors records name by id (looked up by whoever shows the records:
    the console, `audit tail --plain`). A name the record itself carries (its `labels`) comes first."""

    projects: Mapping[str, str] = field(default_factory=dict)
    errors: Mapping[str, str] = field(default_factory=dict)

    def of(self, kind: str, ident: object) -> str | None:
        table = self.projects if kind == "project" else self.errors if kind == "error" else {}
        name = table.get(str(ident)) if ident else None
        return name or None


NO_NAMES = Names()


def named_ids(records: Iterable[Mapping[str, Any]]) -> tuple[set[str], set[str]]:
    """The project ids and error ids these records name (what a `Names` for them needs)."""
    projects: set[str] = set()
    errors: set[str] = set()
    for record in records:
        for key in ("targets", "arguments"):
            values = record.get(key)
            if not isinstance(values, Mapping):
                continue
            if isinstance(values.get("project_id"), str):
                projects.add(values["project_id"])
            if isinstance(values.get("error_id"), str):
                errors.add(values["error_id"])
    return projects, errors


def quoted(value: object, limit: int = 120) -> str:
    """A record's value as one clean line in double quotes (quotes and backslashes inside escaped)."""
    return '"' + inline(value, limit).replace("\\", "\\\\").replace('"', '\\"') + '"'


def data(value: object, limit: int = 80) -> str:
    """A record's value as it may appear in a sentence: one clean line, quoted unless it is a plain word."""
    text = inline(value, limit)
    return text if _PLAIN.match(text) else quoted(text, limit)


def _label(record: Mapping[str, Any], key: str) -> str | None:
    labels = record.get("labels")
    if isinstance(labels, Mapping) and labels.get(key):
        return str(labels[key])
    return None


def _target(record: Mapping[str, Any], kind: str, names: Names = NO_NAMES) -> list[Part]:
    """`error "TypeError in checkout"` (a title when the record or `names` has one) or `error 5f3a…` (its id)."""
    targets = record.get("targets") if isinstance(record.get("targets"), Mapping) else {}
    arguments = record.get("arguments") if isinstance(record.get("arguments"), Mapping) else {}
    key = f"{kind}_id"
    ident = (targets or {}).get(key) or (arguments or {}).get(key)
    label = _label(record, kind) or names.of(kind, ident)
    if label and kind in ("error", "event"):  # titles are sentences of their own: always quoted
        return [(f"{kind} ", False), (quoted(label), True)]
    if label:
        return [(f"{kind} ", False), (data(label), True)]
    if ident:
        return [(f"{kind} ", False), (data(ident), True)]
    return [(f"an {kind}" if kind[0] in "aeio" else f"a {kind}", False)]


def _actor(record: Mapping[str, Any]) -> list[Part]:
    principal = str(record.get("principal_id") or "")
    name = record.get("principal_name") or principal or "someone"
    client = record.get("client") or record.get("client_name")
    if principal == "unauthenticated":
        out: list[Part] = [("an unauthenticated caller", False)]
    elif principal == "local":
        out = [("the local stdio agent", False)]
    else:
        out = [(data(name), True)]
    extra: list[list[Part]] = []
    person = record.get("person") or record.get("granted_by")
    if person and not principal.startswith("person:"):
        extra.append([("granted by ", False), (data(person), True)])
    elif principal.startswith("tok_"):
        extra.append([("token ", False), (data(principal), True)])
    if client:
        known = _CLIENTS.get(str(client).strip().lower())
        extra.append([("via ", False), (known, False) if known else (data(client), True)])
    elif record.get("transport") == "web" or principal.startswith("person:"):
        extra.append([("on the console", False)])
    if extra:
        out.append((" (", False))
        for i, piece in enumerate(extra):
            if i:
                out.append((", ", False))
            out += piece
        out.append((")", False))
    return out


def _object(record: Mapping[str, Any], template: str, names: Names = NO_NAMES) -> list[Part]:
    out: list[Part] = []
    for chunk in re.split(r"(\{[a-z_]+\})", template):
        if not chunk:
            continue
        if chunk.startswith("{"):
            kind = chunk[1:-1]
            if kind in _TARGET_KINDS:
                out += _target(record, kind, names)
            else:  # a value the record's arguments carry (an agent's name, the tool an approval was for)
                arguments = record.get("arguments") if isinstance(record.get("arguments"), Mapping) else {}
                value = (arguments or {}).get(kind) or (arguments or {}).get("id" if kind == "agent" else kind)
                out.append((data(value), True) if value else ("an agent" if kind == "agent" else "a call", False))
        else:
            out.append((chunk, False))
    return out


def _where(record: Mapping[str, Any], template: str, names: Names = NO_NAMES) -> list[Part]:
    """` in project Checkout` (or its id) when the record names a project the object does not already (a console
    record names it among its arguments: the project whose access changed)."""
    targets = record.get("targets") if isinstance(record.get("targets"), Mapping) else {}
    arguments = record.get("arguments") if isinstance(record.get("arguments"), Mapping) else {}
    if "{project}" in template or "{organization}" in template:
        return []
    web = str(record.get("tool") or "") in _ACTIONS
    if (targets or {}).get("project_id") or _label(record, "project") or (web and (arguments or {}).get("project_id")):
        return [(" in ", False), *_target(record, "project", names)]
    if (targets or {}).get("organization_id"):
        return [(" in ", False), *_target(record, "organization", names)]
    return []


def _changes(record: Mapping[str, Any]) -> list[Part]:
    """` (Resolve and update errors: Full → Off)`: what a change of access changed, row by row."""
    arguments = record.get("arguments") if isinstance(record.get("arguments"), Mapping) else {}
    changed = (arguments or {}).get("changes")
    if record.get("tool") != "console.access" or not isinstance(changed, Mapping) or not changed:
        return []
    out: list[Part] = [(" (", False)]
    for i, (row, change) in enumerate(list(changed.items())[:8]):
        if i:
            out.append(("; ", False))
        out.append((inline(f"{row}: {change}", 100), True))
    out.append((")", False))
    return out


def _reason(reason: str) -> str:
    """A refusal's reason in plain words: 'needs the errors:delete scope' reads 'the token may not delete errors'."""
    scope = _NEEDS_SCOPE.search(reason)
    if scope and scope.group(1) in _SCOPE_WORDS:
        return f"the token may not {_SCOPE_WORDS[scope.group(1)]}"
    text = reason.strip()
    return text[len("denied: ") :] if text.lower().startswith("denied: ") else text


def _decision(record: Mapping[str, Any]) -> list[Part]:
    decision = str(record.get("decision") or "")
    outcome = str(record.get("outcome") or "")
    consent = str(record.get("consent") or "")
    reason = str(record.get("reason") or "")
    if record.get("phase") == "intent":
        return [("allowed, recorded before the call was made", False)]
    if decision == "denied":
        return [("denied: ", False), (inline(_reason(reason), 300), True)] if reason else [("denied", False)]
    if decision == "invalid":
        return [("refused: ", False), (inline(reason, 300), True)] if reason else [("refused", False)]
    if consent == "declined":
        return [("not done: the user declined", False)]
    if consent == "cancelled":
        return [("not done: the user cancelled", False)]
    if consent == "preview" or outcome == "input_required":
        return [("allowed, waiting for confirmation", False)]
    if decision != "allowed":
        return [(data(decision or "no decision"), True)]
    said: list[Part] = [("allowed", False)]
    if consent == "user approved":
        said.append((", the user approved", False))
    elif consent == "confirmation code":
        said.append((", confirmed with a code", False))
    elif consent.startswith("approved by "):
        said += [(", approved by ", False), (data(consent[len("approved by ") :]), True)]
    elif consent and consent != "not needed":
        said += [(", consent: ", False), (data(consent), True)]
    if outcome and outcome not in ("ok", "pending"):
        if outcome.startswith("internal_error"):
            said.append((", but it failed inside bugwarden", False))
        else:
            status = record.get("upstream_status")
            words = _OUTCOMES.get(outcome)
            said += [(", but the tracker answered: ", False), (words, False) if words else (data(outcome), True)]
            if isinstance(status, int):
                said.append((f" ({status})", False))
    return said


def parts(record: Mapping[str, Any], names: Names = NO_NAMES) -> list[Part]:
    """The record's sentence as pieces (see `sentence`)."""
    tool = str(record.get("tool") or "")
    known = _TOOLS.get(tool) or _ACTIONS.get(tool)
    intent = record.get("phase") == "intent"
    failed = record.get("decision") in ("denied", "invalid") or record.get("consent") in ("declined", "cancelled")
    waiting = not failed and (record.get("consent") == "preview" or record.get("outcome") == "input_required")
    out = _actor(record)
    if known is None:
        verb: list[Part] = [
            (
                " is about to call "
                if intent
                else " tried to call "
                if failed
                else " asked to call "
                if waiting
                else " called ",
                False,
            )
        ]
        out += [*verb, ("the tool ", False), (data(tool or "(none)"), True)]
        template = ""
    else:
        base, past, template = known
        if intent:
            out.append((f" is about to {base}", False))
        elif waiting:
            out.append((f" asked to {base}", False))
        elif failed:
            out.append((f" tried to {base}", False))
        else:
            out.append((f" {past}", False))
        if template:
            out += [(" ", False), *_object(record, template, names)]
    out += _where(record, template, names)
    out += _changes(record)
    out.append((" — ", False))
    out += _decision(record)
    return out


def sentence(record: Mapping[str, Any], names: Names = NO_NAMES) -> str:
    """One record in plain words: who (and through which client, granted by whom), what, where, the decision."""
    return "".join(text for text, _ in parts(record, names))
