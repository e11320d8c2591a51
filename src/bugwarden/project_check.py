"""Projects named for a new token, checked before it is minted: an empty name is refused (it would read as "no
limit"), and with a tracker configured every project must be one the tracker lists."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .backends.base import Backend
from .backends.bugport import BugportBackend
from .backends.bugsnag import BugsnagBackend
from .backends.errors import BackendError
from .config import Settings
from .runtime import Runtime


class ProjectCheckError(ValueError):
    """A project that may not limit a token (empty, unknown, or not checkable); the message says what to do."""


def require_named(projects: Sequence[str]) -> list[str]:
    """The projects, stripped; an empty one is refused (an empty list would grant every project)."""
    names = [p.strip() for p in projects]
    if any(not n for n in names):
        raise ProjectCheckError(
            "--project must not be empty: name a project id (see list_projects), or leave --project out for a "
            "token that may see every project"
        )
    return names


async def unknown_projects(settings: Settings, projects: Sequence[str], **backend_kw: Any) -> list[str]:
    """The projects no configured tracker lists (raises ProjectCheckError when a tracker cannot be asked)."""
    backends: list[Backend] = []
    if settings.bugsnag_token:
        backends.append(BugsnagBackend(settings, transport=backend_kw.get("transport")))
    if settings.bugport_token:
        backends.append(BugportBackend(settings, transport=backend_kw.get("bugport_transport")))
    runtime = Runtime(settings=settings, backends=backends)
    try:
        listed, failed = await runtime.all_projects()
    except BackendError as exc:
        raise ProjectCheckError(
            f"cannot check the projects ({exc.agent_message}): try again, or pass --skip-project-check"
        ) from None
    finally:
        await runtime.aclose()
    if failed:
        raise ProjectCheckError(
            f"cannot check the projects ({', '.join(failed)} did not answer): try again, or pass --skip-project-check"
        )
    known = {p.id for p in listed}
    return [p for p in projects if p not in known]
