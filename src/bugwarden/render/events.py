"""Errors and events as compact text for a model: in-project frames first, everything untrusted fenced."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..model import Breadcrumb, ErrorGroup, Event, ExceptionInfo, Frame
from .text import clean, count, fence, inline, truncate, when

SENSITIVE_KEYS = (
    "authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "api_key",
    "apikey",
    "token",
    "password",
    "secret",
    "session",
)


@dataclass(frozen=True, slots=True)
class Detail:
    """How much of an event to show. `COMPACT` is the default; `FULL` is what `full=true` asks for."""

    in_project_frames: int
    breadcrumbs: int
    metadata_sections: int
    metadata_keys: int
    value_chars: int
    library_frames_listed: int


COMPACT = Detail(
    in_project_frames=8, breadcrumbs=12, metadata_sections=6, metadata_keys=8, value_chars=120, library_frames_listed=0
)
FULL = Detail(
    in_project_frames=60,
    breadcrumbs=60,
    metadata_sections=20,
    metadata_keys=30,
    value_chars=600,
    library_frames_listed=40,
)


def is_sensitive(key: str) -> bool:
    k = key.lower()
    return any(s in k for s in SENSITIVE_KEYS)


def error_line(error: ErrorGroup) -> str:
    """One error in a list: id and counts (ours), then class/message/context (untrusted, cleaned)."""
    where = f" [{inline(error.context, 60)}]" if error.context else ""
    return (
        f"- {error.id} · {error.status or '?'} · {error.severity or '?'} · {count(error.events, 'event')} · "
        f"{count(error.users, 'user')} · last {when(error.last_seen)}\n"
        f"  {inline(error.error_class, 80)}: {inline(error.message, 140)}{where}"
    )


def error_summary(error: ErrorGroup) -> str:
    """The facts of one error group, untrusted text fenced."""
    facts = [
        f"**Error:** {error.id} · **Project:** {error.project_id}",
        f"**Status:** {error.status or 'unknown'} · **Severity:** {error.severity or 'unknown'}"
        + (f" (overridden to {error.overridden_severity})" if error.overridden_severity else ""),
        f"**Occurrences:** {count(error.events, 'event')} affecting {count(error.users, 'user')}",
        f"**First seen:** {when(error.first_seen)} · **Last seen:** {when(error.last_seen)}",
    ]
    if error.release_stages:
        facts.append(f"**Release stages:** {', '.join(inline(s, 30) for s in error.release_stages)}")
    if error.introduced_in:
        facts.append(f"**Introduced in:** {', '.join(inline(s, 30) for s in error.introduced_in)}")
    if error.assigned_collaborator_id:
        facts.append(f"**Assigned to:** {error.assigned_collaborator_id}")
    if error.linked_issues:
        facts.append("**Linked issues:** " + ", ".join(inline(i.url, 100) for i in error.linked_issues))
    if error.reopen_rules:
        facts.append(f"**Snoozed until:** {inline(json.dumps(error.reopen_rules, sort_keys=True), 160)}")
    if error.discarded:
        facts.append("**Discarded:** new events are dropped")
    body = f"{clean(error.error_class)}: {clean(error.message)}"
    if error.context:
        body += f"\ncontext: {inline(error.context, 200)}"
    return "\n".join(facts) + "\n\n" + fence("error", truncate(body, 2000))


def frame_line(frame: Frame) -> str:
    where = inline(frame.file or "?", 120)
    if frame.line is not None:
        where += f":{frame.line}"
        if frame.column is not None:
            where += f":{frame.column}"
    return f"{where} in {inline(frame.method or '?', 80)}"


def stack(exc: ExceptionInfo, detail: Detail) -> list[str]:
    """In-project frames one per line (the innermost with its code), library runs collapsed with a count."""
    lines: list[str] = []
    shown_project = 0
    omitted_project = 0
    run: list[Frame] = []
    snippet_done = False

    def flush() -> None:
        if not run:
            return
        files = sorted({(f.file or "?").rsplit("/", 1)[-1] for f in run})
        label = ", ".join(inline(f, 40) for f in files[:3]) + (f" +{len(files) - 3} more" if len(files) > 3 else "")
        if detail.library_frames_listed:
            lines.extend(f"    · {frame_line(f)}" for f in run[: detail.library_frames_listed])
            if len(run) > detail.library_frames_listed:
                lines.append(f"    … {len(run) - detail.library_frames_listed} more library frames")
        else:
            lines.append(f"    … {len(run)} library frame{'s' if len(run) != 1 else ''} ({label})")
        run.clear()

    for frame in exc.frames:
        if frame.in_project:
            flush()
            if shown_project >= detail.in_project_frames:
                omitted_project += 1
                continue
            shown_project += 1
            lines.append(f"  → {frame_line(frame)}")
            if not snippet_done and frame.code:
                snippet_done = True
                for number in sorted(frame.code):
                    marker = ">" if number == frame.line else " "
                    lines.append(f"      {marker}{number:>5} | {inline(frame.code[number], 160)}")
        else:
            run.append(frame)
    flush()
    if omitted_project:
        lines.append(f"  … {omitted_project} more in-project frames omitted")
    if not exc.frames:
        lines.append("  (no stack trace)")
    return lines


def exceptions_block(event: Event, detail: Detail) -> str:
    parts: list[str] = []
    for index, exc in enumerate(event.exceptions):
        head = "" if index == 0 else "Caused by: "
        parts.append(f"{head}{inline(exc.error_class, 120)}: {inline(exc.message, 600)}")
        parts.extend(stack(exc, detail))
    if not parts:
        parts.append("(no exception recorded)")
    return fence("event.exceptions", "\n".join(parts))


def breadcrumb_line(crumb: Breadcrumb) -> str:
    meta = ", ".join(f"{inline(k, 30)}={inline(v, 60)}" for k, v in list(crumb.metadata.items())[:4])
    return f"{when(crumb.timestamp)[11:16]} {crumb.type or 'event'}: {inline(crumb.name, 100)}" + (
        f" ({meta})" if meta else ""
    )


def breadcrumbs_block(event: Event, detail: Detail) -> str | None:
    if not event.breadcrumbs:
        return None
    # BugSnag sends newest first; show the most recent N, oldest of those first.
    recent = list(event.breadcrumbs[: detail.breadcrumbs])[::-1]
    lines = [breadcrumb_line(c) for c in recent]
    omitted = len(event.breadcrumbs) - len(recent)
    if omitted:
        lines.insert(0, f"… {omitted} earlier breadcrumbs omitted")
    return fence("event.breadcrumbs", "\n".join(lines))


def _pairs(data: dict[str, Any], keys: int, chars: int) -> list[str]:
    out = []
    for key, value in list(data.items())[:keys]:
        if value in (None, "", {}, []):
            continue
        shown = "[redacted]" if is_sensitive(str(key)) else _value(value, chars)
        out.append(f"{inline(key, 40)}: {shown}")
    if len(data) > keys:
        out.append(f"… {len(data) - keys} more keys omitted")
    return out


def _value(value: Any, chars: int) -> str:
    if isinstance(value, dict):
        keys = list(value)
        return (
            "{" + ", ".join(inline(k, 30) for k in keys[:8]) + (f", … +{len(keys) - 8}" if len(keys) > 8 else "") + "}"
        )
    if isinstance(value, list):
        return f"[{len(value)} items]"
    return inline(value, chars)


def context_block(event: Event, detail: Detail) -> str | None:
    lines: list[str] = []
    if event.request:
        req = event.request
        url = str(req.get("url") or "").split("?", 1)[0]
        lines.append(f"request: {inline(req.get('httpMethod') or '', 10)} {inline(url, 200)}".rstrip())
        if (headers := req.get("headers")) and isinstance(headers, dict):
            lines.append(
                "request headers: " + ", ".join(inline(h, 40) for h in list(headers)[:12]) + " (values not shown)"
            )
    if event.app:
        app = event.app
        bits = [
            f"{k}={inline(app[k], 40)}"
            for k in ("releaseStage", "version", "type", "inForeground")
            if app.get(k) not in (None, "")
        ]
        lines.append("app: " + ", ".join(bits))
    if event.device:
        dev = event.device
        bits = [
            f"{k}={inline(dev[k], 40)}"
            for k in ("osName", "osVersion", "browserName", "browserVersion", "model", "hostname", "locale")
            if dev.get(k) not in (None, "")
        ]
        lines.append("device: " + ", ".join(bits))
    if event.user.get("id"):
        lines.append(f"user: id={inline(event.user['id'], 60)}")
    if not lines:
        return None
    return fence("event.context", "\n".join(lines))


def metadata_block(event: Event, detail: Detail) -> str | None:
    if not event.metadata:
        return None
    lines: list[str] = []
    sections = list(event.metadata.items())
    for name, section in sections[: detail.metadata_sections]:
        if isinstance(section, dict):
            lines.append(f"[{inline(name, 40)}]")
            lines.extend("  " + p for p in _pairs(section, detail.metadata_keys, detail.value_chars))
        else:
            lines.append(f"[{inline(name, 40)}] {_value(section, detail.value_chars)}")
    if len(sections) > detail.metadata_sections:
        lines.append(f"… {len(sections) - detail.metadata_sections} more metadata sections omitted")
    return fence("event.metadata", "\n".join(lines))


def event_text(event: Event, detail: Detail = COMPACT, *, title: str | None = None) -> str:
    """The full rendering of one event: facts, exceptions and stack, breadcrumbs, context, metadata."""
    stage = event.app.get("releaseStage")
    version = event.app.get("version")
    handled = {True: "unhandled", False: "handled", None: None}[event.unhandled]
    facts = [f"**Event:** {event.id} · **Error:** {event.error_id or '?'} · **Received:** {when(event.received_at)}"]
    extra = [x for x in (event.severity, handled) if x]
    if stage or version or extra:
        facts.append(
            " · ".join(
                filter(
                    None,
                    [
                        f"**Severity:** {', '.join(extra)}" if extra else None,
                        f"**Release stage:** {inline(stage, 30)}" if stage else None,
                        f"**App version:** {inline(version, 30)}" if version else None,
                    ],
                )
            )
        )
    sections = [
        f"# {title or 'Event ' + event.id}",
        "\n".join(facts),
        "## Exception and stack trace",
        exceptions_block(event, detail),
    ]
    if crumbs := breadcrumbs_block(event, detail):
        sections += [f"## Breadcrumbs ({len(event.breadcrumbs)}, most recent last)", crumbs]
    if ctx := context_block(event, detail):
        sections += ["## Context", ctx]
    if meta := metadata_block(event, detail):
        sections += ["## Metadata", meta]
    return "\n\n".join(sections)


def event_summary_line(event: Event) -> str:
    first = event.exceptions[0] if event.exceptions else None
    what = f"{inline(first.error_class, 60)}: {inline(first.message, 100)}" if first else "(no exception)"
    stage = event.app.get("releaseStage")
    return (
        f"- {event.id} · {when(event.received_at)} · {event.severity or '?'}"
        + (f" · {inline(stage, 20)}" if stage else "")
        + f"\n  {what}"
    )


def innermost_project_frame(event: Event) -> Frame | None:
    for exc in event.exceptions[:1]:
        for frame in exc.frames:
            if frame.in_project:
                return frame
    return None
