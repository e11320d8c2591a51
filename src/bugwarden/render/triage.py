"""Comments, feature flags and data-deletion requests, in words."""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..model import Comment, DataDeletion, FeatureFlag, Page, SavedSearch
from .answer import Answer
from .confirm import awaiting
from .insights import filter_strings
from .outputs import CommentList, CommentOut, CommentRef, DataDeletionOut, FeatureFlagList, FeatureFlagRef
from .refs import iso, untrusted
from .text import NOTICE, fence, inline, joined, plural, when

_TOKEN = re.compile(r"[a-z_]{1,30}")
"""A status shown as a fact: one lower-case token (a sentence from upstream is never one)."""


def _comment_line(c: Comment) -> str:
    who = inline(c.author, 60) if c.author else "(unknown author)"
    return f"- {joined(c.id or None, when(c.created_at) if c.created_at else None)} {who}:\n  {inline(c.body, 500)}"


def comment_preview(comment: Comment) -> str:
    return fence("comment", _comment_line(comment))


def saved_search_preview(search: SavedSearch) -> str:
    conditions = "; ".join(filter_strings(search))
    return fence("saved.search", f"name: {inline(search.name, 60)}\nfilters: {inline(conditions, 300)}")


def comments(error_id: str, found: Sequence[Comment]) -> Answer:
    """An error's discussion, oldest first: each comment's id (what update_comment takes), author, time, text."""
    if not found:
        text = f"# Comments on {error_id}\n\nNo comments yet; add one with `add_comment`."
    else:
        body = "\n".join(_comment_line(c) for c in found)
        text = f"# Comments on {error_id} ({len(found)})\n\n{NOTICE}\n\n{fence('comments', body)}"
    data = CommentList(
        error_id=error_id,
        comments=[
            CommentRef(id=c.id, created_at=iso(c.created_at), untrusted=untrusted(author=c.author, body=c.body))
            for c in found
        ],
    )
    return Answer(text, data)


def comment_changed(project_id: str, error_id: str, comment: Comment) -> Answer:
    return Answer(
        f"Comment {comment.id} edited.", CommentOut(error_id=error_id, project_id=project_id, comment_id=comment.id)
    )


def feature_flags(page: Page[FeatureFlag], stage: str, cursor: str | None, searched: bool = False) -> Answer:
    """A page of a stage's feature flags; with none found, says whether that is the stage or the name search
    (`searched`: a `q` was given)."""
    lines = []
    for f in page.items:
        state = {True: "active", False: "inactive", None: None}[f.active]
        first = f"first seen {when(f.first_seen)}" if f.first_seen else None
        lines.append(f"- {joined(f.id, state, first)}\n  {inline(f.name, 120)}")
    body = "\n".join(lines)
    shown = f"{len(page.items)}" + (f" of {page.total:,}" if page.total is not None else "")
    text = f"# Feature flags in {inline(stage, 40)} ({shown})"
    none = "No feature flag of this stage has that in its name." if searched else "No feature flags seen in this stage."
    text += f"\n\n{NOTICE}\n\n{fence('feature.flags', body)}" if body else f"\n\n{none}"
    if page.items:
        text += "\n\nErrors with a flag on: `list_errors` with filters ['feature_flag.seen_in=<flag name>']."
    if cursor:
        text += f"\n\nMore: call list_feature_flags again with cursor={cursor}"
    data = FeatureFlagList(
        feature_flags=[
            FeatureFlagRef(id=f.id, active=f.active, first_seen=iso(f.first_seen), untrusted=untrusted(name=f.name))
            for f in page.items
        ],
        total=page.total,
        next_cursor=cursor,
    )
    return Answer(text, data)


def deletion_pending(
    project_id: str,
    conditions: Sequence[str],
    events: int | None,
    how: str,
    code: str | None,
    approval: str | None = None,
    approve_at: str | None = None,
) -> Answer:
    said = {"declined": "declined", "cancelled": "dismissed the question about"}.get(how)
    if approval is not None:
        text = awaiting(f"deleting the events of project {project_id} that match those filters", approval, approve_at)
    elif said:
        text = f"Not requested: the user {said} deleting those events."
    else:
        n = plural(events, "event") if events is not None else "every event"
        text = f"Not requested yet. This would permanently delete {n} of project {project_id} matching:\n" + "\n".join(
            f"- {c}" for c in conditions
        )
        if code:
            text += (
                f"\n\nTo proceed, call again with the same arguments and confirm={code!r} (valid for 5 minutes, once)."
            )
    return Answer(
        text,
        DataDeletionOut(
            project_id=project_id, events=events, requested=False, how=how, confirm_code=code, approval_id=approval
        ),
    )


def deletion(project_id: str, found: DataDeletion, how: str | None = None) -> Answer:
    facts = joined(
        f"status {found.status}" if found.status and _TOKEN.fullmatch(found.status) else None,
        plural(found.total, "event") if found.total is not None else None,
        f"requested {when(found.created_at)}" if found.created_at else None,
        f"completed {when(found.completed_at)}" if found.completed_at else None,
        sep="; ",
    )
    lead = "Data deletion requested" if how else "Data deletion"
    text = f"{lead}: {found.id} in project {project_id}" + (f" ({facts})" if facts else "") + "."
    if how:
        text += f" ({how}). BugSnag deletes the events in the background: check with get_event_data_deletion."
    return Answer(
        text,
        DataDeletionOut(
            id=found.id, project_id=project_id, status=found.status, events=found.total, requested=True, how=how
        ),
    )
