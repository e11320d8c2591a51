"""Errors and events as compact text for a model: in-project frames first, everything untrusted fenced.

Outside a fence there are only our words and values we checked: ids, counts, times, and status
and severity words of a known vocabulary (`vocab`). Everything else an upstream sends is inside `<untrusted-data>`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..model import Breadcrumb, ErrorGroup, Event, ExceptionInfo, Frame, Page, ReopenRule
from . import vocab
from .answer import FULL_OUTPUT_LIMIT, OUTPUT_LIMIT, Answer
from .outputs import EventList
from .refs import event_ref
from .text import NOTICE, clean, code_line, count, dedent_lines, fence, inline, joined, plural, truncate, when

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
    """How much of an event to show. `None` means all of it (within the answer's size budget)."""

    in_project_frames: int | None
    breadcrumbs: int | None
    metadata_sections: int
    metadata_keys: int
    value_chars: int
    library_frames: int | None
    """0: collapse each run of library frames into one line; None: list every one."""


COMPACT = Detail(
    in_project_frames=8, breadcrumbs=12, metadata_sections=6, metadata_keys=8, value_chars=120, library_frames=0
)
FULL = Detail(
    in_project_frames=None,
    breadcrumbs=None,
    metadata_sections=30,
    metadata_keys=50,
    value_chars=600,
    library_frames=None,
)


def is_sensitive(key: str) -> bool:
    k = key.lower()
    return any(s in k for s in SENSITIVE_KEYS)


def handled_word(unhandled: bool | None) -> str | None:
    return {True: "unhandled", False: "handled", None: None}[unhandled]


def error_line(error: ErrorGroup) -> str:
    """One error in a list (shown inside a fence): id, status and counts, then what it says."""
    where = f" [{inline(error.context, 60)}]" if error.context else ""
    if error.kind == "bug_report":
        facts = joined(
            error.id, error.status, error.severity, f"reported {when(error.first_seen)}" if error.first_seen else None
        )
        return f"- {facts}\n  {inline(error.message, 140) or '(no title)'}{where}"
    facts = joined(
        error.id,
        error.status,
        error.severity,
        count(error.events, "event"),
        count(error.users, "user"),
        f"last seen {when(error.last_seen)}" if error.last_seen else None,
    )
    return f"- {facts}\n  {headline(error.error_class, error.message)}{where}"


def headline(error_class: str, message: str, limit: int = 140) -> str:
    """`Class: message`, leaving out whichever part is empty."""
    cls, msg = inline(error_class, 80), inline(message, limit)
    return f"{cls}: {msg}" if cls and msg else cls or msg or "(no class or message recorded)"


def reopen_words(rule: ReopenRule) -> str | None:
    """A snooze rule in words: 'until 5 more users are affected'."""
    if rule.kind == "occurs_after" and rule.seconds:
        return f"for {_duration(rule.seconds)}"
    if rule.kind == "n_occurrences_in_m_hours" and rule.occurrences and rule.hours:
        return f"until it occurs {plural(rule.occurrences, 'time')} within {plural(rule.hours, 'hour')}"
    if rule.kind == "n_additional_occurrences" and rule.additional_occurrences:
        return f"until it occurs {plural(rule.additional_occurrences, 'more time')}"
    if rule.kind == "n_additional_users" and rule.additional_users:
        verb = "is" if rule.additional_users == 1 else "are"
        return f"until {plural(rule.additional_users, 'more user')} {verb} affected"
    return None


def _duration(seconds: int) -> str:
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= size and seconds % size == 0:
            return plural(seconds // size, unit)
    return plural(seconds, "second")


def error_summary(error: ErrorGroup) -> str:
    """The facts of one error group (ours, checked), then what it says and where (untrusted, fenced)."""
    severity = vocab.word(error.severity, vocab.SEVERITIES)
    status = vocab.word(error.status, vocab.STATUSES)
    if error.overridden_severity and error.overridden_severity != error.severity:
        overridden = vocab.word(error.overridden_severity, vocab.SEVERITIES)
        severity = f"{severity or 'none'} (overridden to {overridden})"
    users = count(error.users, "user")
    occurrences = joined(count(error.events, "event"), f"affecting {users}" if users else None, sep=" ")
    facts = [
        joined(f"**Error:** {error.id}", f"**Project:** {error.project_id}"),
        joined(f"**Status:** {status}" if status else None, f"**Severity:** {severity}" if severity else None),
        f"**Occurrences:** {occurrences}" if occurrences else None,
        joined(
            f"**First seen:** {when(error.first_seen)}" if error.first_seen else None,
            f"**Last seen:** {when(error.last_seen)}" if error.last_seen else None,
        ),
        f"**Assigned to:** collaborator {error.assigned_collaborator_id}" if error.assigned_collaborator_id else None,
        "**Discarded:** new events are dropped" if error.discarded else None,
    ]
    if error.reopen_rule is not None:
        words = reopen_words(error.reopen_rule)
        facts.append(f"**Snoozed** {words}" if words else "**Snoozed**")
    body = truncate("\n".join(error_fence_lines(error)), 2000)
    return "\n".join(f for f in facts if f) + "\n\n" + fence("error", body)


def frame_line(frame: Frame) -> str:
    where = inline(frame.file, 120) if frame.file else "(unknown file)"
    if frame.line is not None:
        where += f":{frame.line}"
        if frame.column is not None:
            where += f":{frame.column}"
    return f"{where} in {inline(frame.method, 80)}" if frame.method else where


def snippet(frame: Frame) -> list[str]:
    """The code around a frame's line, numbered, with its indentation (tabs expanded, common prefix removed)."""
    numbers = sorted(frame.code)
    lines = dedent_lines([code_line(frame.code[n], 160) for n in numbers])
    return [
        f"      {'>' if n == frame.line else ' '}{n:>5} | {line}".rstrip()
        for n, line in zip(numbers, lines, strict=True)
    ]


def stack(exc: ExceptionInfo, detail: Detail) -> list[str]:
    """In-project frames one per line (the innermost with its code); library frames collapsed into runs with a
    count, or listed in full."""
    lines: list[str] = []
    shown_project = omitted_project = 0
    run: list[Frame] = []
    snippet_done = False

    def flush() -> None:
        if not run:
            return
        if detail.library_frames is None:
            lines.extend(f"    · {frame_line(f)}" for f in run)
        else:
            files = sorted({(f.file or "?").rsplit("/", 1)[-1] for f in run})
            label = ", ".join(inline(f, 40) for f in files[:3]) + (f" +{len(files) - 3} more" if len(files) > 3 else "")
            lines.extend(f"    · {frame_line(f)}" for f in run[: detail.library_frames])
            rest = len(run) - detail.library_frames
            if rest > 0:
                lines.append(f"    … {plural(rest, 'library frame')} ({label})")
        run.clear()

    for frame in exc.frames:
        if not frame.in_project:
            run.append(frame)
            continue
        flush()
        if detail.in_project_frames is not None and shown_project >= detail.in_project_frames:
            omitted_project += 1
            continue
        shown_project += 1
        lines.append(f"  → {frame_line(frame)}")
        if not snippet_done and frame.code:
            snippet_done = True
            lines.extend(snippet(frame))
    flush()
    if omitted_project:
        lines.append(f"  … {plural(omitted_project, 'more in-project frame')} omitted (full=true shows every frame)")
    if not exc.frames:
        lines.append("  (no stack trace recorded)")
    return lines


def exception_lines(event: Event, detail: Detail) -> list[str]:
    """The exception chain, outermost first, each headline followed by its stack (cleaned, not fenced)."""
    parts: list[str] = []
    for index, exc in enumerate(event.exceptions):
        head = "" if index == 0 else "Caused by: "
        parts.append(head + headline(exc.error_class, exc.message, 600))
        parts.extend(stack(exc, detail))
    if not parts:
        parts.append("(no exception recorded)")
    return parts


def exceptions_block(event: Event, detail: Detail) -> str:
    return fence("event.exceptions", "\n".join(exception_lines(event, detail)))


def breadcrumb_line(crumb: Breadcrumb) -> str:
    """One breadcrumb: time, type, name and up to four metadata pairs (a value that only repeats the name is left
    out)."""
    pairs = [(k, v) for k, v in crumb.metadata.items() if str(v) != crumb.name][:4]
    meta = ", ".join(f"{inline(k, 30)}={inline(v, 60)}" for k, v in pairs)
    stamp = when(crumb.timestamp)
    return joined(
        stamp[11:16] if stamp else None, f"{inline(crumb.type or 'event', 20)}: {inline(crumb.name, 100)}", sep=" "
    ) + (f" ({meta})" if meta else "")


def breadcrumb_lines(event: Event, limit: int | None) -> list[str]:
    """The most recent `limit` breadcrumbs, oldest of those first (cleaned, not fenced)."""
    if not event.breadcrumbs or limit == 0:
        return []
    # BugSnag sends newest first; show the most recent N, oldest of those first.
    recent = list(event.breadcrumbs if limit is None else event.breadcrumbs[:limit])[::-1]
    lines = [breadcrumb_line(c) for c in recent]
    omitted = len(event.breadcrumbs) - len(recent)
    if omitted:
        lines.insert(0, f"… {plural(omitted, 'earlier breadcrumb')} omitted")
    return lines


def breadcrumbs_block(event: Event, limit: int | None) -> str | None:
    lines = breadcrumb_lines(event, limit)
    return fence("event.breadcrumbs", "\n".join(lines)) if lines else None


def _pairs(data: dict[str, Any], keys: int, chars: int) -> list[str]:
    out = []
    for key, value in list(data.items())[:keys]:
        if value in (None, "", {}, []):
            continue
        shown = "[redacted]" if is_sensitive(str(key)) else _value(value, chars)
        out.append(f"{inline(key, 40)}: {shown}")
    if len(data) > keys:
        out.append(f"… {plural(len(data) - keys, 'more key')} omitted")
    return out


def _value(value: Any, chars: int) -> str:
    if isinstance(value, dict):
        keys = list(value)
        return (
            "{" + ", ".join(inline(k, 30) for k in keys[:8]) + (f", … +{len(keys) - 8}" if len(keys) > 8 else "") + "}"
        )
    if isinstance(value, list):
        return f"[{plural(len(value), 'item')}]"
    if isinstance(value, bool):
        return "true" if value else "false"  # as the device sent it (JSON), not as Python spells it
    return inline(value, chars)


def context_block(event: Event) -> str | None:
    """Where it happened: request, app, device, user (all reported by the device, so all fenced)."""
    lines = context_lines(event)
    return fence("event.context", "\n".join(lines)) if lines else None


EVERY_EVENT_FIELDS = {
    "app.release_stage": "release_stage",
    "app.version": "version",
    "os.name": "os",
    "browser.name": "browser",
}
"""Pivot fields (event field ids) and the name `context_lines` shows the same value under."""


def context_lines(event: Event, said: Mapping[str, str] | None = None) -> list[str]:
    """Request, app, device and user of an event (cleaned, not fenced). `said` maps the names of app and device
    fields (`release_stage`, `version`, `os`, `browser`) to a value the reader was already told every event holds:
    such a field is left out when the event holds that very value."""
    said = said or {}
    lines: list[str] = []
    req = event.request
    if req.url or req.method:
        url = (req.url or "").split("?", 1)[0]
        lines.append(joined("request:", inline(req.method or "", 10), inline(url, 200), sep=" "))
    if req.header_names:
        shown = [inline(h, 40) for h in req.header_names[:12]]
        lines.append("request headers: " + ", ".join(shown) + " (values not shown)")
    app = event.app
    foreground = {True: "yes", False: "no", None: None}[app.in_foreground]
    bits = [
        f"{name}={inline(value, 40)}"
        for name, value in (
            ("release_stage", app.release_stage),
            ("version", app.version),
            ("type", app.type),
            ("in_foreground", foreground),
        )
        if value not in (None, "") and said.get(name) != value
    ]
    if bits:
        lines.append("app: " + ", ".join(bits))
    dev = event.device
    bits = [
        f"{name}={inline(value, 40)}"
        for name, value in (
            ("os", dev.os_name),
            ("os_version", dev.os_version),
            ("browser", dev.browser_name),
            ("browser_version", dev.browser_version),
            ("model", dev.model),
            ("hostname", dev.hostname),
            ("locale", dev.locale),
        )
        if value and said.get(name) != value
    ]
    if bits:
        lines.append("device: " + ", ".join(bits))
    if event.user_id:
        lines.append(f"user: id={inline(event.user_id, 60)}")
    return lines


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
        lines.append(f"… {plural(len(sections) - detail.metadata_sections, 'more metadata section')} omitted")
    return fence("event.metadata", "\n".join(lines))


def event_facts(event: Event) -> str:
    ids = joined(
        f"**Event:** {event.id}",
        f"**Error:** {event.error_id}" if event.error_id else None,
        f"**Received:** {when(event.received_at)}" if event.received_at else None,
    )
    severity = joined(vocab.word(event.severity, vocab.SEVERITIES), handled_word(event.unhandled), sep=", ")
    return ids + (f"\n**Severity:** {severity}" if severity else "")


def event_sections(event: Event, detail: Detail, level: int = 2) -> list[str]:
    """The parts of one event below its title: facts, exceptions and stack, breadcrumbs, context, metadata."""
    h = "#" * level
    sections = [event_facts(event), f"{h} Exception and stack trace", exceptions_block(event, detail)]
    if crumbs := breadcrumbs_block(event, detail.breadcrumbs):
        sections += [f"{h} Breadcrumbs ({len(event.breadcrumbs)}, most recent last)", crumbs]
    if ctx := context_block(event):
        sections += [f"{h} Context", ctx]
    if meta := metadata_block(event, detail):
        sections += [f"{h} Metadata", meta]
    if detail is FULL:
        sections.append("(Full view: every frame and breadcrumb; the answer is capped at 60,000 characters.)")
    return sections


def event_summary_line(event: Event) -> str:
    """One event in a list (shown inside a fence)."""
    first = event.exceptions[0] if event.exceptions else None
    what = headline(first.error_class, first.message, 100) if first else "(no exception recorded)"
    facts = joined(
        event.id,
        f"error {event.error_id}" if event.error_id else None,
        when(event.received_at),
        event.severity,
        inline(event.app.release_stage, 20) if event.app.release_stage else None,
    )
    return f"- {facts}\n  {what}"


def event_list(page: Page[Event], title: str, cursor: str | None, tool: str, empty: str) -> Answer:
    shown = f"{len(page.items)}" + (f" of {page.total:,}" if page.total is not None else "")
    lines = [f"# {title} ({shown})"]
    if page.items:
        lines += [NOTICE, fence("events", "\n".join(event_summary_line(e) for e in page.items))]
    else:
        lines.append(empty)
    if cursor:
        lines.append(f"\nMore: call {tool} again with cursor={cursor}")
    return Answer(
        "\n".join(lines), EventList(events=[event_ref(e) for e in page.items], total=page.total, next_cursor=cursor)
    )


def event_view(event: Event, *, full: bool, title: str, dashboard_url: str | None) -> Answer:
    """get_event and get_latest_event: one event in full."""
    sections = [f"# {title}", NOTICE, *event_sections(event, FULL if full else COMPACT)]
    if dashboard_url:
        sections.append(f"**Dashboard:** {dashboard_url}?event_id={event.id}")
    return Answer("\n\n".join(sections), event_ref(event), FULL_OUTPUT_LIMIT if full else OUTPUT_LIMIT)


def error_fence_lines(error: ErrorGroup) -> list[str]:
    """An error's own words, for its fence: the headline, status and severity words as the tracker sent them,
    context, release stages, releases it was introduced in, and linked issues (each cleaned and bounded)."""
    body = [f"{clean(error.error_class)}: {clean(error.message)}" if error.error_class else clean(error.message)]
    body += [
        inline(line, 80)
        for line in vocab.as_sent(
            status=(error.status, vocab.STATUSES),
            severity=(error.severity, vocab.SEVERITIES),
            overridden_severity=(error.overridden_severity, vocab.SEVERITIES),
        )
    ]
    if error.context:
        body.append(f"context: {inline(error.context, 200)}")
    if error.release_stages:
        body.append("release stages: " + ", ".join(inline(s, 30) for s in error.release_stages[:20]))
    if error.introduced_in:
        body.append("introduced in: " + ", ".join(inline(s, 30) for s in error.introduced_in[:10]))
    if error.linked_issues:
        body.append("linked issues: " + ", ".join(inline(i.url, 100) for i in error.linked_issues[:10]))
    return body
