"""The vendored forwarding schema (tests/fixtures/forwarding-2026-08.schema.json) and
validators for its request body and its answers, like schema_util does for the DFY subset."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SCHEMA_PATH = (
    Path(__file__).resolve().parent.parent
    / "fixtures"
    / "forwarding-2026-08.schema.json"
)
PATH = "/api/v2/domains/{domain}/forwarding"
ROOT = "urn:instantly-forwarding"


@cache
def document() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text())


@cache
def _registry() -> Registry:
    return Registry().with_resource(
        ROOT, Resource.from_contents(document(), default_specification=DRAFT202012)
    )


def _validator(*parts: str) -> Draft202012Validator:
    pointer = "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)
    return Draft202012Validator({"$ref": f"{ROOT}#/{pointer}"}, registry=_registry())


def request_validator() -> Draft202012Validator:
    return _validator(
        "paths", PATH, "put", "requestBody", "content", "application/json", "schema"
    )


def path_param_validator() -> Draft202012Validator:
    return Draft202012Validator(document()["paths"][PATH]["parameters"][0]["schema"])


def request_errors(body: Any) -> list[str]:
    return [e.message for e in request_validator().iter_errors(body)]


def response_errors(method: str, status: int, body: Any) -> list[str]:
    """Violations of an answer: the declared response of that status, else for an error the
    envelope; for errors the statusCode must equal the HTTP status."""
    responses = document()["paths"][PATH][method.lower()]["responses"]
    if str(status) in responses:
        validator = _validator(
            "paths",
            PATH,
            method.lower(),
            "responses",
            str(status),
            "content",
            "application/json",
            "schema",
        )
    elif status >= 400:
        # Undeclared errors (injected 500s, 403 for a missing scope) are still the envelope.
        validator = _validator("components", "schemas", "Error")
    else:
        return [f"{method} does not declare HTTP {status}"]
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(body)
    ]
    if status >= 400 and isinstance(body, dict) and body.get("statusCode") != status:
        errors.append(f"statusCode {body.get('statusCode')} != HTTP {status}")
    return errors
