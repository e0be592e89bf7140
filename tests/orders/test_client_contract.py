"""Contract tests: what the client sends, and the recorded bodies it reads, match the published
OpenAPI schema in tests/fixtures/openapi-dfy.schema.json."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from orders.instantly import InstantlyClient, InstantlyError

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
SCHEMA = json.loads((FIXTURES / "openapi-dfy.schema.json").read_text())
REGISTRY = Registry().with_resource(
    "urn:dfy", Resource.from_contents(SCHEMA, default_specification=DRAFT202012)
)
PREFIX = "/api/v2/"

ORDERS = "/api/v2/dfy-email-account-orders"
PAYLOADS = {
    "dfy": {
        "order_type": "dfy",
        "items": [
            {
                "domain": "acme-mail.com",
                "email_provider": 1,
                "forwarding_domain": "acme.com",
                "accounts": [
                    {
                        "email_address_prefix": "jane",
                        "first_name": "Jane",
                        "last_name": "Roe",
                    },
                    {
                        "email_address_prefix": "john",
                        "first_name": "John",
                        "last_name": "Roe",
                    },
                ],
            }
        ],
    },
    "pre_warmed_up": {
        "order_type": "pre_warmed_up",
        "items": [{"domain": "acme-ready.com", "email_provider": 2}],
    },
    "extra_accounts": {
        "order_type": "extra_accounts",
        "items": [
            {
                "domain": "acme-mail.com",
                "email_provider": 1,
                "accounts": [
                    {
                        "email_address_prefix": "ann",
                        "first_name": "Ann",
                        "last_name": "Lee",
                    }
                ],
            }
        ],
    },
}


def _escape(token):
    return token.replace("~", "~0").replace("/", "~1")


def operation(path, method):
    return SCHEMA["paths"][path][method]


def validator(path, method, *pointer):
    tokens = ["paths", path, method, *pointer]
    ref = "urn:dfy#/" + "/".join(_escape(t) for t in tokens)
    return Draft202012Validator({"$ref": ref}, registry=REGISTRY)


def request_validator(path, method):
    return validator(
        path, method, "requestBody", "content", "application/json", "schema"
    )


def response_validator(path, method, status):
    return validator(
        path, method, "responses", str(status), "content", "application/json", "schema"
    )


def assert_valid(v, instance):
    errors = sorted(v.iter_errors(instance), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]


def assert_query_valid(request):
    op = operation(request.url.path, request.method.lower())
    declared = {p["name"]: p for p in op.get("parameters", []) if p["in"] == "query"}
    for name, raw in request.url.params.multi_items():
        assert name in declared, f"undeclared query parameter {name}"
        schema_type = declared[name]["schema"]["type"]
        value = {
            "integer": int,
            "boolean": lambda s: {"true": True, "false": False}[s],
            "string": str,
        }[schema_type](raw)
        assert_valid(Draft202012Validator(declared[name]["schema"]), value)


class Recorder:
    """Answers every request with a schema-valid recorded body for its operation."""

    ANSWERS = {
        (
            "POST",
            "/api/v2/dfy-email-account-orders",
        ): None,  # decided by the simulation flag
        ("GET", "/api/v2/dfy-email-account-orders"): "orders_page_2",
        ("GET", "/api/v2/dfy-email-account-orders/accounts"): "accounts_page_2",
        (
            "POST",
            "/api/v2/dfy-email-account-orders/accounts/cancel",
        ): "accounts_cancelled",
        ("POST", "/api/v2/dfy-email-account-orders/domains/check"): "domains_check",
        ("POST", "/api/v2/dfy-email-account-orders/domains/similar"): "domains_similar",
        (
            "POST",
            "/api/v2/dfy-email-account-orders/domains/pre-warmed-up-list",
        ): "pre_warmed",
    }

    def __init__(self):
        self.requests = []

    def __call__(self, request):
        self.requests.append(request)
        name = self.ANSWERS[(request.method, request.url.path)]
        if name is None:
            simulated = json.loads(request.content)["simulation"]
            name = "order_simulation_valid" if simulated else "order_placed"
        return httpx.Response(200, text=(FIXTURES / "api" / f"{name}.json").read_text())


@pytest.fixture
def recorder():
    return Recorder()


@pytest.fixture
def client(recorder):
    with InstantlyClient(
        api_key="sk_test_contract_key_0000",
        base_url="https://api.instantly.test/api/v2",
        limiter_bucket="contract",
        transport=httpx.MockTransport(recorder),
        sleep=lambda s: None,
    ) as c:
        yield c


def exercise_every_method(client):
    client.verify()
    client.check_domains(["acme-mail.com", "acme-hq.org"])
    client.similar_domains("acme.com")
    client.similar_domains("acme.com", tlds=["com"])
    client.pre_warmed_domains()
    client.pre_warmed_domains(extensions=["com", "org", "co"], search="acme")
    for payload in PAYLOADS.values():
        client.simulate_order(payload)
    client.place_order(PAYLOADS["dfy"])
    list(client.iter_orders(page_size=100))
    list(client.iter_orders(page_size=1))
    list(client.iter_accounts(with_passwords=True))
    list(client.iter_accounts(page_size=50))
    client.cancel_accounts(["ann@acme-air.com", "bob@acme-air.com"])


def test_every_request_body_matches_its_operation_schema(client, recorder):
    exercise_every_method(client)

    bodies = [r for r in recorder.requests if r.method == "POST"]
    assert len(bodies) == 10
    for request in bodies:
        assert request.headers["Content-Type"] == "application/json"
        assert_valid(
            request_validator(request.url.path, "post"), json.loads(request.content)
        )


def test_every_query_matches_its_declared_parameters(client, recorder):
    exercise_every_method(client)

    gets = [r for r in recorder.requests if r.method == "GET"]
    assert len(gets) == 5
    for request in gets:
        assert_query_valid(request)


def test_every_called_path_is_a_published_dfy_operation(client, recorder):
    exercise_every_method(client)

    called = {(r.method.lower(), r.url.path) for r in recorder.requests}
    for method, path in called:
        assert method in SCHEMA["paths"][path]
    assert len(called) == 7


def test_request_validation_catches_what_the_client_must_never_send():
    v = request_validator(ORDERS, "post")

    assert not v.is_valid({"items": []})
    assert not v.is_valid({"order_type": "dfy", "items": [{"email_provider": 1}]})
    assert not request_validator(
        "/api/v2/dfy-email-account-orders/domains/check", "post"
    ).is_valid({"domains": [f"d{i}.com" for i in range(51)]})
    assert not request_validator(
        "/api/v2/dfy-email-account-orders/accounts/cancel", "post"
    ).is_valid({"accounts": []})


RESPONSES = [
    ("order_simulation_valid", ORDERS, "post", 200),
    ("order_simulation_mixed", ORDERS, "post", 200),
    ("order_simulation_future_fields", ORDERS, "post", 200),
    ("order_placed", ORDERS, "post", 200),
    ("order_refused", ORDERS, "post", 200),
    ("order_payment_failed", ORDERS, "post", 200),
    ("orders_page_1", ORDERS, "get", 200),
    ("orders_page_2", ORDERS, "get", 200),
    ("accounts_page_1", "/api/v2/dfy-email-account-orders/accounts", "get", 200),
    ("accounts_page_2", "/api/v2/dfy-email-account-orders/accounts", "get", 200),
    (
        "accounts_cancelled",
        "/api/v2/dfy-email-account-orders/accounts/cancel",
        "post",
        200,
    ),
    ("domains_check", "/api/v2/dfy-email-account-orders/domains/check", "post", 200),
    (
        "domains_similar",
        "/api/v2/dfy-email-account-orders/domains/similar",
        "post",
        200,
    ),
    (
        "domains_similar_restricted",
        "/api/v2/dfy-email-account-orders/domains/similar",
        "post",
        400,
    ),
    (
        "pre_warmed",
        "/api/v2/dfy-email-account-orders/domains/pre-warmed-up-list",
        "post",
        200,
    ),
    (
        "pre_warmed_legacy",
        "/api/v2/dfy-email-account-orders/domains/pre-warmed-up-list",
        "post",
        200,
    ),
    (
        "pre_warmed_empty",
        "/api/v2/dfy-email-account-orders/domains/pre-warmed-up-list",
        "post",
        200,
    ),
    ("sending_accounts_page", "/api/v2/accounts", "get", 200),
    ("sending_account", "/api/v2/accounts/{email}", "get", 200),
    ("sending_account_404", "/api/v2/accounts/{email}", "get", 404),
    ("error_401", ORDERS, "get", 401),
    ("error_402", ORDERS, "post", 402),
    ("error_404", ORDERS, "get", 404),
    ("error_429", "/api/v2/dfy-email-account-orders/domains/check", "post", 429),
]


@pytest.mark.parametrize(
    ("name", "path", "method", "status"), RESPONSES, ids=[r[0] for r in RESPONSES]
)
def test_recorded_bodies_match_the_published_response_schema(
    name, path, method, status
):
    instance = json.loads((FIXTURES / "api" / f"{name}.json").read_text())

    assert_valid(response_validator(path, method, status), instance)


def test_403_body_has_the_common_error_envelope():
    # 403 is not declared on DFY operations, so check it against the envelope every error uses.
    envelope = operation(ORDERS, "get")["responses"]["401"]["content"][
        "application/json"
    ]["schema"]
    shape = {
        "type": "object",
        "required": envelope["required"],
        "properties": {k: {} for k in envelope["properties"]},
    }
    instance = json.loads((FIXTURES / "api" / "error_403.json").read_text())

    assert_valid(Draft202012Validator(shape), instance)
    assert instance["statusCode"] == 403


def test_every_recorded_fixture_is_covered():
    recorded = {p.stem for p in (FIXTURES / "api").glob("*.json")}

    assert recorded == {r[0] for r in RESPONSES} | {"error_403"}


def test_schema_examples_of_the_order_answer_parse(client, recorder):
    """The published examples (the shape live Instantly documents) go through the parser."""
    schema = operation(ORDERS, "post")["responses"]["200"]["content"][
        "application/json"
    ]["schema"]
    example = {
        name: prop["example"]
        for name, prop in schema["properties"].items()
        if "example" in prop
    }
    example.update(simulation=True, order_placed=False, order_items=[])
    with InstantlyClient(
        api_key="sk_test_contract_key_0000",
        base_url="https://api.instantly.test/api/v2",
        limiter_bucket="contract",
        transport=httpx.MockTransport(
            lambda request: httpx.Response(200, json=example)
        ),
    ) as c:
        try:
            result = c.simulate_order(PAYLOADS["dfy"])
        except (
            InstantlyError
        ) as exc:  # pragma: no cover - the assertion below explains it
            pytest.fail(f"published example rejected: {exc}")

    assert result.payment_method_brand == "Visa"
    assert result.unavailable_email_providers == (2,)
