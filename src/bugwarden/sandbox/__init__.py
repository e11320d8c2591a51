"""Faithful local simulators of the BugSnag Data Access API v2 and the BugPort /v1 API, with seeded data."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import Mount

from .bugport_app import create_bugport_app
from .bugsnag_app import create_bugsnag_app

BUGPORT_MOUNT = "/bugport"


def create_sandbox(rate_limit: int = 30) -> Starlette:
    """Both simulators on one app: BugSnag at `/`, BugPort at `/bugport/v1` (so its base URL ends in /v1)."""
    bugsnag = create_bugsnag_app(rate_limit=rate_limit)
    bugport = create_bugport_app(rate_limit=rate_limit)
    app = Starlette(routes=[Mount(BUGPORT_MOUNT, app=bugport), Mount("/", app=bugsnag)])
    app.state.bugsnag = bugsnag
    app.state.bugport = bugport
    return app


__all__ = ["BUGPORT_MOUNT", "create_bugport_app", "create_bugsnag_app", "create_sandbox"]
