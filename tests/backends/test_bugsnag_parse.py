"""Lenient parsing of the shapes BugSnag really sends (bugsnag-api.md section 10), not only the spec's."""

from datetime import UTC, datetime

from bugwarden.backends import bugsnag_parse as parse


def test_events_accept_snake_and_camel_case() -> None:
    camel = parse.event(
        {
            "id": "e",
            "receivedAt": "2017-12-12T10:58:55.000Z",
            "exceptions": [
                {
                    "errorClass": "TypeError",
                    "message": "m",
                    "stacktrace": [
                        {"file": "a.js", "lineNumber": "12", "columnNumber": None, "inProject": None, "method": "f"}
                    ],
                }
            ],
        }
    )
    snake = parse.event(
        {
            "id": "e",
            "received_at": "2021-07-08T14:26:55+00:00",
            "exceptions": [
                {
                    "error_class": "TypeError",
                    "message": "m",
                    "stacktrace": [
                        {
                            "file": "a.js",
                            "line_number": 12,
                            "column_number": 7,
                            "in_project": True,
                            "method": "f",
                            "code": {"11": "x", "12": "y", "junk": 3},
                        }
                    ],
                }
            ],
        }
    )
    assert camel is not None and snake is not None
    assert camel.received_at == datetime(2017, 12, 12, 10, 58, 55, tzinfo=UTC)
    assert snake.received_at == datetime(2021, 7, 8, 14, 26, 55, tzinfo=UTC)
    assert camel.exceptions[0].error_class == snake.exceptions[0].error_class == "TypeError"
    assert camel.exceptions[0].frames[0].line == 12 and camel.exceptions[0].frames[0].in_project is None
    assert snake.exceptions[0].frames[0].code == {11: "x", 12: "y"}


def test_pivots_accept_the_nested_and_the_flat_summary() -> None:
    nested = parse.pivot(
        {
            "event_field_display_id": "app.release_stage",
            "name": "Release stages",
            "cardinality": 2,
            "summary": {"list": [{"value": "production", "events": 40}], "no_value": 0, "other": 3},
        }
    )
    flat = parse.pivot(
        {"event_field_display_id": "app.release_stage", "list": [{"value": "production", "events": 40}], "other": 3}
    )
    assert nested.values == flat.values and nested.other == flat.other == 3


def test_errors_tolerate_missing_wrong_and_unknown_fields() -> None:
    error = parse.error_group(
        {
            "id": "x",
            "errorClass": "E",
            "events": "9007199254740993",
            "users": 2.0,
            "first_seen": "not a time",
            "status": "in progress",
            "brand_new": [1],
        },
        "p",
    )
    assert error is not None
    assert (error.error_class, error.events, error.users, error.first_seen, error.project_id) == (
        "E",
        9007199254740993,
        2,
        None,
        "p",
    )
    assert error.status == "in progress" and error.message == ""


def test_project_ids_come_from_urls_when_absent() -> None:
    event = parse.event({"id": "e", "project_url": "https://api.bugsnag.com/projects/abc123"})
    assert event is not None and event.project_id == "abc123"


def test_error_bodies_keep_code_and_reduce_the_message() -> None:
    assert parse.error_body({"errors": ["Unable to return complete results"], "code": 60000}) == (
        60000,
        "Unable to return complete results",
    )
    assert parse.error_body("<html>") == (None, None)
