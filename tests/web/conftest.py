"""Web tests hash passwords with cheap argon2id parameters: the production cost (64 MiB, 3 passes) is what
makes guessing slow, and would make these tests slow too."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from bugwarden.web import passwords


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(passwords, "_HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
