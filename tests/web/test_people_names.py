"""People's names are unique regardless of case and of look-alike letters: the audit log, the console and the
consent page name people, and nobody may be added who reads as someone else."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bugwarden.store import Store
from bugwarden.store.people import name_key
from bugwarden.web.people import People, PersonError
from tests.conftest import make_settings
from tests.web.helpers import PASSWORD


@pytest.fixture
def people(home: Path) -> Iterator[People]:
    store = Store.open(make_settings(home))
    yield People(store.tokens)
    store.close()


@pytest.mark.parametrize(
    ("first", "second"),
    [("ada", "Ada"), ("Ada", "ADA"), ("admin", "adrnin"), ("bob", "b0b"), ("lin", "Iin"), ("will", "vvill")],
)
def test_a_name_that_reads_like_a_taken_one_is_refused(people: People, first: str, second: str) -> None:
    people.add(first, PASSWORD)
    with pytest.raises(PersonError, match=f"already a person named '{first}'.*{second!r} reads the same"):
        people.add(second, PASSWORD)
    assert [p.name for p in people.list()] == [first]
    assert people.authenticate(second, PASSWORD) is None, "and nobody signs in as the look-alike"


def test_names_that_read_differently_are_all_welcome(people: People) -> None:
    for name in ("ada", "adam", "ada.l", "ada-l", "bob", "bob2"):
        people.add(name, PASSWORD)
    assert len(people.list()) == 6
    with pytest.raises(PersonError, match="already a person named 'ada': see"):
        people.add("ada", PASSWORD)


def test_the_name_key_folds_case_and_look_alikes() -> None:
    assert name_key("AdRnIn") == name_key("admin") == name_key("adm1n")
    assert name_key("ada") != name_key("adb")
