"""What a change that asks first answers: the preview, the refusal after a decline, the confirmation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..model import ErrorGroup, Event, Organization, Project
from .answer import Answer
from .events import error_line, event_summary_line
from .outputs import DeletionOut, ErrorChangeOut, SettingsChangeOut
from .text import NOTICE, fence, inline, plural


def _how_to_confirm(code: str | None) -> str:
    if code is None:
        return ""
    return f"\n\nTo proceed, call again with the same arguments and confirm={code!r} (valid for 5 minutes, once)."


def awaiting(what: str, approval: str, approve_at: str | None) -> str:
    """A change that waits for a person's approval, in words (see `guard.approval`)."""
    return _awaiting(what, approval, approve_at)


def _awaiting(what: str, approval: str, approve_at: str | None) -> str:
    where = f"on the Approvals page at {approve_at} or " if approve_at else ""
    return (
        f"Not done yet: {what} waits for a person's approval (approval {approval}, valid for 15 minutes), "
        f"{where}with `bugwarden approvals approve {approval}`. Tell the user; call again with the same "
        "arguments once it is approved. The model cannot approve it."
    )


def _declined(how: str, what: str) -> str | None:
    if how == "declined":
        return f"Not done: the user declined {what}."
    if how == "cancelled":
        return f"Not done: the user dismissed the question about {what}."
    return None


def deletion_pending(
    kind: str,
    target: str,
    preview: str,
    how: str,
    code: str | None,
    approval: str | None = None,
    approve_at: str | None = None,
) -> Answer:
    if approval is not None:
        text = _awaiting(f"deleting {kind} {target}", approval, approve_at)
        return Answer(text, DeletionOut(target=target, kind=kind, deleted=False, how=how, approval_id=approval))
    text = _declined(how, f"deleting {kind} {target}") or (
        f"Not deleted yet. This would permanently delete {kind} {target}:\n\n{NOTICE}\n\n{preview}"
        + _how_to_confirm(code)
    )
    return Answer(text, DeletionOut(target=target, kind=kind, deleted=False, how=how, confirm_code=code))


def deleted(kind: str, target: str, how: str) -> Answer:
    return Answer(f"Deleted {kind} {target} ({how}).", DeletionOut(target=target, kind=kind, deleted=True, how=how))


def error_preview(error: ErrorGroup) -> str:
    return fence("error", error_line(error))


def event_preview(event: Event) -> str:
    return fence("event", event_summary_line(event))


def organization_preview(org: Organization, projects: list[Project], total: int | None) -> str:
    n = total if total is not None else len(projects)
    names = ", ".join(inline(p.name, 40) for p in projects[:20])
    return f"Organization {org.id} with {plural(n, 'project')}:\n" + fence(
        "organization", f"name: {inline(org.name, 60)}\nprojects: {names}"
    )


def discard_pending(
    error_id: str,
    project_id: str,
    how: str,
    code: str | None,
    approval: str | None = None,
    approve_at: str | None = None,
) -> Answer:
    if approval is not None:
        text = _awaiting(f"discarding error {error_id}", approval, approve_at)
        data = ErrorChangeOut(
            error_id=error_id, project_id=project_id, operation="discard", applied=False, approval_id=approval
        )
        return Answer(text, data)
    text = _declined(how, f"discarding error {error_id}") or (
        f"Not discarded yet: discarding error {error_id} drops all its future events." + _how_to_confirm(code)
    )
    data = ErrorChangeOut(
        error_id=error_id, project_id=project_id, operation="discard", applied=False, confirm_code=code
    )
    return Answer(text, data)


def settings_pending(
    kind: str,
    target: str,
    name: str,
    fields: Mapping[str, Any],
    how: str,
    code: str | None,
    approval: str | None = None,
    approve_at: str | None = None,
) -> Answer:
    if approval is not None:
        text = _awaiting(f"changing {kind} {target} ({', '.join(fields)})", approval, approve_at)
        data = SettingsChangeOut(
            target=target, kind=kind, applied=False, how=how, changed=list(fields), approval_id=approval
        )
        return Answer(text, data)
    changes = "\n".join(f"{key}: {inline(value, 200)}" for key, value in fields.items())
    text = _declined(how, f"changing {kind} {target}") or (
        f"Not changed yet. {kind.capitalize()} {target} would get these settings:\n\n{NOTICE}\n\n"
        + fence(kind, f"current name: {inline(name, 80)}\n{changes}")
        + _how_to_confirm(code)
    )
    data = SettingsChangeOut(target=target, kind=kind, applied=False, how=how, changed=list(fields), confirm_code=code)
    return Answer(text, data)


def settings_changed(kind: str, target: str, fields: Mapping[str, Any], how: str) -> Answer:
    text = f"Updated {kind} {target}: {', '.join(fields)} ({how})."
    return Answer(text, SettingsChangeOut(target=target, kind=kind, applied=True, how=how, changed=list(fields)))
