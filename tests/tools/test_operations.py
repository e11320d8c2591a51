"""BugSnag's error operations and snooze rules are written once (tools/operations.py), and the id pattern once
(backends/paths.py): the tools that offer them and the checks that refuse them all read the same table."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from bugwarden.backends.coerce import ident
from bugwarden.backends.paths import is_id
from bugwarden.services import sdk_tool
from bugwarden.tools.operations import OPERATION_FIELDS, OPERATIONS, SNOOZE_COMPANIONS, chosen, operation_takes
from bugwarden.tools.params import SNOOZE_RULE

SRC = Path(__file__).parents[2] / "src" / "bugwarden"
SNOOZE_PARAMETERS = ("reopen_if", *(n for names in SNOOZE_COMPANIONS.values() for n in names))


def properties(tool: str) -> dict[str, dict[str, object]]:
    schema = sdk_tool(tool).parameters
    return {name: prop for name, prop in schema["properties"].items()}


def choices(prop: dict[str, object]) -> set[str]:
    """The enum of an optional or required Literal property."""
    options = prop.get("anyOf", [prop])
    assert isinstance(options, list)
    return {value for option in options for value in option.get("enum", [])}


def test_each_tool_offers_exactly_the_operations_the_table_gives_it() -> None:
    assert choices(properties("update_error")["operation"]) == {n for n, op in OPERATIONS.items() if op.single}
    assert choices(properties("bulk_update_errors")["operation"]) == {n for n, op in OPERATIONS.items() if op.bulk}
    assert choices(properties("update_error")["reopen_if"]) == set(SNOOZE_COMPANIONS)


def test_the_snooze_parameters_are_the_same_in_both_tools() -> None:
    single, bulk = properties("update_error"), properties("bulk_update_errors")
    assert {n: single[n] for n in SNOOZE_PARAMETERS} == {n: bulk[n] for n in SNOOZE_PARAMETERS}


def test_every_operation_argument_is_a_parameter_of_the_tools_that_offer_it() -> None:
    single, bulk = properties("update_error"), properties("bulk_update_errors")
    for name, op in OPERATIONS.items():
        every = operation_takes(name, {}) + (SNOOZE_PARAMETERS if name == "snooze" else ())
        assert not op.single or set(every) <= set(single), name
        assert not op.bulk or set(every) <= set(bulk), name
    assert set(OPERATION_FIELDS) <= set(single)


def test_the_operation_arguments_are_read_from_the_parameters_by_name() -> None:
    parameters = {"error_id": "e1", "operation": "snooze", "reopen_if": "occurs_after", "seconds": 60, "confirm": "x"}
    assert chosen(parameters) == {"operation": "snooze", "reopen_if": "occurs_after", "seconds": 60}


def test_the_id_pattern_is_written_once() -> None:
    written = [
        path.relative_to(SRC)
        for path in SRC.rglob("*.py")
        if "sandbox" not in path.parts and "[A-Za-z0-9][A-Za-z0-9_.:@+-]{0,199}" in path.read_text()
    ]
    assert [str(p) for p in written] == ["backends/paths.py"]


def test_an_upstream_id_is_kept_exactly_when_it_could_be_a_path_segment() -> None:
    for value in ("abc", "5f0c1a", "a.b:c@d+e-f_g", "x" * 200, "x" * 201, "a..b", "../x", "a/b", "", "-a", "é"):
        assert (ident(value) == value) is is_id(value), value
    assert re.fullmatch(r"\d+", ident(123) or "")


def test_the_snooze_rule_is_declared_once_and_names_every_companion() -> None:
    assert list(SNOOZE_RULE) == list(SNOOZE_PARAMETERS)
    declared = [
        f"{path.name}:{node.name}"
        for path in (SRC / "tools").glob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.AsyncFunctionDef | ast.FunctionDef)
        and any(arg.arg in SNOOZE_RULE for arg in node.args.args + node.args.kwonlyargs)
    ]
    assert declared == []
