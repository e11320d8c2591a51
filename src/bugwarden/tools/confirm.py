"""Changes that ask first: the one helper settings changes and deletions share."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from mcp.types import CallToolResult

from ..call.consent import Consent
from ..render import confirm as render
from .support import respond


def fields_given(**values: Any) -> dict[str, Any]:
    """The settings a call passed (None means 'leave as is')."""
    return {k: v for k, v in values.items() if v is not None}


async def change_settings(
    kind: str,
    target_id: str,
    consent: Consent,
    fields: dict[str, Any],
    current_name: Callable[[], Awaitable[str]],
    apply: Callable[[], Awaitable[object]],
) -> CallToolResult:
    """Preview (or report a decline) until consent is given; then apply and say what changed."""
    if not consent.given:
        name = await current_name()
        return respond(
            render.settings_pending(
                kind, target_id, name, fields, consent.how, consent.code, consent.approval, consent.approve_at
            )
        )
    await apply()
    return respond(render.settings_changed(kind, target_id, fields, consent.how))


async def delete_after_consent(
    kind: str,
    target_id: str,
    consent: Consent,
    preview: Callable[[], Awaitable[str]],
    delete: Callable[[], Awaitable[None]],
) -> CallToolResult:
    """Show what would go (or report a decline) until consent is given; then delete."""
    if not consent.given:
        shown = await preview() if consent.how == "preview" else ""
        return respond(
            render.deletion_pending(
                kind, target_id, shown, consent.how, consent.code, consent.approval, consent.approve_at
            )
        )
    await delete()
    return respond(render.deleted(kind, target_id, consent.how))
