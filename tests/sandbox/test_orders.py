"""Placing and simulating orders: every validation list and every order_error value."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from sandbox.models import (
    Charge,
    DfyAccount,
    DomainOrder,
    PreWarmedDomain,
    SandboxWorkspace,
    TakenDomain,
)
from sandbox.rules import ORDER_ERROR_PRECEDENCE
from sandbox.switches import switches_set
from tests.sandbox.conftest import item, mailboxes

pytestmark = pytest.mark.django_db

LISTS = [name for _error, name in ORDER_ERROR_PRECEDENCE] + ["blacklist_keywords"]


def filled(body):
    return {name: body[name] for name in LISTS if body.get(name)}


def test_simulation_quotes_and_records_nothing(sandbox):
    body = sandbox.order([item("fresh-brand.com", 2)], simulation=True)

    assert (body["order_placed"], body["order_is_valid"], body["simulation"]) == (
        False,
        True,
        True,
    )
    assert "order_error" not in body
    assert filled(body) == {}
    assert body["total_price"] == Decimal(25)
    assert not DomainOrder.objects.exists()
    assert not Charge.objects.exists()


def test_real_order_charges_and_records_domain_and_mailboxes(sandbox):
    body = sandbox.order([item("Fresh-Brand.com ", 2, forwarding_domain="brand.io")])

    assert (body["order_placed"], body["order_is_valid"], body["simulation"]) == (
        True,
        True,
        False,
    )
    assert "order_error" not in body
    order = DomainOrder.objects.get()
    assert (
        order.domain,
        order.email_provider,
        order.forwarding_domain,
        order.forwarding_mode,
    ) == (
        "fresh-brand.com",
        1,
        "brand.io",
        "redirect",
    )
    assert order.workspace == sandbox.workspace
    assert sorted(DfyAccount.objects.values_list("email", flat=True)) == [
        "user0@fresh-brand.com",
        "user1@fresh-brand.com",
    ]
    assert (
        TakenDomain.objects.get(domain="fresh-brand.com").workspace == sandbox.workspace
    )
    assert Charge.objects.get().amount == Decimal("25.00")


def test_simulation_absent_means_a_real_order(sandbox):
    sandbox.order([item("fresh-brand.com", 1)])

    assert DomainOrder.objects.filter(domain="fresh-brand.com").exists()


def test_unavailable_domains_taken_or_already_ordered(sandbox, make_sandbox):
    TakenDomain.objects.create(domain="taken.com")
    make_sandbox(name="Other").order([item("theirs.com", 1)])
    sandbox.order([item("mine.com", 1)])

    body = sandbox.order(
        [item("taken.com"), item("theirs.com"), item("mine.com"), item("free-one.com")]
    )

    assert body["order_error"] == "unavailable_domains"
    assert filled(body) == {
        "unavailable_domains": ["taken.com", "theirs.com", "mine.com"]
    }
    assert body["order_placed"] is False
    assert body["order_is_valid"] is False


def test_prewarmed_domain_missing_from_stock_is_unavailable(sandbox, stock):
    body = sandbox.order([{"domain": "not-in-stock.com"}], "pre_warmed_up")

    assert body["order_error"] == "unavailable_domains"
    assert body["unavailable_domains"] == ["not-in-stock.com"]


def test_blacklist_domains_and_keywords(sandbox):
    body = sandbox.order(
        [item("google-leads.com"), item("my-pay-pal.org"), item("fine.com")]
    )

    assert body["order_error"] == "blacklist_domains"
    assert filled(body) == {
        "blacklist_domains": ["google-leads.com", "my-pay-pal.org"],
        "blacklist_keywords": ["google", "paypal"],
    }


@pytest.mark.parametrize(
    "domain",
    ["bad_domain", "x.net", "shop.acme.com", "-dash.com", "acme", "ümlaut.com", ""],
)
def test_invalid_domains(sandbox, domain):
    body = sandbox.order([item(domain)])

    assert body["order_error"] == "invalid_domains"
    assert body["invalid_domains"] == [domain]


def test_a_domain_twice_in_one_order_is_invalid(sandbox):
    body = sandbox.order([item("twice.com"), item("TWICE.com")])

    assert body["invalid_domains"] == ["twice.com"]


@pytest.mark.parametrize(
    "forwarding", ["not a domain", "same.com", "x.", "http://site.com"]
)
def test_invalid_forwarding_domains(sandbox, forwarding):
    body = sandbox.order([item("same.com", forwarding_domain=forwarding)])

    assert body["order_error"] == "invalid_forwarding_domains"
    assert body["invalid_forwarding_domains"] == [forwarding]


def account(prefix, first="Jane", last="Doe"):
    return {"email_address_prefix": prefix, "first_name": first, "last_name": last}


@pytest.mark.parametrize(
    ("accounts", "reason"),
    [
        ([account("jane", first="")], "First name is required"),
        ([account("jane", last="  ")], "Last name is required"),
        (
            [account("jane", first="x" * 101)],
            "First name is too long or contains invalid characters",
        ),
        (
            [account("jane", last="Doe\x00")],
            "Last name is too long or contains invalid characters",
        ),
        ([account("john..doe")], "Email address prefix is invalid"),
        ([account(".jane")], "Email address prefix is invalid"),
        ([account("jane doe")], "Email address prefix is invalid"),
        (
            [account("jane"), account("Jane")],
            "Email address prefix is used twice on this domain",
        ),
    ],
)
def test_invalid_accounts(sandbox, accounts, reason):
    body = sandbox.order([{"domain": "fresh.com", "accounts": accounts}])

    assert body["order_error"] == "invalid_accounts"
    bad = body["invalid_accounts"][-1]
    assert bad["reason"] == reason
    assert bad["domain"] == "fresh.com"
    assert bad["email"] == f"{accounts[-1]['email_address_prefix'].lower()}@fresh.com"
    assert (bad["first_name"], bad["last_name"]) == (
        accounts[-1]["first_name"],
        accounts[-1]["last_name"],
    )


def test_google_and_airmail_take_at_most_five_mailboxes(sandbox):
    body = sandbox.order(
        [item("google-ish.com", 6, provider=1), item("airy.com", 5, provider=2)]
    )

    assert [(a["email"], a["reason"]) for a in body["invalid_accounts"]] == [
        ("user5@google-ish.com", "Google allows at most 5 mailboxes per domain")
    ]


def test_microsoft_takes_fifty_to_a_hundred_by_default(sandbox):
    body = sandbox.order(
        [
            item("fifty.com", 50, provider=3),
            item("seventyfive.com", 75, provider=3),
            item("hundred.com", 100, provider=3),
            item("ten.com", 10, provider=3),
        ]
    )

    assert [(a["domain"], a["reason"]) for a in body["invalid_accounts"]] == [
        (
            "ten.com",
            "Microsoft/Outlook needs 50-100 mailboxes per new domain, got 10",
        ),
    ]


def test_microsoft_bounds_are_configurable(sandbox, settings):
    settings.SANDBOX_PROVIDER_RULES = {3: {"max_mailboxes": 50}}

    body = sandbox.order([item("big.com", 51, provider=3)], simulation=True)

    assert body["order_is_valid"] is False
    assert body["invalid_accounts"][0]["reason"] == (
        "Microsoft/Outlook allows at most 50 mailboxes per domain"
    )


def test_domains_without_accounts(sandbox):
    body = sandbox.order(
        [{"domain": "empty.com"}, {"domain": "empty2.com", "accounts": []}]
    )

    assert body["order_error"] == "domains_without_accounts"
    assert body["domains_without_accounts"] == ["empty.com", "empty2.com"]


def test_extra_accounts_need_a_domain_ordered_here(sandbox, make_sandbox):
    make_sandbox(name="Other").order([item("theirs.com", 1)])

    body = sandbox.order([item("never.com"), item("theirs.com")], "extra_accounts")

    assert body["order_error"] == "missing_domain_orders"
    assert body["missing_domain_orders"] == ["never.com", "theirs.com"]


def test_extra_accounts_add_mailboxes_without_a_domain_price(sandbox):
    sandbox.order([item("mine.com", 2)])

    body = sandbox.order(
        [{"domain": "mine.com", "accounts": [account("sales")]}], "extra_accounts"
    )

    assert body["order_placed"] is True
    assert body["order_items"][0]["domain_price"] == 0
    assert body["total_price"] == Decimal(5)
    assert DomainOrder.objects.count() == 1
    assert DfyAccount.objects.filter(domain="mine.com").count() == 3


def test_extra_accounts_refuse_existing_prefix_and_overflow(sandbox):
    sandbox.order([item("mine.com", 4)])

    body = sandbox.order(
        [
            {
                "domain": "mine.com",
                "accounts": [account("user0"), account("new1"), account("new2")],
            }
        ],
        "extra_accounts",
    )

    assert [(a["email"], a["reason"]) for a in body["invalid_accounts"]] == [
        ("user0@mine.com", "Email address already exists"),
        ("new2@mine.com", "Google allows at most 5 mailboxes per domain"),
    ]


def test_extra_accounts_with_another_provider_is_a_mismatch(sandbox):
    sandbox.order([item("mine.com", 1, provider=1)])

    body = sandbox.order(
        [{"domain": "mine.com", "email_provider": 2, "accounts": [account("new")]}],
        "extra_accounts",
    )

    assert body["order_error"] == "provider_mismatch"
    assert filled(body) == {"provider_mismatch_domains": ["mine.com"]}


def test_prewarmed_with_another_provider_is_a_mismatch(sandbox, stock):
    body = sandbox.order(
        [{"domain": "warmreach.org", "email_provider": 1}], "pre_warmed_up"
    )

    assert body["order_error"] == "provider_mismatch"
    assert body["provider_mismatch_domains"] == ["warmreach.org"]


def test_microsoft_domains_take_no_extra_accounts(sandbox):
    sandbox.order([item("msbundle.com", 50, provider=3)])
    sandbox.order([item("plainbox.com", 1, provider=1)])

    body = sandbox.order(
        [item("msbundle.com", 1, provider=3), item("plainbox.com", 1, provider=3)],
        "extra_accounts",
    )

    # unsupported_provider names the domain whose own provider takes no extras; asking a
    # Google domain for Microsoft mailboxes is a provider mismatch.
    assert body["order_error"] == "unsupported_provider"
    assert filled(body) == {
        "unsupported_provider_domains": ["msbundle.com"],
        "provider_mismatch_domains": ["plainbox.com"],
    }


def test_switched_off_provider_is_unavailable(sandbox):
    switches_set(workspace=sandbox.workspace, unavailable_providers=[2])

    body = sandbox.order(
        [item("airy.com", 1, provider=2), item("mailyz.com", 1, provider=1)]
    )

    assert body["order_error"] == "provider_unavailable"
    assert filled(body) == {"unavailable_email_providers": [2]}


@pytest.mark.parametrize(
    "reason",
    [
        "payment_method_not_supported",
        "authentication_required",
        "card_expired",
        "generic_decline",
    ],
)
def test_payment_failure_switch(sandbox, reason):
    switches_set(payment_failure_reason=reason)

    simulated = sandbox.order([item("fresh.com")], simulation=True)
    body = sandbox.order([item("fresh.com")])

    assert simulated["order_is_valid"] is True
    assert "order_error" not in simulated
    assert (body["order_placed"], body["order_is_valid"]) == (False, True)
    assert (body["order_error"], body["payment_failure_reason"]) == (
        "payment_failed",
        reason,
    )
    assert not DomainOrder.objects.exists()
    assert not Charge.objects.exists()


def test_workspace_can_override_global_payment_failure(sandbox):
    switches_set(payment_failure_reason="card_expired")
    switches_set(workspace=sandbox.workspace, payment_failure_reason="none")

    assert sandbox.order([item("fresh.com")])["order_placed"] is True


def test_no_payment_method_asks_for_checkout_and_records_nothing(make_sandbox):
    sandbox = make_sandbox(has_payment_method=False)

    simulated = sandbox.order([item("fresh.com")], simulation=True)
    body = sandbox.order([item("fresh.com")])

    assert simulated["order_is_valid"] is True
    assert simulated["payment_method_last_4_digits"] == ""
    assert body["order_placed"] is False
    assert body["checkout_required"] is True
    assert uuid.UUID(body["cart_order_id"])
    assert "checkout_url" not in body  # only browser sessions get the link
    assert "order_error" not in body
    assert body["payment_method_last_4_digits"] == body["payment_method_brand"] == ""
    assert not DomainOrder.objects.exists()
    assert not Charge.objects.exists()


def test_order_error_follows_the_documented_precedence(sandbox, stock):
    sandbox.order([item("mine.com", 1)])
    switches_set(workspace=sandbox.workspace, unavailable_providers=[2])
    items = [
        item("airy.com", 1, provider=2),  # provider_unavailable
        item("bad_domain"),  # invalid_domains
        item("google-x.com"),  # blacklist_domains
        item("mine.com"),  # unavailable_domains
        item("fwd.com", forwarding_domain="fwd.com"),  # invalid_forwarding_domains
        {"domain": "empty.com"},  # domains_without_accounts
        {
            "domain": "named.com",
            "accounts": [account("x", first="")],
        },  # invalid_accounts
    ]
    seen = []

    while items:
        body = sandbox.order(items, simulation=True)
        seen.append(body["order_error"])
        items = items[1:]

    assert seen == [
        "provider_unavailable",
        "invalid_domains",
        "blacklist_domains",
        "unavailable_domains",
        "invalid_forwarding_domains",
        "domains_without_accounts",
        "invalid_accounts",
    ]


def test_an_invalid_order_still_fills_every_list(sandbox):
    body = sandbox.order(
        [item("bad_domain"), item("google-x.com"), {"domain": "empty.com"}],
        simulation=True,
    )

    assert filled(body) == {
        "invalid_domains": ["bad_domain"],
        "blacklist_domains": ["google-x.com"],
        "blacklist_keywords": ["google"],
        "domains_without_accounts": ["empty.com"],
    }


def test_prewarmed_order_buys_from_stock(sandbox, stock):
    body = sandbox.order(
        [{"domain": "warmsend.co"}, {"domain": "warmreach.org", "email_provider": 2}],
        "pre_warmed_up",
    )

    assert body["order_placed"] is True
    assert body["number_of_accounts_ordered"] == 6
    assert [a["email_address_prefix"] for a in body["order_items"][0]["accounts"]] == [
        "alex.reed",
        "sam.reed",
        "jordan.reed",
        "taylor.reed",
    ]
    assert set(PreWarmedDomain.objects.values_list("domain", flat=True)) == {
        "warmleads.com",
        "warmbundle.com",
    }
    assert DomainOrder.objects.filter(is_pre_warmed_up=True).count() == 2
    assert DfyAccount.objects.filter(is_pre_warmed_up=True).count() == 6
    again = sandbox.order([{"domain": "warmsend.co"}], "pre_warmed_up")
    assert again["unavailable_domains"] == ["warmsend.co"]


def test_prewarmed_accounts_in_the_request_are_ignored(sandbox, stock):
    body = sandbox.order(
        [{"domain": "warmleads.com", "accounts": mailboxes(1, "ignored")}],
        "pre_warmed_up",
        simulation=True,
    )

    assert body["order_is_valid"] is True
    assert len(body["order_items"][0]["accounts"]) == 3


def test_empty_stock_switch_makes_prewarmed_unavailable(sandbox, stock):
    switches_set(empty_prewarmed_stock=True)

    body = sandbox.order([{"domain": "warmleads.com"}], "pre_warmed_up")

    assert body["unavailable_domains"] == ["warmleads.com"]


def test_dfy_refuses_prewarmed_tld_and_stock_names(sandbox, stock):
    body = sandbox.order([item("warmleads.com"), item("fresh.co")])

    assert (body["unavailable_domains"], body["invalid_domains"]) == (
        ["warmleads.com"],
        ["fresh.co"],
    )


def test_payment_card_fields_come_from_the_workspace(sandbox):
    SandboxWorkspace.objects.filter(pk=sandbox.workspace.pk).update(
        card_brand="Mastercard", card_last4="5555", card_name="Ann Lee"
    )

    body = sandbox.order([item("fresh.com")], simulation=True)

    assert (
        body["payment_method_brand"],
        body["payment_method_last_4_digits"],
        body["payment_method_name_on_card"],
    ) == (
        "Mastercard",
        "5555",
        "Ann Lee",
    )


def test_a_nul_in_a_domain_is_refused_as_invalid_not_a_500(sandbox):
    # Hypothesis found this through the contract test: on PostgreSQL the look-ups of stock
    # and owned domains could not even take the name.
    response = sandbox.http.post(
        "/dfy-email-account-orders",
        json={"order_type": "dfy", "simulation": True, "items": [{"domain": "\x00"}]},
    )

    assert response.status_code in {200, 400}
    if response.status_code == 200:
        assert response.json()["order_is_valid"] is False
