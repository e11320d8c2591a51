"""Error lists, one error in detail, and what a change did."""

from __future__ import annotations

from collections.abc import Sequence

from ..model import BugContext, Comment, ErrorGroup, Page, ReopenRule
from . import vocab
from .answer import FULL_OUTPUT_LIMIT, OUTPUT_LIMIT, Answer
from .bugport import bug_report_sections
from .confirm import awaiting
from .events import COMPACT, FULL, error_line, error_summary, event_sections, reopen_words
from .outputs import BulkChangeOut, CommentOut, ErrorChangeOut, ErrorDetail, ErrorList
from .refs import error_ref, event_ref
from .text import NOTICE, fence, inline, plural

CHANGED_FIELDS = (
    "status",
    "severity",
    "overridden_severity",
    "assigned_collaborator_id",
    "discarded",
    "linked_issues",
    "reopen_rule",
)


def no_such_stage(stages: Sequence[str], argument: str) -> str:
    """What to say when a release stage named by the caller is not one of the project's `stages`: which it has,
    to pass as `argument` (instead of an empty page with a hint that cannot work). Starts in lower case, to follow
    a lead-in."""
    if not stages:
        return "this project has no release stage by that name, and none has reported yet."
    listed = fence("release.stages", "\n".join(inline(s, 60) for s in stages))
    return f"this project has no release stage by that name; it has these (pass one as {argument}):\n{NOTICE}\n{listed}"


def error_list(
    page: Page[ErrorGroup],
    project_id: str,
    cursor: str | None,
    filtered: bool,
    release_stage: str | None = None,
    stages: Sequence[str] | None = None,
) -> Answer:
    """A page of errors. With nothing found for a release stage the project does not have (`stages`: the ones it
    has, when looked up), the answer says so instead of suggesting a wider search."""
    if not page.items:
        if release_stage is not None and stages is not None and release_stage not in stages:
            said = no_such_stage(stages, "release_stage")
            text = f"# Errors in project {project_id}\n" + said[0].upper() + said[1:]
        else:
            hint = " Try a wider 'since' or fewer filters." if filtered else ""
            text = f"# Errors in project {project_id}\nNo errors match these filters.{hint}"
        data = ErrorList(errors=[], total=page.total, next_cursor=cursor)
        return Answer(text + (f"\n\nMore: call list_errors again with cursor={cursor}" if cursor else ""), data)
    shown = f"{len(page.items)}" + (f" of {page.total:,}" if page.total is not None else "")
    lines = [f"# Errors in project {project_id} ({shown})"]
    lines += [NOTICE, fence("errors", "\n".join(error_line(e) for e in page.items))]
    if cursor:
        lines.append(f"\nMore: call list_errors again with cursor={cursor}")
    else:
        lines.append("\nNext: `get_bug_context` with one error_id.")
    data = ErrorList(errors=[error_ref(e) for e in page.items], total=page.total, next_cursor=cursor)
    return Answer("\n".join(lines), data)


def error_detail(ctx: BugContext, *, full: bool = False) -> Answer:
    """get_error: the error's facts and its latest event (BugSnag), or the whole report (BugPort)."""
    error = ctx.error
    if ctx.report is not None:
        text = "\n\n".join([f"# Bug report {error.id}", NOTICE, *bug_report_sections(error, ctx.report)])
        return Answer(text, ErrorDetail(error=error_ref(error)))
    parts = [f"# Error {error.id}", NOTICE, error_summary(error)]
    if ctx.dashboard_url:
        parts.append(f"**Dashboard:** {ctx.dashboard_url}")
    if ctx.latest is not None:
        parts += [f"## Latest event {ctx.latest.id}", *event_sections(ctx.latest, FULL if full else COMPACT, level=3)]
    if ctx.missing:
        parts += ["## Response notes", _missing_note(ctx.missing)]
    data = ErrorDetail(
        error=error_ref(error, ctx.dashboard_url),
        latest_event=event_ref(ctx.latest) if ctx.latest else None,
        missing=list(ctx.missing),
    )
    return Answer("\n\n".join(parts), data, FULL_OUTPUT_LIMIT if full else OUTPUT_LIMIT)


def _missing_note(missing: Sequence[str]) -> str:
    if list(missing) == ["latest event"]:
        return (
            "The latest event could not be loaded (it may have been deleted, or retention dropped it); "
            "the error itself is shown."
        )
    return "Could not load: " + ", ".join(missing) + ". The rest is complete; retry for the missing parts."


def _describe(value: object) -> str:
    if value is None or value == () or value is False:
        return "none"
    if value is True:
        return "yes"
    if isinstance(value, tuple):
        return plural(len(value), "linked issue")
    if isinstance(value, ReopenRule):
        words = reopen_words(value)
        return f"snoozed {words}" if words else "snoozed"
    return str(value)


_VOCABULARIES = {"status": vocab.STATUSES, "severity": vocab.SEVERITIES, "overridden_severity": vocab.SEVERITIES}


def _field_words(name: str, value: object) -> str:
    """A changed field's value outside a fence: statuses and severities only as words we know."""
    if name in _VOCABULARIES and isinstance(value, str):
        return vocab.word(value, _VOCABULARIES[name]) or "none"
    return _describe(value)


def change_made(before: ErrorGroup, after: ErrorGroup | None, operation: str, what: str) -> Answer:
    """What `resolve_error`/`update_error` did, in words: the fields that changed, from and to."""
    if after is None:
        text = f"Error {before.id} in project {before.project_id}: {what}; the tracker confirmed without details."
        changed: list[str] = []
    else:
        changed = [name for name in CHANGED_FIELDS if getattr(before, name) != getattr(after, name)]
        if changed:
            rows = [
                f"- {name.replace('_', ' ')}: {_field_words(name, getattr(before, name))} → "
                f"{_field_words(name, getattr(after, name))}"
                for name in changed
            ]
            text = f"{_noun(before)} {before.id} in project {before.project_id}: {what}.\n" + "\n".join(rows)
        else:
            text = f"{_noun(before)} {before.id} in project {before.project_id}: no change; it was already so."
    data = ErrorChangeOut(
        error_id=before.id,
        project_id=before.project_id,
        operation=operation,
        applied=True,
        changed=changed,
        error=error_ref(after) if after else None,
    )
    return Answer(text, data)


def _noun(error: ErrorGroup) -> str:
    return "Bug report" if error.kind == "bug_report" else "Error"


def bulk_change(project_id: str, operation: str, statuses: dict[str, str | None]) -> Answer:
    lines = [f"{operation} applied to {plural(len(statuses), 'error')} in project {project_id}:"]
    said = {eid: vocab.word(status, vocab.STATUSES) for eid, status in statuses.items()}
    done = {"delete": "deleted", "discard": "discarded", "undiscard": "no longer discarded"}.get(operation, "done")
    lines += [f"- {eid}: {f'now {status}' if status else done}" for eid, status in said.items()]
    known = {eid: vocab.known(status, vocab.STATUSES) for eid, status in statuses.items()}
    return Answer("\n".join(lines), BulkChangeOut(project_id=project_id, operation=operation, statuses=known))


def bulk_pending(
    project_id: str,
    operation: str,
    error_ids: Sequence[str],
    how: str,
    code: str | None,
    approval: str | None = None,
    approve_at: str | None = None,
) -> Answer:
    """A bulk discard or delete that was not done (yet): declined, or waiting for its confirmation code or for a
    person's approval."""
    what = {"delete": "deleting", "discard": "discarding"}.get(operation, operation)
    said = {"declined": "declined", "cancelled": "dismissed the question about"}.get(how)
    if approval is not None:
        text = awaiting(f"{what} {plural(len(error_ids), 'error')} of project {project_id}", approval, approve_at)
    elif said:
        text = f"Not done: the user {said} {what} {plural(len(error_ids), 'error')}."
    else:
        effect = "and all their events permanently" if operation == "delete" else "(their future events dropped)"
        text = f"Not done yet: {what} these errors of project {project_id} {effect}:\n" + "\n".join(
            f"- {e}" for e in error_ids
        )
        if code:
            text += (
                f"\n\nTo proceed, call again with the same arguments and confirm={code!r} (valid for 5 minutes, once)."
            )
    data = BulkChangeOut(
        project_id=project_id, operation=operation, statuses={}, confirm_code=code, approval_id=approval
    )
    return Answer(text, data)


def comment_added(project_id: str, error_id: str, comment: Comment) -> Answer:
    noun = "bug report" if error_id.startswith("bugport:") else "error"
    text = f"Commented on {noun} {error_id}" + (f" (comment {comment.id})." if comment.id else ".")
    return Answer(text, CommentOut(error_id=error_id, project_id=project_id, comment_id=comment.id or None))
