"""The published DFY schema (test data) and validators for its request and response schemas."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SCHEMA_PATH = (
    Path(__file__).resolve().parent.parent / "fixtures" / "openapi-dfy.schema.json"
)
ROOT = "urn:instantly-dfy"
ANNOTATIONS = {"example", "examples", "x-enumDescriptions"}

# Our sandbox path (after /sandbox/api/v2) -> the published path.
PUBLISHED = {
    "/dfy-email-account-orders": "/api/v2/dfy-email-account-orders",
    "/dfy-email-account-orders/domains/similar": "/api/v2/dfy-email-account-orders/domains/similar",
    "/dfy-email-account-orders/domains/check": "/api/v2/dfy-email-account-orders/domains/check",
    "/dfy-email-account-orders/domains/pre-warmed-up-list": "/api/v2/dfy-email-account-orders/domains/pre-warmed-up-list",
    "/dfy-email-account-orders/accounts": "/api/v2/dfy-email-account-orders/accounts",
    "/dfy-email-account-orders/accounts/cancel": "/api/v2/dfy-email-account-orders/accounts/cancel",
    "/workspaces/current": "/api/v2/workspaces/current",
    "/accounts": "/api/v2/accounts",
    "/accounts/{email}": "/api/v2/accounts/{email}",
}

# DFY operations do not declare 400/403/413/5xx; those answers must still be the envelope.
ENVELOPE = {
    "type": "object",
    "properties": {
        "statusCode": {"type": "number"},
        "error": {"type": "string"},
        "message": {"type": "string"},
    },
    "required": ["statusCode", "error", "message"],
}


@cache
def document() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text())


@cache
def _registry() -> Registry:
    return Registry().with_resource(
        ROOT, Resource.from_contents(document(), default_specification=DRAFT202012)
    )


def _pointer(*parts: str) -> str:
    return "/".join(part.replace("~", "~0").replace("/", "~1") for part in parts)


def validator_at(*parts: str) -> Draft202012Validator:
    """A validator for the schema at a JSON pointer into the document; its $refs to
    #/components/... resolve against the whole document."""
    schema = {"$ref": f"{ROOT}#/{_pointer(*parts)}"}
    return Draft202012Validator(
        schema, registry=_registry(), format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def operation(path: str, method: str) -> dict[str, Any]:
    return document()["paths"][PUBLISHED[path]][method.lower()]


def request_schema(path: str, method: str = "post") -> dict[str, Any]:
    return operation(path, method)["requestBody"]["content"]["application/json"][
        "schema"
    ]


def strip_annotations(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            k: strip_annotations(v) for k, v in node.items() if k not in ANNOTATIONS
        }
    if isinstance(node, list):
        return [strip_annotations(v) for v in node]
    return node


def response_errors(path: str, method: str, status: int, body: Any) -> list[str]:
    """Schema violations of a sandbox answer: against the declared response of that status,
    or against the error envelope when the operation does not declare it."""
    responses = operation(path, method)["responses"]
    if str(status) in responses:
        validator = validator_at(
            "paths",
            PUBLISHED[path],
            method.lower(),
            "responses",
            str(status),
            "content",
            "application/json",
            "schema",
        )
    else:
        assert status >= 400, f"undeclared success status {status}"
        validator = Draft202012Validator(ENVELOPE)
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(body)
    ]
    if status >= 400 and isinstance(body, dict):
        # Every error, declared or not, is Instantly's envelope with the reason phrase.
        errors += [
            f"envelope: {e.message}"
            for e in Draft202012Validator(ENVELOPE).iter_errors(body)
        ]
        if body.get("statusCode") != status:
            errors.append(f"statusCode {body.get('statusCode')} != HTTP {status}")
    return errors
