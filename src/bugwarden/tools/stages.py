"""A release stage named by the caller that the project does not have: asked only when a first page came back
empty, so a listing that finds something costs no extra request."""

from __future__ import annotations

from ..call.target import ProjectTarget


async def stages_if_unknown(target: ProjectTarget, stage: str | None, empty: bool) -> tuple[str, ...] | None:
    """The project's release stages when `stage` is not one of them and the first page was `empty`; else None."""
    if not empty or not stage or target.page is not None:
        return None
    stages = tuple((await target.backend.get_project(target.project_id)).release_stages)
    return None if stage in stages else stages
