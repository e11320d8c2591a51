"""Pivots, trends, releases, stability, collaborators, event fields, saved searches and organizations as text."""

from __future__ import annotations

import json

from ..model import (
    Collaborator,
    EventField,
    Organization,
    Pivot,
    PivotValue,
    Project,
    Release,
    ReleaseGroup,
    SavedSearch,
    StabilityPoint,
    TrendBucket,
)
from .context import trend_line
from .text import count, fence, inline, when


def pivots_text(pivots: list[Pivot], scope: str) -> str:
    lines = [f"# Top values for {scope}"]
    body = []
    for p in pivots:
        body.append(
            f"{inline(p.name or p.field, 40)} [{p.field}] ({p.cardinality if p.cardinality is not None else '?'}"
            " distinct values)"
        )
        body += [f"  {inline(v.value, 80)}: {count(v.events, 'event')}" for v in p.values]
        if p.other:
            body.append(f"  (other values: {count(p.other, 'event')})")
        if p.no_value:
            body.append(f"  (no value: {count(p.no_value, 'event')})")
    lines.append(fence("pivots", "\n".join(body)) if body else "No pivot data.")
    lines.append("Drill into one field with list_pivot_values.")
    return "\n\n".join(lines)


def pivot_values_text(values: tuple[PivotValue, ...], field: str, total: int | None, cursor: str | None) -> str:
    shown = f"{len(values)}" + (f" of {total}" if total is not None else "")
    body = "\n".join(
        f"{inline(v.value, 100)}: {count(v.events, 'event')}"
        + (f" ({v.proportion:.1%})" if v.proportion is not None else "")
        for v in values
    )
    text = f"# Values of {field} ({shown})\n\n" + (fence("pivot.values", body) if values else "No values.")
    return text + (f"\n\nMore: cursor={cursor}" if cursor else "")


def trend_text(buckets: list[TrendBucket], scope: str) -> str:
    if not buckets:
        return f"# Trend for {scope}\n\nNo events in this window."
    rows = "\n".join(f"{when(b.start)} → {when(b.end)}: {b.events}" for b in buckets)
    return f"# Trend for {scope}\n\n{trend_line(tuple(buckets))}\n\n{rows}"


def releases_text(releases: tuple[Release, ...], total: int | None, cursor: str | None) -> str:
    lines = [f"# Releases ({len(releases)}" + (f" of {total})" if total is not None else ")")]
    for r in releases:
        rate = (
            f"{r.unhandled_sessions / r.total_sessions:.2%} unhandled sessions"
            if r.total_sessions and r.unhandled_sessions is not None
            else "no session data"
        )
        lines.append(
            f"- {r.id} · {inline(r.app_version or '?', 30)} ({inline(r.release_stage or '?', 20)}) · "
            f"released {when(r.release_time)} · {count(r.errors_introduced, 'new error')} · "
            f"{count(r.errors_seen, 'error')} seen · {rate}"
        )
    if cursor:
        lines.append(f"\nMore: cursor={cursor}")
    return "\n".join(lines)


def release_groups_text(groups: tuple[ReleaseGroup, ...], cursor: str | None) -> str:
    lines = [f"# Release groups ({len(groups)})"]
    lines += [
        f"- {g.id} · {inline(g.app_version or '?', 30)} · {inline(g.release_stage or '?', 20)} · "
        f"first released {when(g.first_released_at)} · {'visible' if g.visible else 'hidden'}"
        for g in groups
    ]
    if cursor:
        lines.append(f"\nMore: cursor={cursor}")
    return "\n".join(lines)


def stability_text(stage: str | None, points: tuple[StabilityPoint, ...]) -> str:
    if not points:
        return "# Stability\n\nNo session data: this project does not report sessions."
    rates = [p.unhandled_rate for p in points if p.unhandled_rate is not None]
    stable = [1 - r for r in rates]
    lines = [f"# Stability of {inline(stage or '?', 30)} over {len(points)} days"]
    if stable:
        lines.append(f"Crash-free sessions: latest {stable[-1]:.3%}, worst {min(stable):.3%}, best {max(stable):.3%}")
    lines += [
        f"{when(p.start)[:10]}: {count(p.sessions, 'session')}, {count(p.unhandled_sessions, 'unhandled')}"
        for p in points[-7:]
    ]
    if len(points) > 7:
        lines.insert(2, f"(last 7 of {len(points)} days)")
    return "\n".join(lines)


def collaborators_text(people: tuple[Collaborator, ...], total: int | None, cursor: str | None) -> str:
    lines = [f"# Collaborators ({len(people)}" + (f" of {total})" if total is not None else ")")]
    body = [
        f"- {p.id} · {inline(p.name or '(no name)', 40)} · {inline(p.email or '?', 80)}"
        + (" · admin" if p.is_admin else "")
        + (" · invitation pending" if p.pending_invitation else "")
        for p in people
    ]
    lines.append(fence("collaborators", "\n".join(body)) if body else "No collaborators.")
    if cursor:
        lines.append(f"More: cursor={cursor}")
    return "\n\n".join(lines)


def event_fields_text(fields: list[EventField]) -> str:
    lines = [f"# Event fields ({len(fields)}): use them in `filters` as 'field=value' or 'field!=value'"]
    lines += [
        f"- {inline(f.display_id, 80)}"
        + (f" ({inline(f.name, 40)})" if f.name else "")
        + (" [custom]" if f.custom else "")
        for f in fields
    ]
    lines.append("Also accepted: event.since, event.before (e.g. 'event.since=7d').")
    return "\n".join(lines)


def saved_searches_text(searches: list[SavedSearch]) -> str:
    lines = [f"# Saved searches ({len(searches)})"]
    for s in searches:
        rendered = "; ".join(
            f"{k} {c.get('type')} {c.get('value')}"
            for k, conds in s.filters.items()
            if isinstance(conds, list)
            for c in conds
            if isinstance(c, dict)
        )
        lines.append(
            f"- {s.id} · {inline(s.name, 60)} · sort {s.sort or 'default'}"
            + (" · shared" if s.shared else "")
            + f"\n  filters: {inline(rendered or json.dumps(s.filters), 200)}"
        )
    return "\n".join(lines)


def organizations_text(orgs: tuple[Organization, ...]) -> str:
    lines = [f"# Organizations ({len(orgs)})"]
    lines += [
        f"- {o.id} · {inline(o.name, 60)} · slug {inline(o.slug or '?', 40)} · created {when(o.created_at)}"
        for o in orgs
    ]
    return "\n".join(lines)


def project_text(p: Project) -> str:
    return "\n".join(
        [
            f"# Project {p.id}",
            f"**Name:** {inline(p.name, 80)} · **Type:** {inline(p.type or '?', 20)} · "
            f"**Language:** {inline(p.language or '?', 20)}",
            f"**Organization:** {p.organization_id or '?'} · **Open errors:** "
            f"{p.open_error_count if p.open_error_count is not None else '?'}",
            f"**Release stages:** {', '.join(inline(s, 30) for s in p.release_stages) or 'none yet'}",
            f"**Created:** {when(p.created_at)}" + (f" · **Dashboard:** {p.html_url}" if p.html_url else ""),
        ]
    )
