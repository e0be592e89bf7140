"""Request-body schemas of the DFY endpoints and a small validator for them.

The schemas are vendored data: a copy of the request bodies in Instantly's published OpenAPI
document (2026-08), with examples and prose removed. tests/sandbox/test_schema.py proves the
copy equal to tests/fixtures/openapi-dfy.schema.json and the validator's verdicts equal
jsonschema's, so jsonschema stays a test-only dependency.

Messages copy the wording of Ajv, the validator behind Instantly's examples
("body must have required property 'items'"). Like Ajv without allErrors, only the first
problem is reported; unlike Instantly's Fastify defaults, nothing is coerced.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

Schema = Mapping[str, Any]

_ACCOUNT = {
    "type": "object",
    "properties": {
        "email_address_prefix": {"type": "string"},
        "first_name": {"type": "string"},
        "last_name": {"type": "string"},
    },
    "required": ["email_address_prefix", "first_name", "last_name"],
}

ORDER_CREATE: Schema = {
    "type": "object",
    "properties": {
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "domain": {"type": "string"},
                    "email_provider": {
                        "type": "number",
                        "enum": [1, 2, 3],
                        "default": 1,
                    },
                    "forwarding_domain": {"type": "string"},
                    "accounts": {
                        "type": "array",
                        "items": _ACCOUNT,
                        "default": [],
                        "maxItems": 100,
                    },
                },
                "required": ["domain"],
            },
        },
        "order_type": {
            "type": "string",
            "enum": ["dfy", "pre_warmed_up", "extra_accounts"],
        },
        "simulation": {"type": "boolean", "default": False},
    },
    "required": ["items", "order_type"],
}

DOMAINS_SIMILAR: Schema = {
    "type": "object",
    "properties": {
        "domain": {"type": "string"},
        # "maximum" on a string is a no-op in JSON Schema; kept because it is in the source.
        "tlds": {
            "type": "array",
            "items": {"type": "string", "enum": ["com", "org"], "maximum": 2},
            "default": ["com", "org"],
        },
    },
    "required": ["domain"],
}

DOMAINS_CHECK: Schema = {
    "type": "object",
    "properties": {
        "domains": {"type": "array", "items": {"type": "string"}, "maxItems": 50}
    },
    "required": ["domains"],
}

PREWARMED_LIST: Schema = {
    "type": "object",
    "properties": {
        "extensions": {
            "type": "array",
            "items": {"type": "string", "enum": ["com", "org", "co"]},
            "default": ["com", "org", "co"],
        },
        "search": {"type": "string"},
    },
}

ACCOUNTS_CANCEL: Schema = {
    "type": "object",
    "properties": {
        "accounts": {"type": "array", "items": {"type": "string"}, "minItems": 1}
    },
    "required": ["accounts"],
}


def _is_number(value: object) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _is_integer(value: object) -> bool:
    # Never int() a parsed Decimal: "1e999999999" would become a billion-digit integer.
    if isinstance(value, float):
        return value.is_integer()
    if isinstance(value, Decimal):
        return value.is_finite() and value == value.to_integral_value()
    return isinstance(value, int) and not isinstance(value, bool)


def _has_type(value: object, name: str) -> bool:
    if name == "integer":
        return _is_integer(value)
    checks: dict[str, bool] = {
        "object": isinstance(value, dict),
        "array": isinstance(value, list),
        "string": isinstance(value, str),
        "boolean": isinstance(value, bool),
        "number": _is_number(value),
        "null": value is None,
    }
    return checks[name]


def _equal(left: object, right: object) -> bool:
    # As in JSON Schema, true is not 1 although Python says so.
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    return left == right


def first_error(schema: Schema, value: object, path: str = "body") -> str | None:
    """The first way `value` breaks `schema`, as an Ajv-style message; None when it is valid.

    Knows the keywords the DFY request bodies use: type, enum, required, properties, items,
    minItems, maxItems, minimum, maximum (default is an annotation).
    """
    types = schema.get("type")
    if types is not None:
        names: Sequence[str] = [types] if isinstance(types, str) else types
        if not any(_has_type(value, name) for name in names):
            return f"{path} must be {','.join(names)}"
    if "enum" in schema and not any(
        _equal(value, allowed) for allowed in schema["enum"]
    ):
        return f"{path} must be equal to one of the allowed values"
    if isinstance(value, dict):
        for name in schema.get("required", ()):
            if name not in value:
                return f"{path} must have required property '{name}'"
        for name, subschema in schema.get("properties", {}).items():
            if name in value and (
                error := first_error(subschema, value[name], f"{path}/{name}")
            ):
                return error
    if isinstance(value, list):
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            return f"{path} must NOT have more than {schema['maxItems']} items"
        if "minItems" in schema and len(value) < schema["minItems"]:
            return f"{path} must NOT have fewer than {schema['minItems']} items"
        if "items" in schema:
            for index, item in enumerate(value):
                if error := first_error(schema["items"], item, f"{path}/{index}"):
                    return error
    if _is_number(value):
        if "maximum" in schema and value > schema["maximum"]:
            return f"{path} must be <= {schema['maximum']}"
        if "minimum" in schema and value < schema["minimum"]:
            return f"{path} must be >= {schema['minimum']}"
    return None
