"""Pivots, trends, releases, stability, collaborators, event fields and saved searches as text."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ..model import (
    Collaborator,
    EventField,
    Page,
    Pivot,
    PivotValue,
    Release,
    ReleaseGroup,
    SavedSearch,
    StabilityPoint,
    TrendBucket,
)
from .answer import Answer
from .context import trend_line
from .errors import no_such_stage
from .outputs import (
    BucketRef,
    CollaboratorList,
    CollaboratorRef,
    CreatedOut,
    EventFieldList,
    PivotList,
    PivotRef,
    PivotValueList,
    PivotValueRef,
    ReleaseGroupList,
    ReleaseGroupRef,
    ReleaseList,
    ReleaseRef,
    SavedSearchList,
    SavedSearchRef,
    StabilityOut,
    StabilityPointRef,
    TrendOut,
)
from .refs import iso, untrusted
from .text import NOTICE, count, fence, inline, joined, plural, when


def _more(cursor: str | None, tool: str) -> str:
    return f"\n\nMore: call {tool} again with cursor={cursor}" if cursor else ""


def _shown(n: int, total: int | None) -> str:
    return f"{n}" + (f" of {total:,}" if total is not None else "")


def _value_ref(v: PivotValue) -> PivotValueRef:
    return PivotValueRef(events=v.events, proportion=v.proportion, untrusted=untrusted(value=v.value))


def pivots(found: Sequence[Pivot], scope: str) -> Answer:
    body = []
    for p in found:
        body.append(
            joined(inline(p.name, 40) if p.name else None, f"[{p.field}]", sep=" ")
            + (f" ({plural(p.cardinality, 'distinct value')})" if p.cardinality is not None else "")
        )
        body += [
            f"  {inline(v.value, 80)}" + (f": {count(v.events, 'event')}" if v.events is not None else "")
            for v in p.values
        ]
        if p.other:
            body.append(f"  (other values: {plural(p.other, 'event')})")
        if p.no_value:
            body.append(f"  (no value: {plural(p.no_value, 'event')})")
    parts = [f"# Top values for {scope}"]
    parts += [NOTICE, fence("pivots", "\n".join(body))] if body else ["No pivot data."]
    parts.append("Drill into one field with list_pivot_values.")
    data = PivotList(
        pivots=[
            PivotRef(field=p.field, cardinality=p.cardinality, values=[_value_ref(v) for v in p.values]) for p in found
        ]
    )
    return Answer("\n\n".join(parts), data)


def pivot_values(page: Page[PivotValue], field: str, cursor: str | None) -> Answer:
    body = "\n".join(
        inline(v.value, 100)
        + (f": {plural(v.events, 'event')}" if v.events is not None else "")
        + (f" ({v.proportion:.1%})" if v.proportion is not None else "")
        for v in page.items
    )
    text = f"# Values of {field} ({_shown(len(page.items), page.total)})\n\n"
    text += f"{NOTICE}\n\n{fence('pivot.values', body)}" if page.items else "No values."
    data = PivotValueList(field=field, values=[_value_ref(v) for v in page.items], total=page.total, next_cursor=cursor)
    return Answer(text + _more(cursor, "list_pivot_values"), data)


def trend(buckets: Sequence[TrendBucket], scope: str) -> Answer:
    data = TrendOut(buckets=[BucketRef(start=iso(b.start), end=iso(b.end), events=b.events) for b in buckets])
    if not buckets:
        return Answer(f"# Trend for {scope}\n\nNo events in this window.", data)
    rows = "\n".join(joined(when(b.start), when(b.end), sep=" → ") + f": {b.events:,}" for b in buckets)
    return Answer(f"# Trend for {scope}\n\n{trend_line(tuple(buckets))}\n\n{rows}", data)


def _rate(point: StabilityPoint) -> float | None:
    return None if point.unhandled_rate is None else 1 - point.unhandled_rate


def stability(stage: str | None, points: Sequence[StabilityPoint]) -> Answer:
    data = StabilityOut(
        points=[
            StabilityPointRef(
                day=iso(p.start), sessions=p.sessions, unhandled_sessions=p.unhandled_sessions, crash_free_rate=_rate(p)
            )
            for p in points
        ]
    )
    if not points:
        return Answer("# Stability\n\nNo session data: this project does not report sessions.", data)
    stable = [r for r in (_rate(p) for p in points) if r is not None]
    lines = [f"# Stability over {plural(len(points), 'day')}"]
    if stage:
        lines.append(fence("release.stage", f"release stage: {inline(stage, 30)}"))
    if stable:
        lines.append(f"Crash-free sessions: latest {stable[-1]:.3%}, worst {min(stable):.3%}, best {max(stable):.3%}")
    if len(points) > 7:
        lines.append(f"(last 7 of {len(points)} days)")
    for p in points[-7:]:
        day = when(p.start)
        counts = joined(count(p.sessions, "session"), count(p.unhandled_sessions, "unhandled session"), sep=", ")
        lines.append(f"{day[:10]}: {counts}" if day else counts)
    return Answer("\n".join(lines), data)


def unknown_stage(title: str, stages: Sequence[str], argument: str, data: Any) -> Answer:
    """An empty listing for a release stage the project does not have: says so and names the stages it has."""
    return Answer(f"# {title}\nNo {title.lower()}: {no_such_stage(stages, argument)}", data)


def releases(page: Page[Release], cursor: str | None) -> Answer:
    body = []
    for r in page.items:
        rate = (
            f"{r.unhandled_sessions / r.total_sessions:.2%} unhandled sessions"
            if r.total_sessions and r.unhandled_sessions is not None
            else None
        )
        facts = joined(
            r.id,
            f"group {r.release_group_id}" if r.release_group_id else None,
            f"released {when(r.release_time)}" if r.release_time else None,
            count(r.errors_introduced, "new error"),
            f"{count(r.errors_seen, 'error')} seen" if r.errors_seen is not None else None,
            rate,
        )
        label = joined(
            inline(r.app_version, 30) if r.app_version else None,
            f"({inline(r.release_stage, 20)})" if r.release_stage else None,
            f"build {inline(r.build_label, 30)}" if r.build_label else None,
            sep=" ",
        )
        body.append(f"- {facts}\n  {label or '(no version recorded)'}")
    text = f"# Releases ({_shown(len(page.items), page.total)})"
    text += f"\n\n{NOTICE}\n\n{fence('releases', chr(10).join(body))}" if body else "\n\nNo releases."
    if any(r.errors_introduced for r in page.items):
        text += "\n\nThe errors a release introduced: `list_errors` with introduced_in set to its version."
    data = ReleaseList(
        releases=[
            ReleaseRef(
                id=r.id,
                release_group_id=r.release_group_id,
                released_at=iso(r.release_time),
                errors_introduced=r.errors_introduced,
                errors_seen=r.errors_seen,
                sessions=r.total_sessions,
                unhandled_sessions=r.unhandled_sessions,
                untrusted=untrusted(
                    app_version=r.app_version, release_stage=r.release_stage, build_label=r.build_label
                ),
            )
            for r in page.items
        ],
        total=page.total,
        next_cursor=cursor,
    )
    return Answer(text + _more(cursor, "list_releases"), data)


def release_groups(page: Page[ReleaseGroup], cursor: str | None) -> Answer:
    body = []
    for g in page.items:
        state = {True: "visible", False: "hidden", None: None}[g.visible]
        first = f"first released {when(g.first_released_at)}" if g.first_released_at else None
        label = joined(
            inline(g.app_version, 30) if g.app_version else None,
            f"({inline(g.release_stage, 20)})" if g.release_stage else None,
            sep=" ",
        )
        body.append(f"- {joined(g.id, state, first)}\n  {label or '(no version recorded)'}")
    text = f"# Release groups ({len(page.items)})"
    text += f"\n\n{NOTICE}\n\n{fence('release.groups', chr(10).join(body))}" if body else "\n\nNo release groups."
    data = ReleaseGroupList(
        release_groups=[
            ReleaseGroupRef(
                id=g.id,
                visible=g.visible,
                releases=g.releases_count,
                first_released_at=iso(g.first_released_at),
                untrusted=untrusted(app_version=g.app_version, release_stage=g.release_stage),
            )
            for g in page.items
        ],
        next_cursor=cursor,
    )
    return Answer(text + _more(cursor, "list_release_groups"), data)


def release_group_changed(group: ReleaseGroup) -> Answer:
    state = "visible" if group.visible else "hidden"
    text = f"Release group {group.id} is now {state}."
    if group.app_version:
        text += "\n\n" + fence("release.group", f"version: {inline(group.app_version, 30)}")
    return Answer(
        text,
        ReleaseGroupList(
            release_groups=[
                ReleaseGroupRef(
                    id=group.id,
                    visible=group.visible,
                    releases=group.releases_count,
                    first_released_at=iso(group.first_released_at),
                    untrusted=untrusted(app_version=group.app_version),
                )
            ]
        ),
    )


def collaborators(people: Sequence[Collaborator], total: int | None, cursor: str | None) -> Answer:
    body = []
    for p in people:
        facts = joined(p.id, "admin" if p.is_admin else None, "invitation pending" if p.pending_invitation else None)
        who = joined(inline(p.name, 40) if p.name else None, inline(p.email, 80) if p.email else None)
        body.append(f"- {facts}\n  {who or '(no name or email)'}")
    text = f"# Collaborators ({_shown(len(people), total)})"
    text += f"\n\n{NOTICE}\n\n{fence('collaborators', chr(10).join(body))}" if body else "\n\nNo collaborators."
    data = CollaboratorList(
        collaborators=[
            CollaboratorRef(
                id=p.id,
                is_admin=p.is_admin,
                pending_invitation=p.pending_invitation,
                untrusted=untrusted(name=p.name, email=p.email),
            )
            for p in people
        ],
        total=total,
        next_cursor=cursor,
    )
    return Answer(text + _more(cursor, "list_collaborators"), data)


def event_fields(fields: Sequence[EventField]) -> Answer:
    body = [
        f"- {f.display_id}" + (f" ({inline(f.name, 40)})" if f.name else "") + (" [custom]" if f.custom else "")
        for f in fields
    ]
    text = f"# Event fields ({len(fields)}): use them in `filters` as 'field=value' or 'field!=value'"
    if body:
        text += f"\n\n{NOTICE}\n\n{fence('event.fields', chr(10).join(body))}"
    text += "\n\nAlso accepted: event.since, event.before (e.g. 'event.since=7d')."
    return Answer(text, EventFieldList(fields=[f.display_id for f in fields]))


def filter_strings(search: SavedSearch) -> list[str]:
    """A saved search's conditions as the `filters` argument takes them ('field=value', 'field!=value'), so a row
    can be passed on as it is; a condition of another shape is said as it came, marked as not passable."""
    strings = [f"{f}{'=' if k == 'eq' else '!='}{v}" for f, k, v in search.conditions]
    if search.unusable:
        strings.append(f"(+{search.unusable} condition(s) of another form: {json.dumps(search.filters, default=str)})")
    return strings


def saved_searches(found: Sequence[SavedSearch]) -> Answer:
    body = [
        f"- {joined(s.id, f'sort {s.sort}' if s.sort else None, 'shared' if s.shared else None)}\n"
        f"  name: {inline(s.name, 60)}\n  filters: {inline('; '.join(filter_strings(s)), 200)}"
        for s in found
    ]
    text = f"# Saved searches ({len(found)})"
    text += f"\n\n{NOTICE}\n\n{fence('saved.searches', chr(10).join(body))}" if body else "\n\nNo saved searches."
    data = SavedSearchList(
        saved_searches=[
            SavedSearchRef(id=s.id, shared=s.shared, untrusted=untrusted(name=s.name, filters=filter_strings(s)))
            for s in found
        ]
    )
    return Answer(text, data)


def saved_search_created(search: SavedSearch) -> Answer:
    listed = saved_searches([search])
    return Answer(f"Created saved search {search.id}.\n\n" + listed.text, CreatedOut(id=search.id, kind="saved search"))
