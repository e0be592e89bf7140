"""The sandbox's request-body validator at its edges: the same verdicts and Ajv-style messages
as Instantly's validator for integers written as floats or decimals, booleans that Python
counts as numbers, lists too long or too short, and numbers out of range."""

from __future__ import annotations

from decimal import Decimal

import pytest

from sandbox.schema import first_error

COUNT = {"type": "integer", "minimum": 1, "maximum": 5}
FLAG = {"type": ["boolean", "null"]}
CHOICE = {"enum": [1, "one"]}
NAMES = {"type": "array", "minItems": 1, "maxItems": 2, "items": {"type": "string"}}


@pytest.mark.parametrize(
    ("schema", "value", "error"),
    [
        (COUNT, 3, None),
        (COUNT, 3.0, None),  # JSON has one number type: 3.0 is an integer
        (COUNT, Decimal("3"), None),
        (COUNT, 3.5, "body must be integer"),
        (COUNT, Decimal("3.5"), "body must be integer"),
        (COUNT, Decimal("Infinity"), "body must be integer"),
        (COUNT, True, "body must be integer"),  # true is not 1
        (COUNT, 0, "body must be >= 1"),
        (COUNT, 6, "body must be <= 5"),
        (FLAG, None, None),
        (FLAG, False, None),
        (FLAG, 0, "body must be boolean,null"),
        (CHOICE, 1, None),
        (CHOICE, True, "body must be equal to one of the allowed values"),
        (CHOICE, "two", "body must be equal to one of the allowed values"),
        (NAMES, ["a"], None),
        (NAMES, [], "body must NOT have fewer than 1 items"),
        (NAMES, ["a", "b", "c"], "body must NOT have more than 2 items"),
        (NAMES, ["a", 2], "body/1 must be string"),
        ({"type": "number"}, "1", "body must be number"),
        ({"type": "number", "maximum": 1.5}, Decimal("1.5"), None),
    ],
)
def test_verdicts_match_instantlys_validator(schema, value, error) -> None:
    assert first_error(schema, value) == error


def test_nested_errors_name_the_path() -> None:
    schema = {
        "type": "object",
        "required": ["items"],
        "properties": {"items": {"type": "array", "items": COUNT}},
    }
    assert first_error(schema, {}) == "body must have required property 'items'"
    assert first_error(schema, {"items": [1, 9]}) == "body/items/1 must be <= 5"
    assert first_error(schema, {"items": [1], "other": "ignored"}) is None
