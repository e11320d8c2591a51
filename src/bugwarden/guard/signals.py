"""The `SignalReader` over the store: signal rows (store/signals.py) as `model.Signal`s, for list_signals, the
signals resource, the console and `bugwarden hooks tail`. Reads only; never an upstream."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from ..model import Page, Signal, SignalQuery
from ..store.hooks import HookStore
from ..store.signals import SignalStore


def _time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def to_signal(row: dict[str, Any]) -> Signal:
    detail = json.loads(row.get("detail") or "{}")
    return Signal(
        seq=int(row["seq"]),
        project_id=str(row["project_id"]),
        trigger=str(row["trigger_type"]),
        triggers=tuple(t for t in str(row["triggers"]).split(",") if t),
        received_at=_time(row["received_at"]) or datetime.fromtimestamp(float(row["received"]), UTC),
        source=str(row["source"]),
        trigger_message=row.get("trigger_message"),
        error_id=row.get("error_id"),
        event_id=row.get("event_id"),
        error_class=row.get("error_class"),
        message=row.get("message"),
        context=row.get("context"),
        release_stage=row.get("release_stage"),
        app_version=row.get("app_version"),
        severity=row.get("severity"),
        unhandled=None if row.get("unhandled") is None else bool(row["unhandled"]),
        status=row.get("status"),
        occurrences=None if row.get("occurrences") is None else int(row["occurrences"]),
        first_seen=_time(row.get("first_seen")),
        last_seen=_time(row.get("last_seen")),
        dashboard_url=row.get("dashboard_url"),
        detail={str(k): str(v) for k, v in detail.items()} if isinstance(detail, dict) else {},
        test=bool(row.get("test")),
    )


class StoredSignals:
    """The `SignalReader` over the store."""

    def __init__(self, signals: SignalStore, hooks: HookStore) -> None:
        self.store = signals
        self.hooks = hooks

    def signals(self, query: SignalQuery, before: int | None) -> Page[Signal]:
        rows, after = self.store.page(
            projects=query.projects,
            project_id=query.project_id,
            trigger=query.trigger,
            release_stage=query.release_stage,
            since=query.since.timestamp() if query.since else None,
            before=before,
            limit=query.limit,
        )
        return Page(items=tuple(to_signal(r) for r in rows), next=str(after) if after is not None else None)

    def configured(self) -> bool:
        return bool(self.hooks.list()) or self.store.latest_seq() > 0
