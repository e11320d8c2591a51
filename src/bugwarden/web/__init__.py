"""The pages a person uses, beside the MCP endpoint: sign-in, OAuth consent, the console.

The foundation pages build on (see `site.py` for details and an example):

- `Web`: what pages share (store, people, keys, audit log, public URL, clock); `web_of(request)` finds it.
- `await current_person(request) -> Person | None`, `await require_person(request) -> Person` (303 to sign-in),
  `await require_admin(request) -> Person` (403 unless added with `--admin`).
- `await check_csrf(request) -> FormData`: the posted form, or 403 without this browser's CSRF token.
- `csrf_field(request)` (in templates: `{{ csrf_field() }}`) inside every form.
- `render(request, "page.html", status=200, **context) -> HTMLResponse` and `redirect(request, "/path")`:
  responses with the security headers (CSP without inline script, frame-ancestors 'none', no-store).
- `audit_event(audit, action, person=..., decision=..., reason=..., outcome=..., details=...)`: an audit record.
- `PAGES` (in `app.py`): add a module's `routes()` to serve its pages.
"""

from __future__ import annotations

from .app import PAGES, build_web
from .events import audit_event
from .site import (
    Web,
    check_csrf,
    csrf_field,
    current_person,
    redirect,
    render,
    require_admin,
    require_person,
    web_of,
)

__all__ = [
    "PAGES",
    "Web",
    "audit_event",
    "build_web",
    "check_csrf",
    "csrf_field",
    "current_person",
    "redirect",
    "render",
    "require_admin",
    "require_person",
    "web_of",
]
