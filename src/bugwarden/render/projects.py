"""Projects and organizations. Their names are typed by people with access to the tracker account: untrusted."""

from __future__ import annotations

from collections.abc import Sequence

from ..model import Organization, Project
from . import vocab
from .answer import Answer
from .outputs import CreatedOut, OrganizationList, OrganizationRef, ProjectDetail, ProjectList
from .refs import iso, project_ref, untrusted
from .text import NOTICE, count, fence, inline, joined, when

LABELS = {"bugsnag": "BugSnag", "bugport": "BugPort"}


def project_list(projects: Sequence[Project], default: str | None, unavailable: Sequence[str]) -> Answer:
    lines = [f"# Projects ({len(projects)})"]
    if projects:
        rows = []
        for p in projects:
            facts = joined(
                p.id,
                LABELS.get(p.backend, p.backend),
                p.type,
                count(p.open_error_count, "open error"),
                "default" if p.id == default else None,
            )
            rows.append(f"- {facts}\n  {inline(p.name, 80) or '(unnamed)'}")
        lines += [NOTICE, fence("projects", "\n".join(rows))]
    else:
        lines.append("No projects are visible to this agent.")
    if unavailable:
        lines.append(f"\n{', '.join(unavailable)} could not list projects just now; retry shortly.")
    lines.append("\nNext: `list_errors` with a project_id.")
    data = ProjectList(
        projects=[project_ref(p) for p in projects], default_project_id=default, unavailable=list(unavailable)
    )
    return Answer("\n".join(lines), data)


def project_detail(p: Project, *, heading: str | None = None) -> Answer:
    facts = [
        joined(f"**Project:** {p.id}", f"**Organization:** {p.organization_id}" if p.organization_id else None),
        joined(
            f"**Type:** {kind}" if (kind := vocab.word(p.type, vocab.PROJECT_TYPES)) else None,
            f"**Open errors:** {p.open_error_count:,}" if p.open_error_count is not None else None,
        ),
        joined(
            f"**Created:** {when(p.created_at)}" if p.created_at else None,
            f"**Dashboard:** {p.html_url}" if p.html_url else None,
        ),
    ]
    body = [f"name: {inline(p.name, 100)}"]
    body += [inline(line, 80) for line in vocab.as_sent(type=(p.type, vocab.PROJECT_TYPES))]
    if p.language:
        body.append(f"language: {inline(p.language, 40)}")
    if p.release_stages:
        body.append("release stages: " + ", ".join(inline(s, 30) for s in p.release_stages[:20]))
    text = "\n\n".join(
        [heading or f"# Project {p.id}", NOTICE, "\n".join(f for f in facts if f), fence("project", "\n".join(body))]
    )
    return Answer(text, ProjectDetail(project=project_ref(p)))


def project_created(p: Project) -> Answer:
    detail = project_detail(p, heading=f"# Created project {p.id}")
    return Answer(detail.text + "\n\nIts API key stays in the dashboard.", CreatedOut(id=p.id, kind="project"))


def organization_list(orgs: Sequence[Organization]) -> Answer:
    lines = [f"# Organizations ({len(orgs)})"]
    rows = [
        f"- {joined(o.id, f'created {when(o.created_at)}' if o.created_at else None)}\n"
        f"  {inline(o.name, 60) or '(unnamed)'}" + (f" (slug {inline(o.slug, 40)})" if o.slug else "")
        for o in orgs
    ]
    lines += [NOTICE, fence("organizations", "\n".join(rows))] if rows else ["No organizations are visible."]
    data = OrganizationList(
        organizations=[
            OrganizationRef(id=o.id, created_at=iso(o.created_at), untrusted=untrusted(name=o.name, slug=o.slug))
            for o in orgs
        ]
    )
    return Answer("\n".join(lines), data)
