"""Quotes in exact Decimals: mixed providers, promotions, overrides, JSON numbers."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from sandbox.models import Charge
from sandbox.switches import switches_set
from tests.sandbox.conftest import ORDERS, item

pytestmark = pytest.mark.django_db

D = Decimal


def totals(body):
    keys = [
        "total_accounts_price_per_month",
        "total_domains_price_per_year",
        "total_price_per_month",
        "total_price_per_year",
        "total_discount",
        "total_price",
    ]
    return {key: body[key] for key in keys}


def test_mixed_google_airmail_microsoft_order(sandbox):
    switches_set(airmail_price_per_month=D("4"))

    body = sandbox.order(
        [
            item("alpha-mail.com", 3, provider=1),
            item("beta-mail.org", 2, provider=2),
            item("gamma-mail.com", 50, provider=3),
        ],
        simulation=True,
    )

    assert [
        (
            i["domain"],
            i["domain_price"],
            i["accounts_price"],
            i["domain_monthly_price"],
            i["total_price"],
        )
        for i in body["order_items"]
    ] == [
        ("alpha-mail.com", D(15), D(15), None, D(30)),
        ("beta-mail.org", D(15), D(8), None, D(23)),
        ("gamma-mail.com", D(15), D(20), D(20), D(35)),
    ]
    assert totals(body) == {
        "total_accounts_price_per_month": D(43),
        "total_domains_price_per_year": D(45),
        "total_price_per_month": D(43),
        "total_price_per_year": D(45),
        "total_discount": D(0),
        "total_price": D(88),
    }
    assert body["price_per_account_per_month"] is None
    assert body["price_per_account_per_month_by_account_type"] == {"1": D(5), "2": D(4)}
    assert body["price_per_domain_per_month"] == D(20)
    assert body["price_per_domain_per_year"] == D(15)
    assert (body["number_of_domains_ordered"], body["number_of_accounts_ordered"]) == (
        3,
        55,
    )


def test_one_per_account_provider_has_a_single_price(sandbox):
    body = sandbox.order(
        [item("alpha-mail.com", 2), item("gamma-mail.com", 50, provider=3)],
        simulation=True,
    )

    assert body["price_per_account_per_month"] == D(5)
    assert body["price_per_domain_per_month"] == D(20)


def test_microsoft_only_order_has_no_account_price(sandbox):
    body = sandbox.order([item("gamma-mail.com", 50, provider=3)], simulation=True)

    assert body["price_per_account_per_month"] is None
    assert body["total_accounts_price_per_month"] == D(20)


def test_google_only_order_has_no_domain_monthly_price(sandbox):
    body = sandbox.order([item("alpha-mail.com", 1)], simulation=True)

    assert body["price_per_domain_per_month"] is None
    assert body["order_items"][0]["domain_monthly_price"] is None


def test_free_domains_by_name_and_by_count(sandbox):
    switches_set(free_domains=["alpha-mail.com"], free_domain_count=1)

    body = sandbox.order(
        [item("alpha-mail.com"), item("beta-mail.com"), item("gamma-mail.com")],
        simulation=True,
    )

    assert body["free_domains"] == ["alpha-mail.com", "beta-mail.com"]
    assert [i["domain_price"] for i in body["order_items"]] == [D(0), D(0), D(15)]
    assert body["total_domains_price_per_year"] == D(15)
    assert body["total_price"] == D(30)


def test_discount_percentage_rounds_each_item_half_up(sandbox):
    switches_set(discount_percent=D("10"), google_price_per_month=D("4.99"))

    body = sandbox.order(
        [item("alpha-mail.com", 1), item("beta-mail.com", 3)], simulation=True
    )

    # total_price stays domain + mailboxes (the documented identity); the discount is beside it.
    assert [(i["total_discount"], i["total_price"]) for i in body["order_items"]] == [
        (D("2.00"), D("19.99")),  # 19.99 -> 1.999 -> 2.00
        (D("3.00"), D("29.97")),  # 29.97 -> 2.997 -> 3.00
    ]
    assert body["total_discount"] == D("5.00")
    assert body["total_price"] == D("49.96")
    assert body["total_price"] == (
        body["total_accounts_price_per_month"] + body["total_domains_price_per_year"]
    )
    assert (body["total_price_per_month"], body["total_price_per_year"]) == (
        D("19.96"),
        D(30),
    )


def test_placed_order_charges_the_discounted_total(sandbox):
    switches_set(workspace=sandbox.workspace, discount_percent=D("50"))

    body = sandbox.order([item("alpha-mail.com", 1)])

    assert (body["total_price"], body["total_discount"]) == (D(20), D(10))
    assert Charge.objects.get().amount == D("10.00")


def test_workspace_prices_override_global_ones(sandbox, make_sandbox):
    switches_set(domain_price_per_year=D("20"))
    switches_set(workspace=sandbox.workspace, domain_price_per_year=D("12"))

    ours = sandbox.order([item("alpha-mail.com")], simulation=True)
    theirs = make_sandbox(name="Other").order([item("alpha-mail.com")], simulation=True)

    assert (ours["price_per_domain_per_year"], theirs["price_per_domain_per_year"]) == (
        D(12),
        D(20),
    )


def test_prewarmed_mailboxes_cost_more_and_domains_are_charged(sandbox, stock):
    body = sandbox.order(
        [
            {"domain": "warmleads.com"},
            {"domain": "warmbundle.com", "email_provider": 3},
        ],
        "pre_warmed_up",
        simulation=True,
    )

    assert [(i["domain_price"], i["accounts_price"]) for i in body["order_items"]] == [
        (D(15), D(30)),
        (D(15), D(20)),
    ]
    assert body["price_per_account_per_month"] == D(10)
    # One mailbox price in the order: the per-type prices are not sent.
    assert "price_per_account_per_month_by_account_type" not in body


def test_money_goes_out_as_json_numbers(sandbox):
    switches_set(google_price_per_month=D("6.25"))

    response = sandbox.post(
        ORDERS,
        {"items": [item("alpha-mail.com", 2)], "order_type": "dfy", "simulation": True},
    )

    raw = response.text
    assert '"accounts_price": 12.5' in raw
    assert '"domain_price": 15,' in raw
    assert '"total_price": 27.5' in raw
    assert json.loads(raw, parse_float=Decimal)["total_price"] == D("27.5")


@pytest.mark.parametrize(
    ("amount", "expected"),
    [("0.005", "0.01"), ("0.125", "0.13"), ("2.525", "2.53"), ("-0.125", "-0.13")],
)
def test_money_rounds_ties_half_up(amount, expected):
    from sandbox.pricing import money

    # Half-even would give 0.00, 0.12, 2.52 and -0.12.
    assert str(money(D(amount))) == expected


def test_a_discount_of_exactly_half_a_cent_rounds_up(sandbox):
    # 15.00 domain + 5.20 mailbox = 20.20; 12.5 % of it is 2.525, a true tie.
    switches_set(discount_percent=D("12.5"), google_price_per_month=D("5.20"))

    body = sandbox.order([item("alpha-mail.com", 1)], simulation=True)

    assert [i["total_discount"] for i in body["order_items"]] == [D("2.53")]
    assert body["total_discount"] == D("2.53")
