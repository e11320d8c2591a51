"""BugPort bug reports as text: the report, page context, console (errors first), failed requests, discussion."""

from __future__ import annotations

from ..model import BugReportDetail, ErrorGroup
from .text import clean, fence, inline, truncate, when

LEVEL_ORDER = {"error": 0, "warn": 1, "warning": 1, "info": 2, "log": 3, "debug": 4}


def report_block(bug: ErrorGroup, report: BugReportDetail) -> str:
    body = f"title: {inline(bug.message, 300)}"
    if report.description:
        body += "\n" + truncate(clean(report.description), 2000)
    return fence("bug.report", body)


def page_block(report: BugReportDetail) -> str | None:
    page = report.page
    lines = [
        f"{key}: {inline(page[key], 200)}" for key in ("url", "path", "environment", "user_agent") if page.get(key)
    ]
    viewport = page.get("viewport")
    if isinstance(viewport, dict) and viewport:
        lines.append("viewport: " + "x".join(inline(viewport.get(k, "?"), 6) for k in ("width", "height")))
    return fence("bug.page", "\n".join(lines)) if lines else None


def console_block(report: BugReportDetail, limit: int = 20) -> str | None:
    if not report.console_logs:
        return None
    ordered = sorted(report.console_logs, key=lambda log: LEVEL_ORDER.get(log.level.lower(), 5))
    lines = [f"{inline(log.level, 10)}: {inline(log.message, 300)}" for log in ordered[:limit]]
    if len(ordered) > limit:
        lines.append(f"… {len(ordered) - limit} more console lines omitted")
    return fence("bug.console", "\n".join(lines))


def network_block(report: BugReportDetail, limit: int = 10) -> str | None:
    failed = [r for r in report.network if r.status is None or r.status == 0 or r.status >= 400]
    if not failed:
        return None
    lines = []
    for r in failed[:limit]:
        timing = f" in {r.duration_ms:.0f} ms" if r.duration_ms is not None else ""
        status = "no response" if not r.status else str(r.status)
        lines.append(f"{inline(r.method, 10)} {inline(r.url.split('?', 1)[0], 200)} -> {status}{timing}")
        if r.response_body:
            lines.append(f"  body: {inline(r.response_body, 300)}")
    omitted = len(failed) - limit
    ok = len(report.network) - len(failed)
    if omitted > 0:
        lines.append(f"… {omitted} more failed requests omitted")
    if ok:
        lines.append(f"({ok} successful requests not shown)")
    return fence("bug.network", "\n".join(lines))


def discussion_block(report: BugReportDetail, limit: int = 10) -> str | None:
    lines = [
        f"{when(c.created_at)} {inline(c.author or '?', 40)}: {inline(c.body, 300)}" for c in report.comments[-limit:]
    ]
    lines += [
        f"{when(a.at)} {inline(a.type, 30)} by {inline(a.actor or '?', 40)}"
        + (f": {inline(a.detail, 120)}" if a.detail else "")
        for a in report.activity[-limit:]
    ]
    return fence("bug.discussion", "\n".join(lines)) if lines else None


def bug_report_sections(bug: ErrorGroup, report: BugReportDetail) -> list[str]:
    """Markdown sections (headings and fenced blocks) for one bug report."""
    facts = (
        f"**Bug report:** {bug.id} · **Project:** {bug.project_id}\n"
        f"**Status:** {inline(bug.status or 'unknown', 30)} · **Severity:** {inline(bug.severity or 'unknown', 30)}"
        f" · **Source:** {inline(report.source or 'unknown', 30)}\n"
        f"**Reported:** {when(bug.first_seen)} · **Updated:** {when(bug.last_seen)}"
    )
    sections = [facts, report_block(bug, report)]
    for title, block in (
        ("## Page", page_block(report)),
        (f"## Console ({len(report.console_logs)}, errors first)", console_block(report)),
        ("## Failed network requests", network_block(report)),
        (f"## Comments ({len(report.comments)}) and activity", discussion_block(report)),
    ):
        if block:
            sections += [title, block]
    return sections
