"""Names for audit sentences: what the trackers call the projects and errors that records name by id, from what the
store remembers (project names the console listed, error titles webhook deliveries carried). Used by the console and
`audit tail --plain`; reading the store only, never an upstream."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .render.audit import NO_NAMES, Names, named_ids
from .store import Store, StoreError
from .store.project_access import ErrorTitles, ProjectNames


def names_for(store: Store, records: Iterable[Mapping[str, Any]]) -> Names:
    """Names for these records (none when the store cannot say: the sentences then show ids)."""
    projects, errors = named_ids(records)
    try:
        return Names(
            projects=ProjectNames(store.tokens).names(projects) if projects else {},
            errors=ErrorTitles(store.hooks).titles(errors) if errors else {},
        )
    except StoreError:
        return NO_NAMES
