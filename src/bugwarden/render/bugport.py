"""BugPort bug reports as text: the report, page context, console (errors first), failed requests, discussion."""

from __future__ import annotations

from ..model import BugReportDetail, ErrorGroup
from . import vocab
from .text import clean, fence, inline, joined, plural, truncate, when

LEVEL_ORDER = {"error": 0, "warn": 1, "warning": 1, "info": 2, "log": 3, "debug": 4}


def report_block(bug: ErrorGroup, report: BugReportDetail) -> str:
    body = f"title: {inline(bug.message, 300)}" if bug.message else "title: (none)"
    if report.description:
        body += "\n" + truncate(clean(report.description), 2000)
    return fence("bug.report", body)


def page_block(report: BugReportDetail) -> str | None:
    page = report.page
    lines = [
        f"{key}: {inline(page[key], 200)}" for key in ("url", "path", "environment", "user_agent") if page.get(key)
    ]
    viewport = page.get("viewport")
    if isinstance(viewport, dict) and viewport.get("width") and viewport.get("height"):
        lines.append(f"viewport: {inline(viewport['width'], 6)}x{inline(viewport['height'], 6)}")
    return fence("bug.page", "\n".join(lines)) if lines else None


def console_block(report: BugReportDetail, limit: int = 20) -> str | None:
    if not report.console_logs:
        return None
    ordered = sorted(report.console_logs, key=lambda log: LEVEL_ORDER.get(log.level.lower(), 5))
    lines = [f"{inline(log.level, 10)}: {inline(log.message, 300)}" for log in ordered[:limit]]
    if len(ordered) > limit:
        lines.append(f"… {plural(len(ordered) - limit, 'more console line')} omitted")
    return fence("bug.console", "\n".join(lines))


def network_block(report: BugReportDetail, limit: int = 10) -> str | None:
    failed = [r for r in report.network if r.status is None or r.status == 0 or r.status >= 400]
    if not failed:
        return None
    lines = []
    for r in failed[:limit]:
        timing = f" in {r.duration_ms:.0f} ms" if r.duration_ms is not None else ""
        status = "no response" if not r.status else str(r.status)
        lines.append(f"{inline(r.method or 'request', 10)} {inline(r.url.split('?', 1)[0], 200)} -> {status}{timing}")
        if r.response_body:
            lines.append(f"  body: {inline(r.response_body, 300)}")
    omitted = len(failed) - limit
    ok = len(report.network) - len(failed)
    if omitted > 0:
        lines.append(f"… {plural(omitted, 'more failed request')} omitted")
    if ok:
        lines.append(f"({plural(ok, 'successful request')} not shown)")
    return fence("bug.network", "\n".join(lines))


def discussion_block(report: BugReportDetail, limit: int = 10) -> str | None:
    lines = [
        joined(when(c.created_at), f"{inline(c.author, 40) if c.author else 'someone'}: {inline(c.body, 300)}", sep=" ")
        for c in report.comments[-limit:]
    ]
    lines += [
        joined(when(a.at), inline(a.type, 30), f"by {inline(a.actor, 40)}" if a.actor else None, sep=" ")
        + (f": {inline(a.detail, 120)}" if a.detail else "")
        for a in report.activity[-limit:]
    ]
    return fence("bug.discussion", "\n".join(lines)) if lines else None


def bug_facts(bug: ErrorGroup) -> str:
    """Ids, status and severity words, and times: nothing a reporter typed."""
    status = vocab.word(bug.status, vocab.STATUSES)
    severity = vocab.word(bug.severity, vocab.SEVERITIES)
    source = vocab.word(bug.source, vocab.SOURCES)
    return "\n".join(
        line
        for line in (
            joined(f"**Bug report:** {bug.id}", f"**Project:** {bug.project_id}"),
            joined(
                f"**Status:** {status}" if status else None,
                f"**Severity:** {severity}" if severity else None,
                f"**Source:** {source}" if source else None,
            ),
            joined(
                f"**Reported:** {when(bug.first_seen)}" if bug.first_seen else None,
                f"**Updated:** {when(bug.last_seen)}" if bug.last_seen else None,
            ),
        )
        if line
    )


def bug_report_sections(bug: ErrorGroup, report: BugReportDetail) -> list[str]:
    """Markdown sections (headings and fenced blocks) for one bug report."""
    sections = [bug_facts(bug), report_block(bug, report)]
    for title, block in (
        ("## Page", page_block(report)),
        (f"## Console ({len(report.console_logs)}, errors first)", console_block(report)),
        ("## Failed network requests", network_block(report)),
        (f"## Comments ({len(report.comments)}) and activity", discussion_block(report)),
    ):
        if block:
            sections += [title, block]
    return sections
