"""The event renderer on fixture models: in-project frames first-class, library runs collapsed, budgets explicit."""

from datetime import UTC, datetime, timedelta

from bugwarden.model import AppInfo, Breadcrumb, Event, ExceptionInfo, Frame
from bugwarden.render.events import COMPACT, FULL, Detail, event_sections

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def event_text(ev: Event, detail: Detail = COMPACT) -> str:
    return "\n\n".join(event_sections(ev, detail))


def event(frames: list[Frame], crumbs: int = 0, metadata: dict | None = None) -> Event:
    return Event(
        id="ev1",
        error_id="er1",
        project_id="p1",
        received_at=T0,
        exceptions=(ExceptionInfo("KeyError", "'total'", tuple(frames)), ExceptionInfo("ValueError", "bad input", ())),
        breadcrumbs=tuple(Breadcrumb(T0 - timedelta(seconds=i), f"crumb {i}", "log") for i in range(crumbs)),
        metadata=metadata or {},
        app=AppInfo(release_stage="production", version="1.2.3"),
        severity="error",
        unhandled=True,
    )


def lib(n: int) -> Frame:
    return Frame(file=f"site-packages/lib{n}.py", method="call", line=n, in_project=False)


def test_in_project_frames_lead_and_library_runs_collapse() -> None:
    frames = [
        Frame("app/cart.py", "total", 42, 5, True, {41: "a = 1", 42: "b = x['total']", 43: "c = 3"}),
        lib(1),
        lib(2),
        lib(3),
        Frame("app/views.py", "post", 7, None, None),
    ]
    text = event_text(event(frames))
    assert "→ app/cart.py:42:5 in total" in text
    assert ">   42 | b = x['total']" in text and "41 | a = 1" in text
    assert "… 4 library frames" in text  # in_project None counts as library
    assert "Caused by: ValueError: bad input" in text and "(no stack trace recorded)" in text


def test_budgets_say_what_they_left_out() -> None:
    frames = [Frame(f"app/f{i}.py", "m", i, None, True) for i in range(20)]
    text = event_text(event(frames, crumbs=30, metadata={"big": {f"k{i}": "v" * 500 for i in range(12)}}))
    assert "… 12 more in-project frames omitted" in text
    assert "… 18 earlier breadcrumbs omitted" in text and "crumb 0" in text and "crumb 29" not in text
    assert "… 4 more keys omitted" in text and "v" * 200 not in text


def test_full_detail_shows_more() -> None:
    frames = [Frame(f"app/f{i}.py", "m", i, None, True) for i in range(20)] + [lib(i) for i in range(5)]
    compact, full = event_text(event(frames, crumbs=30), COMPACT), event_text(event(frames, crumbs=30), FULL)
    assert "more in-project frames omitted" not in full and "· site-packages/lib0.py:0 in call" in full
    assert "library frame" not in full and "earlier breadcrumb" not in full  # every frame and breadcrumb
    assert "every frame and breadcrumb" in full and len(full) > len(compact)


def test_source_code_keeps_its_block_structure() -> None:
    code = {
        40: "    def total(self, cart):",
        41: "        try:",
        42: "            return cart['total']",
        43: "        except KeyError:",
        44: "\t\traise",
    }
    text = event_text(event([Frame("app/cart.py", "total", 42, None, True, code)]))
    assert "      40 | def total(self, cart):" in text
    assert "      41 |     try:" in text and "     >   42 |         return cart['total']" in text
    assert "      44 |     raise" in text  # tabs expanded to the same width


def test_unknown_facts_are_left_out_not_shown_as_placeholders() -> None:
    bare = Event(id="ev2", error_id=None, project_id="p1", received_at=None)
    text = event_text(bare)
    assert "?" not in text and "unknown" not in text and "**Event:** ev2" in text


def test_secret_looking_metadata_and_headers_are_withheld() -> None:
    ev = event([], metadata={"auth": {"api_key": "k-123", "Authorization": "Bearer x", "plain": "ok"}})
    text = event_text(ev)
    assert "k-123" not in text and "Bearer x" not in text and "plain: ok" in text
