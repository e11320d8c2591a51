"""get_bug_context's top values: complete, or saying what was left out and how to get it."""

from __future__ import annotations

from bugwarden.model import BugContext, ErrorGroup, Pivot, PivotValue
from bugwarden.render.context import bug_context


def context(*pivots: Pivot) -> str:
    error = ErrorGroup(id="e1", project_id="p1", error_class="TypeError", message="x")
    return bug_context(BugContext(error=error, pivots=pivots)).text


def values(*pairs: tuple[str, int]) -> tuple[PivotValue, ...]:
    return tuple(PivotValue(v, n) for v, n in pairs)


def test_a_field_with_few_values_is_listed_whole() -> None:
    browsers = Pivot(
        "browser.name",
        "Browsers",
        4,
        values(("Chrome", 120), ("Firefox", 40), ("Safari", 30), ("Edge", 2)),
        other=0,
    )
    text = context(browsers)
    assert "Browsers: Chrome 120, Firefox 40, Safari 30, Edge 2\n" in text
    assert "more value" not in text and "list_pivot_values" not in text


def test_a_cut_list_says_how_many_values_and_events_are_left_and_where_to_get_them() -> None:
    os = Pivot("os.name", "Operating systems", 8, values(*((f"os{i}", 10 - i) for i in range(5))), other=9)
    text = context(os)
    assert "os4 6; 3 more values (9 events)" in text
    assert "Every value of os.name: `list_pivot_values`" in text


def test_events_without_a_value_are_counted() -> None:
    text = context(Pivot("app.version", "App versions", 1, values(("1.0", 5)), other=0, no_value=3))
    assert "App versions: 1.0 5; no value: 3 events" in text
