"""One exception root (issue 23): every error bugwarden raises on purpose is a `BugwardenError`, and the checkpoint
maps the tree to audit outcomes in one table, by class (renaming a class cannot change what the audit log says)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from bugwarden.backends import errors as backend_errors
from bugwarden.backends.errors import BackendError, InvalidArgument, NotFound, RateLimited, failure_words
from bugwarden.config import ConfigError
from bugwarden.errors import BugwardenError
from bugwarden.guard.audit import AuditError
from bugwarden.guard.checkpoint import OUTCOMES, outcome_of
from bugwarden.guard.errors import STORE_UNAVAILABLE, Refusal, denied
from bugwarden.guard.scopes import ScopeError
from bugwarden.guard.tokens import TokenError
from bugwarden.store import StoreError

SRC = Path(__file__).parents[1] / "src" / "bugwarden"


@pytest.mark.parametrize("kind", [Refusal, BackendError, StoreError, AuditError, ConfigError, TokenError, ScopeError])
def test_every_branch_grows_from_the_one_root(kind: type[Exception]) -> None:
    assert issubclass(kind, BugwardenError)


def test_every_backend_error_names_its_outcome_itself() -> None:
    kinds = [v for v in vars(backend_errors).values() if isinstance(v, type) and issubclass(v, BackendError)]
    assert len(kinds) > 15
    for kind in kinds:
        assert "outcome" in vars(kind), f"{kind.__name__} inherits its audit outcome"
    assert InvalidArgument.outcome == "invalid_argument" and NotFound.outcome == "NotFound"


def test_the_table_maps_each_branch() -> None:
    assert [kind for kind, _ in OUTCOMES] == [Refusal, StoreError, BackendError]
    refusal = outcome_of(denied("no"))
    assert (refusal.label, refusal.decision, refusal.refusal) == ("denied", "denied", True)
    store = outcome_of(AuditError("disk"))
    assert (store.label, store.message, store.decision) == ("store_unavailable", STORE_UNAVAILABLE, "denied")
    upstream = outcome_of(RateLimited("slow down", status=429))
    assert (upstream.label, upstream.status, upstream.decision, upstream.refusal) == (
        "RateLimited",
        429,
        "invalid",
        False,
    )


def test_failure_words_come_from_the_class_not_its_name() -> None:
    assert failure_words(RateLimited("x", status=429)) == "rate limited (HTTP 429)"
    assert failure_words(InvalidArgument("x")) == "failed"


def test_the_checkpoint_reads_no_class_name() -> None:
    tree = ast.parse((SRC / "guard" / "checkpoint.py").read_text())
    names = [n for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr == "__name__"]
    assert names == []
