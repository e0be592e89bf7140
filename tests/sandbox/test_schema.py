"""The sandbox's vendored request schemas and hand validator, proven against the published schema."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from sandbox import schema as vendored
from sandbox.schema import first_error
from tests.sandbox.schema_util import request_schema, strip_annotations
from tests.sandbox.strategies import body_strategy, json_values

VENDORED = {
    "/dfy-email-account-orders": vendored.ORDER_CREATE,
    "/dfy-email-account-orders/domains/similar": vendored.DOMAINS_SIMILAR,
    "/dfy-email-account-orders/domains/check": vendored.DOMAINS_CHECK,
    "/dfy-email-account-orders/domains/pre-warmed-up-list": vendored.PREWARMED_LIST,
    "/dfy-email-account-orders/accounts/cancel": vendored.ACCOUNTS_CANCEL,
}


@pytest.mark.parametrize("path", sorted(VENDORED))
def test_vendored_request_schema_equals_published(path):
    assert VENDORED[path] == strip_annotations(request_schema(path))


@pytest.mark.parametrize("path", sorted(VENDORED))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_validator_agrees_with_jsonschema(path, data):
    schema = VENDORED[path]
    reference = Draft202012Validator(request_schema(path))
    valid_body = data.draw(body_strategy(request_schema(path)), label="valid")
    junk = data.draw(json_values, label="junk")
    near_miss = dict(valid_body) if isinstance(valid_body, dict) else {}
    if near_miss:
        key = data.draw(st.sampled_from(sorted(near_miss)), label="key")
        near_miss[key] = data.draw(json_values, label="replacement")

    assert reference.is_valid(valid_body)
    assert first_error(schema, valid_body) is None
    for body in (junk, near_miss):
        assert (first_error(schema, body) is None) == reference.is_valid(body), body


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("/dfy-email-account-orders", None, "body must be object"),
        (
            "/dfy-email-account-orders",
            {"order_type": "dfy"},
            "body must have required property 'items'",
        ),
        (
            "/dfy-email-account-orders",
            {"items": [], "order_type": "new"},
            "body/order_type must be equal to one of the allowed values",
        ),
        (
            "/dfy-email-account-orders",
            {"items": "x", "order_type": "dfy"},
            "body/items must be array",
        ),
        (
            "/dfy-email-account-orders",
            {"items": [{}], "order_type": "dfy"},
            "body/items/0 must have required property 'domain'",
        ),
        (
            "/dfy-email-account-orders",
            {"items": [{"domain": "a.com", "email_provider": 4}], "order_type": "dfy"},
            "body/items/0/email_provider must be equal to one of the allowed values",
        ),
        (
            "/dfy-email-account-orders",
            {
                "items": [{"domain": "a.com", "email_provider": True}],
                "order_type": "dfy",
            },
            "body/items/0/email_provider must be number",
        ),
        (
            "/dfy-email-account-orders",
            {"items": [], "order_type": "dfy", "simulation": "true"},
            "body/simulation must be boolean",
        ),
        (
            "/dfy-email-account-orders/domains/check",
            {"domains": ["a.com"] * 51},
            "body/domains must NOT have more than 50 items",
        ),
        (
            "/dfy-email-account-orders/accounts/cancel",
            {"accounts": []},
            "body/accounts must NOT have fewer than 1 items",
        ),
        (
            "/dfy-email-account-orders/domains/similar",
            {"domain": "a.com", "tlds": ["net"]},
            "body/tlds/0 must be equal to one of the allowed values",
        ),
    ],
)
def test_validator_messages_are_ajv_style(path, body, message):
    assert first_error(VENDORED[path], body) == message


def test_validator_accepts_float_one_as_provider_like_json_schema():
    body = {"items": [{"domain": "a.com", "email_provider": 1.0}], "order_type": "dfy"}

    assert first_error(vendored.ORDER_CREATE, body) is None
