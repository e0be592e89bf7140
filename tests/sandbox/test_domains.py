"""Domain availability, suggestions and the pre-warmed list."""

from __future__ import annotations

import pytest

from sandbox.models import PreWarmedDomain, RestrictedKeyword, TakenDomain
from sandbox.switches import switches_set
from tests.sandbox.conftest import ORDERS, decimal_json, item

pytestmark = pytest.mark.django_db

CHECK = f"{ORDERS}/domains/check"
SIMILAR = f"{ORDERS}/domains/similar"
PREWARMED = f"{ORDERS}/domains/pre-warmed-up-list"


def test_check_reports_each_domain(sandbox, stock):
    TakenDomain.objects.create(domain="taken.com")
    sandbox.order([item("ordered.org")])

    body = decimal_json(
        sandbox.post(
            CHECK,
            {
                "domains": [
                    "Fresh.com",
                    "taken.com",
                    "ordered.org",
                    "warmleads.com",
                    "equifax-help.com",
                    "fresh.net",
                    "bad_name",
                ]
            },
        )
    )

    assert body["results"] == [
        {"domain": "fresh.com", "available": True},
        {"domain": "taken.com", "available": False},
        {"domain": "ordered.org", "available": False},
        {"domain": "warmleads.com", "available": False},
        {
            "domain": "equifax-help.com",
            "available": False,
            "unavailable_reason": "restricted",
            "restricted_keyword": "equifax",
        },
        {"domain": "fresh.net", "available": False},
        {"domain": "bad_name", "available": False},
    ]


def test_restricted_keywords_are_data(sandbox):
    RestrictedKeyword.objects.create(keyword="globex")

    result = decimal_json(sandbox.post(CHECK, {"domains": ["my-glo-bex.com"]}))[
        "results"
    ][0]

    assert result["restricted_keyword"] == "globex"


def test_check_takes_at_most_50_domains(sandbox):
    assert (
        sandbox.post(CHECK, {"domains": [f"d{n}.com" for n in range(50)]}).status_code
        == 200
    )
    assert (
        sandbox.post(CHECK, {"domains": [f"d{n}.com" for n in range(51)]}).status_code
        == 400
    )


def test_similar_suggests_available_names_per_tld(sandbox):
    TakenDomain.objects.create(domain="getacme.com")

    body = decimal_json(sandbox.post(SIMILAR, {"domain": "www.Acme.com"}))

    domains = body["domains"]
    assert "getacme.com" not in domains
    assert "getacme.org" in domains
    assert len([d for d in domains if d.endswith(".com")]) == 67
    assert len([d for d in domains if d.endswith(".org")]) == 67
    assert len(set(domains)) == len(domains)
    assert all("acme" in d for d in domains)


def test_similar_honours_tlds(sandbox):
    domains = decimal_json(
        sandbox.post(SIMILAR, {"domain": "acme.com", "tlds": ["org"]})
    )["domains"]

    assert domains
    assert all(d.endswith(".org") for d in domains)


def test_similar_refuses_trademarks_with_the_declared_400(sandbox):
    response = sandbox.post(SIMILAR, {"domain": "netflix.org"})

    assert response.status_code == 400
    assert response.json() == {
        "statusCode": 400,
        "error": "Bad Request",
        "message": 'The provided domain contains a restricted keyword: "netflix". Please choose another domain.',
        "code": "restricted_domain",
        "keyword": "netflix",
    }


def test_similar_of_nothing_is_empty(sandbox):
    assert decimal_json(sandbox.post(SIMILAR, {"domain": " .. "}))["domains"] == []


def test_prewarmed_list_filters_by_extension_and_search(sandbox, stock):
    everything = decimal_json(sandbox.post(PREWARMED))
    co_only = decimal_json(sandbox.post(PREWARMED, {"extensions": ["co"]}))
    searched = decimal_json(sandbox.post(PREWARMED, {"search": "REACH"}))

    assert everything["domains"] == [
        "warmbundle.com",
        "warmleads.com",
        "warmreach.org",
        "warmsend.co",
    ]
    assert everything["domains_with_type"][0] == {
        "domain": "warmbundle.com",
        "account_type": 3,
    }
    assert co_only["domains"] == ["warmsend.co"]
    assert searched["domains_with_type"] == [
        {"domain": "warmreach.org", "account_type": 2}
    ]


def test_prewarmed_list_can_be_empty(sandbox, stock):
    switches_set(workspace=sandbox.workspace, empty_prewarmed_stock=True)

    assert decimal_json(sandbox.post(PREWARMED, {})) == {
        "domains": [],
        "domains_with_type": [],
    }


def test_prewarmed_stock_only_takes_com_org_co():
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        PreWarmedDomain.objects.create(domain="warm.net")
