"""Project names for the console's pages and sentences: what the trackers call each project, remembered in the
store (so `audit tail --plain` can use them too) whenever the console lists them; and `names_for`, the names audit
sentences use (projects, and errors whose titles webhook deliveries carried), read from the store only. Names are
data from upstream: templates escape them, and the sentences clean and quote them (render/audit.py)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

import anyio
import anyio.to_thread

from ..render.audit import NO_NAMES, Names, named_ids
from ..store import Store, StoreError
from ..store.project_access import ErrorTitles, ProjectNames
from .site import Web

log = logging.getLogger("bugwarden.web")
LIST_WAIT = 3.0
"""The longest a page waits for the trackers' project list before it shows what the store remembers."""


async def refresh(web: Web) -> None:
    """Remember the names of every project the trackers list now (nothing happens when they cannot be asked)."""
    if web.list_projects is None:
        return
    listed: list[tuple[str, str]] = []
    with anyio.move_on_after(LIST_WAIT):
        try:
            listed = [(p.id, p.name) for p in await web.list_projects()]
        except Exception as exc:  # a page must show even when no tracker answers
            log.warning("the console could not list projects for their names: %r", exc)
    if listed:
        try:
            await anyio.to_thread.run_sync(ProjectNames(web.store.tokens).remember, listed)
        except StoreError as exc:
            log.warning("the console could not remember project names: %s", exc)


async def names_of(web: Web, project_ids: Iterable[str], *, fresh: bool = False) -> dict[str, str]:
    """id -> name for the projects bugwarden has seen listed (`fresh`: ask the trackers first)."""
    wanted = [p for p in project_ids if p]
    if not wanted:
        return {}
    if fresh:
        await refresh(web)
    try:
        return await anyio.to_thread.run_sync(ProjectNames(web.store.tokens).names, wanted)
    except StoreError:
        return {}


def names_for(store: Store, records: Iterable[Mapping[str, Any]]) -> Names:
    """Names for these records' projects and errors (none when the store cannot say: the sentences then show ids)."""
    projects, errors = named_ids(records)
    try:
        return Names(
            projects=ProjectNames(store.tokens).names(projects) if projects else {},
            errors=ErrorTitles(store.hooks).titles(errors) if errors else {},
        )
    except StoreError:
        return NO_NAMES
