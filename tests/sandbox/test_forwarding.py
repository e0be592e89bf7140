"""The sandbox's domain forwarding endpoints (Instantly, 2026-08-20): every answer checked
against the vendored schema, the states that refuse a change (409 provisioning, 422 and 502
by switch), the 10/min budget, idempotent DELETE and the 400s with Instantly's envelope."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandbox.forwarding import update_body_error
from sandbox.models import DomainOrder, RequestLog
from sandbox.services import sandbox_key_create
from sandbox.switches import switches_set
from tests.sandbox.conftest import decimal_json, item
from tests.sandbox.forwarding_schema import (
    path_param_validator,
    request_errors,
    response_errors,
)
from tests.sandbox.strategies import json_values

pytestmark = pytest.mark.django_db

FWD = "/domains/{}/forwarding"


def call(sandbox, method, domain, body=None):
    """One request; the answer must match the vendored schema for its status."""
    kwargs = {} if body is None else {"json": body}
    response = sandbox.http.request(method, FWD.format(domain), **kwargs)
    data = decimal_json(response)
    assert response_errors(method, response.status_code, data) == [], data
    return response.status_code, data


@pytest.fixture
def owned(sandbox):
    """acme-mail.com ordered with forwarding to acme.com; still provisioning (default 120 s)."""
    placed = sandbox.order([item("acme-mail.com", forwarding_domain="acme.com")])
    assert placed["order_placed"] is True
    return sandbox


@pytest.fixture
def ready(owned):
    switches_set(workspace=owned.workspace, provisioning_delay_seconds=0)
    return owned


def test_get_reports_the_ordered_forwarding_as_redirect(owned):
    assert call(owned, "GET", "acme-mail.com") == (
        200,
        {
            "domain": "acme-mail.com",
            "forwarding_domain": "acme.com",
            "forwarding_mode": "redirect",
        },
    )


def test_changes_are_refused_with_409_while_the_domain_is_provisioned(owned):
    status, body = call(
        owned, "PUT", "acme-mail.com", {"forwarding_domain": "other.com"}
    )
    removed, _ = call(owned, "DELETE", "acme-mail.com")

    assert (status, body["message"]) == (
        409,
        "The domain order is still being provisioned",
    )
    assert removed == 409
    assert (
        DomainOrder.objects.get(domain="acme-mail.com").forwarding_domain == "acme.com"
    )


def test_set_change_to_stealth_and_remove_on_a_ready_domain(ready):
    put = call(
        ready,
        "PUT",
        "acme-mail.com",
        {"forwarding_domain": " Brand.Example.com ", "forwarding_mode": "stealth"},
    )
    read = call(ready, "GET", "ACME-mail.com")
    listed = decimal_json(ready.get("/dfy-email-account-orders"))["items"][0]
    removed = call(ready, "DELETE", "acme-mail.com")
    removed_again = call(ready, "DELETE", "acme-mail.com")

    expected = {
        "domain": "acme-mail.com",
        "forwarding_domain": "brand.example.com",
        "forwarding_mode": "stealth",
    }
    assert put == (200, expected)
    assert read == (200, expected)
    assert (listed["forwarding_domain"], listed["forwarding_mode"]) == (
        "brand.example.com",
        "stealth",
    )
    nothing = {
        "domain": "acme-mail.com",
        "forwarding_domain": None,
        "forwarding_mode": None,
    }
    assert removed == (200, nothing)
    assert removed_again == (200, nothing)


def test_mode_defaults_to_redirect(ready):
    call(
        ready,
        "PUT",
        "acme-mail.com",
        {"forwarding_domain": "x.org", "forwarding_mode": "stealth"},
    )

    assert (
        call(ready, "PUT", "acme-mail.com", {"forwarding_domain": "y.org"})[1][
            "forwarding_mode"
        ]
        == "redirect"
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (None, "body must be object"),
        ({}, "body must have required property 'forwarding_domain'"),
        ({"forwarding_domain": 7}, "body/forwarding_domain must be string"),
        (
            {"forwarding_domain": ""},
            "body/forwarding_domain must NOT have fewer than 1 characters",
        ),
        (
            {"forwarding_domain": "localhost"},
            'body/forwarding_domain must match pattern "^\\s*\\S+\\.[a-zA-Z]{2,}\\s*$"',
        ),
        (
            {"forwarding_domain": "a.com", "forwarding_mode": "frame"},
            "body/forwarding_mode must be equal to one of the allowed values",
        ),
        (
            {"forwarding_domain": "a.com", "forwarding_mode": None},
            "body/forwarding_mode must be string",
        ),
    ],
)
def test_schema_violations_answer_400_and_jsonschema_agrees(ready, body, message):
    status, answer = call(ready, "PUT", "acme-mail.com", body)

    assert (status, answer["message"], answer["error"]) == (400, message, "Bad Request")
    assert request_errors(body), "the vendored schema must refuse it too"


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("ACME-mail.com", "body/forwarding_domain must differ from the domain"),
        (
            "bad_name!.com",
            "body/forwarding_domain must be a host name such as mycompany.com",
        ),
    ],
)
def test_forwarding_domain_is_validated_beyond_the_schema(ready, target, message):
    status, answer = call(ready, "PUT", "acme-mail.com", {"forwarding_domain": target})

    assert (status, answer["message"]) == (400, message)
    assert (
        DomainOrder.objects.get(domain="acme-mail.com").forwarding_domain == "acme.com"
    )


def test_invalid_json_and_a_bad_path_domain_answer_400(ready):
    bad_json = ready.http.put(
        FWD.format("acme-mail.com"),
        content=b"{nope",
        headers={"Content-Type": "application/json"},
    )
    status, answer = call(ready, "GET", "acme-mail")

    assert bad_json.status_code == 400
    assert response_errors("PUT", 400, bad_json.json()) == []
    assert status == 400
    assert answer["message"].startswith("params/domain must match pattern")
    assert not path_param_validator().is_valid("acme-mail")


def test_unknown_and_foreign_domains_answer_404(ready, make_sandbox):
    other = make_sandbox(name="Other")
    other.order([item("globex-mail.com")])

    assert call(ready, "GET", "nobody-owns.com")[0] == 404
    assert (
        call(ready, "PUT", "globex-mail.com", {"forwarding_domain": "a.com"})[0] == 404
    )
    assert call(ready, "DELETE", "globex-mail.com")[0] == 404


def test_unsupported_switch_answers_422_on_put_only(ready):
    switches_set(workspace=ready.workspace, forwarding_unsupported=True)

    status, answer = call(ready, "PUT", "acme-mail.com", {"forwarding_domain": "a.com"})
    removed, _ = call(ready, "DELETE", "acme-mail.com")

    assert (status, answer["error"]) == (422, "Unprocessable Entity")
    assert removed == 200


def test_apply_fails_switch_answers_502_and_changes_nothing(ready):
    switches_set(forwarding_apply_fails=True)  # global, like the admin's settings row

    put, answer = call(ready, "PUT", "acme-mail.com", {"forwarding_domain": "a.com"})
    removed, _ = call(ready, "DELETE", "acme-mail.com")

    assert (put, answer["message"]) == (
        502,
        "Failed to update forwarding for the domain. Please try again.",
    )
    assert removed == 502
    assert (
        DomainOrder.objects.get(domain="acme-mail.com").forwarding_domain == "acme.com"
    )


def test_cancelled_domain_cannot_change(ready):
    ready.post(
        "/dfy-email-account-orders/accounts/cancel",
        {"accounts": ["user0@acme-mail.com"]},
    )

    assert call(ready, "PUT", "acme-mail.com", {"forwarding_domain": "a.com"})[0] == 422


def test_changes_are_limited_to_10_a_minute_per_workspace_but_reads_are_not(ready):
    # The windows are clock-aligned minutes: start early in one so all 11 share it.
    if time.time() % 60 > 50:
        time.sleep(61 - time.time() % 60)
    answers = [
        call(ready, "PUT", "acme-mail.com", {"forwarding_domain": f"b{n}.com"})[0]
        for n in range(6)
    ] + [call(ready, "DELETE", "acme-mail.com")[0] for _ in range(4)]
    refused = ready.http.put(
        FWD.format("acme-mail.com"), json={"forwarding_domain": "c.com"}
    )
    read, _ = call(ready, "GET", "acme-mail.com")

    assert answers == [200] * 10
    assert refused.status_code == 429
    assert response_errors("PUT", 429, refused.json()) == []
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert read == 200


def test_scopes_follow_the_published_table(ready):
    reader = sandbox_key_create(
        workspace=ready.workspace, scopes=["dfy_email_account_orders:read"]
    )
    headers = {"Authorization": f"Bearer {reader}"}
    url = FWD.format("acme-mail.com")

    assert ready.http.get(url, headers=headers).status_code == 200
    assert (
        ready.http.put(
            url, json={"forwarding_domain": "a.com"}, headers=headers
        ).status_code
        == 403
    )
    assert ready.http.delete(url, headers=headers).status_code == 403
    assert (
        RequestLog.objects.filter(path__endswith="/forwarding", status_code=403).count()
        == 2
    )


def test_other_methods_answer_the_route_404(ready):
    response = ready.http.post(FWD.format("acme-mail.com"), json={})

    assert response.status_code == 404
    assert (
        response.json()["message"]
        == "Route POST:/api/v2/domains/acme-mail.com/forwarding not found"
    )


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    body=st.one_of(
        json_values,
        st.fixed_dictionaries(
            {
                "forwarding_domain": st.one_of(
                    st.text(max_size=20),
                    st.from_regex(r"\A[a-z]{1,8}\.[a-z]{2,4}\Z"),
                    json_values,
                )
            },
            optional={
                "forwarding_mode": st.one_of(
                    st.sampled_from(["redirect", "stealth", "x"]), json_values
                )
            },
        ),
    )
)
def test_body_check_agrees_with_the_vendored_schema(body):
    assert (update_body_error(body) is None) == (request_errors(body) == [])


def test_the_sandbox_uses_the_vendored_patterns_and_the_published_limits():
    from sandbox.forwarding import DOMAIN_PATTERN
    from sandbox.rules import FORWARDING_RATE_LIMITS
    from tests.sandbox.forwarding_schema import PATH, document

    operation = document()["paths"][PATH]
    body = operation["put"]["requestBody"]["content"]["application/json"]["schema"]

    assert operation["parameters"][0]["schema"]["pattern"] == DOMAIN_PATTERN
    assert body["properties"]["forwarding_domain"]["pattern"] == DOMAIN_PATTERN
    assert {(r.seconds, r.limit) for r in FORWARDING_RATE_LIMITS} == {
        (60, 10),
        (3600, 60),
    }


def test_a_nul_in_the_domain_names_no_domain_not_a_500(sandbox):
    status, _ = call(sandbox, "GET", "bad%00name.com")

    assert status == 404
