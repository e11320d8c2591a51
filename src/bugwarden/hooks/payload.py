"""A BugSnag webhook delivery, checked and turned into the columns of one signal.

The body is attacker-controlled even when the secret in its URL is right (whoever learns the URL can post),
so nothing in it decides anything beyond its own signal: ids must look like ids or the delivery is refused;
text is kept verbatim (capped) and fenced where it is shown; numbers, booleans and times that do not parse
are dropped, not guessed. The vendor's quirks are accepted: string line numbers, optional objects missing,
unknown trigger types (stored as they are). See shared/reference/bugsnag-webhook.md.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

MAX_DEPTH = 32
"""Nesting deeper than this is refused (BugSnag's payloads nest about eight levels, metaData included)."""
TEST_ERROR_IDS = frozenset({"530c3522e694aae2f4000035"})
"""The placeholder error id of BugSnag's "Test error" delivery."""
EVENT_TRIGGERS = ("firstException", "reopened", "errorEventFrequency", "powerTen", "exception")
"""Triggers about one event of an error: several may fire for one event, and merge into one signal."""
RANK = {
    "firstException": 0,
    "reopened": 1,
    "projectSpiking": 2,
    "errorEventFrequency": 3,
    "powerTen": 4,
    "errorStateManualChange": 5,
    "comment": 6,
    "release": 7,
    "exception": 9,
}
"""Which trigger names a merged signal: the most telling first. Unknown triggers rank 8."""
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_TRIGGER = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,49}")
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_ -]{0,39}")
_URL = re.compile(r"https?://[^\s<>\"'`\\\x00-\x1f\x7f]{1,1000}")
TEXT_LIMITS = {"message": 2000, "trigger_message": 300, "error_class": 300, "context": 500}


class Refused(Exception):
    """A delivery bugwarden will not store: `status` is the HTTP answer, `reason` our words (no payload text)."""

    def __init__(self, status: int, reason: str, decision: str = "invalid") -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.decision = decision


@dataclass(frozen=True, slots=True)
class Delivery:
    project_id: str
    trigger: str
    dedup_key: str
    fields: dict[str, Any]
    test: bool


def parse_body(body: bytes, content_type: str) -> dict[str, Any]:
    """The JSON object a delivery carries; Refused for anything else."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media != "application/json":
        raise Refused(415, f"content type {media[:60] or 'missing'!r} is not application/json")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(400, "the body is not UTF-8") from None
    try:
        data = json.loads(text)
    except RecursionError:
        raise Refused(400, f"the JSON nests deeper than {MAX_DEPTH} levels") from None
    except ValueError:
        raise Refused(400, "the body is not JSON") from None
    if depth(data) > MAX_DEPTH:
        raise Refused(400, f"the JSON nests deeper than {MAX_DEPTH} levels")
    if not isinstance(data, dict):
        raise Refused(400, "the body is not a JSON object")
    return data


def depth(value: Any) -> int:
    """How deep containers nest in `value` (a scalar is 0), without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            return deepest
        stack.extend((child, level + 1) for child in children)
    return deepest


def read_delivery(data: dict[str, Any], hook_project: str, source: str = "bugsnag") -> Delivery:
    """The signal a BugSnag delivery describes, for a hook of `hook_project`. Raises Refused."""
    project, trigger = data.get("project"), data.get("trigger")
    if not isinstance(project, dict) or not isinstance(trigger, dict):
        raise Refused(422, "the payload has no project or trigger object")
    project_id = project.get("id")
    if not isinstance(project_id, str) or not _ID.fullmatch(project_id):
        raise Refused(422, "the payload's project id is missing or malformed")
    if project_id != hook_project:
        raise Refused(403, f"the payload is for project {project_id}, not this hook's project", "denied")
    kind = trigger.get("type")
    if not isinstance(kind, str) or not _TRIGGER.fullmatch(kind):
        raise Refused(422, "the payload's trigger type is missing or malformed")
    error = _object(data, "error")
    release = _object(data, "release")
    error_id = _id(error, "errorId")
    event_id = _id(error, "id")
    trigger_message = _text(trigger.get("message"), TEXT_LIMITS["trigger_message"])
    url = error.get("url")
    test = (
        trigger_message == "Test error"
        or error_id in TEST_ERROR_IDS
        or (isinstance(url, str) and "/errors/example" in url)
    )
    app = _object(error, "app")
    fields: dict[str, Any] = {
        "source": source,
        "project_id": project_id,
        "trigger_type": kind,
        "triggers": f",{kind},",
        "trigger_message": trigger_message,
        "error_id": error_id,
        "event_id": event_id,
        "error_class": _text(error.get("exceptionClass"), TEXT_LIMITS["error_class"]),
        "message": _text(error.get("message"), TEXT_LIMITS["message"]),
        "context": _text(error.get("context"), TEXT_LIMITS["context"]),
        "release_stage": _word(error.get("releaseStage"))
        or _word(app.get("releaseStage"))
        or _word(release.get("releaseStage")),
        "app_version": _text(error.get("appVersion"), 100)
        or _text(app.get("version"), 100)
        or _text(release.get("version"), 100),
        "severity": _choice(error.get("severity"), ("error", "warning", "info")),
        "unhandled": _flag(error.get("unhandled")),
        "status": _word(error.get("status")),
        "occurrences": _count(error.get("occurrences")),
        "first_seen": _time(error.get("firstReceived")),
        "last_seen": _time(error.get("receivedAt")) or _time(release.get("releaseTime")),
        "dashboard_url": _url(error.get("url")) or _url(release.get("url")),
        "detail": json.dumps(_detail(data, trigger, error, release), sort_keys=True),
        "test": int(test),
    }
    return Delivery(project_id, kind, _dedup_key(source, project_id, kind, data, event_id, test), fields, test)


def merge(stored: dict[str, Any], new: dict[str, Any]) -> dict[str, Any] | None:
    """What a further delivery for a stored signal changes (None: nothing, it is a replay)."""
    triggers = [t for t in str(stored["triggers"]).split(",") if t]
    kind = str(new["trigger_type"])
    if kind in triggers:
        return None
    triggers.append(kind)
    best = min(triggers, key=lambda t: RANK.get(t, 8))
    changes: dict[str, Any] = {"triggers": "," + ",".join(sorted(triggers, key=lambda t: RANK.get(t, 8))) + ","}
    if best == kind:
        changes.update(trigger_type=kind, trigger_message=new["trigger_message"])
    for name in ("occurrences",):
        values = [v for v in (stored.get(name), new.get(name)) if v is not None]
        if values:
            changes[name] = max(int(v) for v in values)
    for name in ("status", "last_seen", "dashboard_url", "app_version", "release_stage"):
        if new.get(name) is not None:
            changes[name] = new[name]
    detail = {**json.loads(stored.get("detail") or "{}"), **json.loads(new.get("detail") or "{}")}
    changes["detail"] = json.dumps(detail, sort_keys=True)
    return changes


def _dedup_key(source: str, project_id: str, kind: str, data: dict[str, Any], event_id: str | None, test: bool) -> str:
    """One event's triggers share a key; a release, a comment or a state change has its own; anything else is
    keyed by its content, so a replayed body is recognised."""
    base = f"{source}:{project_id}"
    if test:
        return f"{base}:test:{_digest(data)}"
    if kind in EVENT_TRIGGERS and event_id:
        return f"{base}:event:{event_id}"
    if kind == "release" and (release_id := _id(_object(data, "release"), "id")):
        return f"{base}:release:{release_id}"
    if kind == "comment" and (comment_id := _id(_object(data, "comment"), "id")):
        return f"{base}:comment:{comment_id}"
    return f"{base}:{kind}:{_digest(data)}"


def _digest(data: dict[str, Any]) -> str:
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _detail(
    data: dict[str, Any], trigger: dict[str, Any], error: dict[str, Any], release: dict[str, Any]
) -> dict[str, str]:
    """Trigger-specific facts worth a word in a summary (all text, all the sender's)."""
    rate = _count(trigger.get("rate"))
    detail: dict[str, str | None] = {
        "state_change": _word(trigger.get("stateChange")),
        "spike_rate": str(rate) if rate is not None else None,
        "by": _text(_object(data, "user").get("name"), 100),
        "comment": _text(_object(data, "comment").get("message"), 500),
        "release_version": _text(release.get("version"), 100),
        "released_by": _text(release.get("releasedBy"), 100),
        "where": _top_frame(error.get("stackTrace")),
    }
    return {k: v for k, v in detail.items() if v}


def _top_frame(frames: Any) -> str | None:
    """`file:line method` of the first in-project frame (line numbers arrive as strings or numbers)."""
    if not isinstance(frames, list):
        return None
    chosen = next((f for f in frames if isinstance(f, dict) and f.get("inProject") is True), None)
    chosen = chosen or next((f for f in frames if isinstance(f, dict)), None)
    if chosen is None:
        return None
    file = _text(chosen.get("file"), 200)
    if not file:
        return None
    line = _count(chosen.get("lineNumber"))
    method = _text(chosen.get("method"), 100)
    return f"{file}{f':{line}' if line is not None else ''}{f' {method}' if method else ''}"


def _object(parent: dict[str, Any], key: str) -> dict[str, Any]:
    value = parent.get(key)
    return value if isinstance(value, dict) else {}


def _id(parent: dict[str, Any], key: str) -> str | None:
    value = parent.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise Refused(422, f"the payload's {key} is not an id")
    return value


def _text(value: Any, limit: int) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _word(value: Any) -> str | None:
    return value if isinstance(value, str) and _WORD.fullmatch(value) else None


def _choice(value: Any, allowed: tuple[str, ...]) -> str | None:
    return value if value in allowed else None


def _flag(value: Any) -> int | None:
    return int(value) if isinstance(value, bool) else None


def _count(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value < 10**15 else None
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) < 16:
        return int(value.strip())
    return None


def _time(value: Any) -> str | None:
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    return parsed.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _url(value: Any) -> str | None:
    return value if isinstance(value, str) and _URL.fullmatch(value) else None
