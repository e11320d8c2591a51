"""Signals (what a tracker's webhook pushed) as a list an agent reads: newest first, one line each, ids ready for
the error tools, and a reminder that a signal is a hint to be confirmed with get_error."""

from __future__ import annotations

from ..model import Signal
from . import vocab
from .answer import Answer
from .events import headline
from .outputs import SignalList, SignalRef
from .refs import iso, untrusted
from .text import NOTICE, fence, inline, joined, plural, when

TRIGGER_WORDS = {
    "firstException": "new error",
    "exception": "event",
    "reopened": "reopened",
    "powerTen": "milestone",
    "errorEventFrequency": "frequent",
    "projectSpiking": "project spiking",
    "release": "new release",
    "comment": "comment",
    "errorStateManualChange": "state changed",
    "projectSamplingStarted": "sampling started",
    "projectApproachingRateLimit": "near rate limit",
}


def trigger_words(signal: Signal) -> str:
    """`new error (firstException, exception)`: ours for known triggers, the bare name for unknown ones."""
    known = TRIGGER_WORDS.get(signal.trigger)
    names = ", ".join(signal.triggers)
    return f"{known} ({names})" if known else f"trigger {inline(signal.trigger, 50)}"


def summary(signal: Signal) -> str:
    """The one-line summary of a signal (upstream words cleaned; shown inside a fence)."""
    detail = signal.detail
    if signal.error_class or signal.message:
        what = headline(signal.error_class or "", signal.message or "", 120)
    elif signal.trigger == "release":
        what = joined(
            f"release {inline(detail['release_version'], 40)}" if detail.get("release_version") else "a release",
            f"by {inline(detail['released_by'], 40)}" if detail.get("released_by") else None,
            sep=" ",
        )
    else:
        what = inline(signal.trigger_message or "", 120) or "(no details)"
    extras = joined(
        f"[{inline(signal.context, 60)}]" if signal.context else None,
        f"at {inline(detail['where'], 80)}" if detail.get("where") else None,
        f"now {inline(detail['state_change'], 20)}" if detail.get("state_change") else None,
        f"by {inline(detail['by'], 40)}" if detail.get("by") and signal.trigger != "release" else None,
        f"comment: {inline(detail['comment'], 100)}" if detail.get("comment") else None,
        sep=" ",
    )
    return f"{what} {extras}".strip()


def signal_line(signal: Signal) -> str:
    facts = joined(
        when(signal.received_at),
        trigger_words(signal),
        "TEST DELIVERY" if signal.test else None,
        f"project {signal.project_id}",
        f"error_id {signal.error_id}" if signal.error_id and not signal.test else None,
        f"event_id {signal.event_id}" if signal.event_id and not signal.test else None,
        inline(signal.release_stage, 30) if signal.release_stage else None,
        f"v{inline(signal.app_version, 30)}" if signal.app_version else None,
        ("unhandled " if signal.unhandled else "handled " if signal.unhandled is False else "")
        + (signal.severity or "")
        if signal.severity or signal.unhandled is not None
        else None,
        plural(signal.occurrences, "event") if signal.occurrences is not None else None,
    )
    return f"- {facts}\n  {summary(signal)}"


def signal_ref(signal: Signal) -> SignalRef:
    """Bare fields hold ids, times, counts and words of a known vocabulary (trigger names we know, BugSnag
    statuses); a trigger name we do not know and the release stage are the sender's text, under `untrusted`."""
    triggers = TRIGGER_WORDS.keys()
    unknown = [t for t in signal.triggers if t not in triggers]
    return SignalRef(
        seq=signal.seq,
        project_id=signal.project_id,
        trigger=signal.trigger if signal.trigger in triggers else vocab.UNRECOGNISED,
        triggers=[t for t in signal.triggers if t in triggers],
        received_at=iso(signal.received_at) or "",
        test=signal.test,
        error_id=signal.error_id,
        event_id=signal.event_id,
        severity=vocab.known(signal.severity, vocab.SEVERITIES),
        unhandled=signal.unhandled,
        status=vocab.known(signal.status, vocab.STATUSES),
        occurrences=signal.occurrences,
        first_seen=iso(signal.first_seen),
        last_seen=iso(signal.last_seen),
        untrusted=untrusted(
            summary=summary(signal),
            trigger_message=signal.trigger_message,
            error_class=signal.error_class,
            message=signal.message,
            context=signal.context,
            app_version=signal.app_version,
            dashboard_url=signal.dashboard_url,
            release_stage=signal.release_stage,
            triggers=unknown,
            **vocab.stray(status=(signal.status, vocab.STATUSES), severity=(signal.severity, vocab.SEVERITIES)),
        ),
    )


def signal_list(signals: tuple[Signal, ...], scope: str, cursor: str | None, filtered: bool, hooks: bool) -> Answer:
    """list_signals: the signals, newest first, with what to do next."""
    lines = [f"# Signals {scope} ({len(signals)}, newest first)"]
    if signals:
        lines += [NOTICE, fence("signals", "\n".join(signal_line(s) for s in signals))]
        lines.append(
            "\nSignals are what BugSnag's webhook pushed: hints, not verified facts. Before acting, read the real "
            "error with get_error (project_id and error_id as shown); test deliveries have placeholder ids that "
            "resolve to nothing."
        )
    elif not hooks:
        lines.append(
            "No signals: this server keeps none yet. An operator connects BugSnag's webhook with "
            "`bugwarden hooks add --project ID`; until then use list_errors with since."
        )
    else:
        lines.append(
            "No signals match."
            + (" Try a wider 'since' or fewer filters." if filtered else "")
            + " Nothing new was pushed; list_errors with since shows what BugSnag holds."
        )
    if cursor:
        lines.append(f"\nMore: call list_signals again with cursor={cursor}")
    return Answer("\n".join(lines), SignalList(signals=[signal_ref(s) for s in signals], next_cursor=cursor))
