"""What a backend can do is a type question (issue 23): one runtime-checkable interface per capability, and the
credential's word on top (`permits`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bugwarden.backends import capabilities as caps
from bugwarden.backends.bugport import BugportBackend
from bugwarden.backends.bugsnag import BugsnagBackend
from bugwarden.backends.capabilities import SAID, Comments, ErrorChanges, Errors, Events, Pivots, has
from tests.conftest import make_settings

EVERY = [v for v in vars(caps).values() if isinstance(v, type) and getattr(v, "_is_runtime_protocol", False)]


def test_every_capability_is_a_runtime_checkable_interface_with_words() -> None:
    assert len(EVERY) >= 15 and set(EVERY) == set(SAID)


@pytest.mark.parametrize("capability", EVERY, ids=[c.__name__ for c in EVERY])
def test_bugsnag_has_every_capability(capability: type) -> None:
    assert issubclass(BugsnagBackend, capability)


def test_bugport_has_errors_changes_and_comments_and_no_method_that_only_raises(home: Path) -> None:
    backend = BugportBackend(make_settings(home, bugport_token="bp_x"))
    assert {c for c in EVERY if isinstance(backend, c)} == {Errors, ErrorChanges, Comments}
    assert not isinstance(backend, Events) and not hasattr(backend, "list_events")
    assert has(backend, Errors) and not has(backend, ErrorChanges) and not has(backend, Pivots)  # undiscovered
