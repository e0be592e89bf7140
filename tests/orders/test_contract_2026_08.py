"""Issue #11: the portal's client against the sandbox over real HTTP (a live server), one test
or more per change of Instantly's 2026-07/08 schema (docs/instantly.md, "What changed")."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from orders.instantly import (
    FORBIDDEN_HINT,
    InstantlyClient,
    InstantlyScopeError,
    InstantlyValidationError,
)
from sandbox.models import (
    Charge,
    DfyAccount,
    DomainOrder,
    PreWarmedDomain,
    RestrictedKeyword,
    real_order_posts,
)
from sandbox.rules import DEFAULT_RESTRICTED_KEYWORDS
from sandbox.services import sandbox_workspace_create
from sandbox.switches import switches_set

pytestmark = pytest.mark.django_db(transaction=True)

D = Decimal


def accounts(count, prefix="user"):
    return [
        {
            "email_address_prefix": f"{prefix}{n}",
            "first_name": "Jane",
            "last_name": f"Roe{n}",
        }
        for n in range(count)
    ]


def dfy(*items, order_type="dfy"):
    return {"order_type": order_type, "items": list(items)}


def item(domain, count=1, provider=1, **extra):
    return {
        "domain": domain,
        "email_provider": provider,
        "accounts": accounts(count),
        **extra,
    }


@pytest.fixture
def api(live_server):
    RestrictedKeyword.objects.bulk_create(
        [RestrictedKeyword(keyword=k) for k in DEFAULT_RESTRICTED_KEYWORDS],
        ignore_conflicts=True,
    )
    made = []

    def connect(**workspace_options):
        workspace, key = sandbox_workspace_create(name="Contract", **workspace_options)
        client = InstantlyClient(
            api_key=key,
            base_url=f"{live_server.url}/sandbox/api/v2",
            limiter_bucket="contract",
            sleep=lambda seconds: None,
        )
        made.append(client)
        client.workspace = workspace  # type: ignore[attr-defined]
        client.key = key  # type: ignore[attr-defined]
        return client

    yield connect
    for client in made:
        client.close()


# --- 1. Microsoft: 50-100 mailboxes, $20/month per domain -----------------------------------
@pytest.mark.parametrize("count", [50, 51, 75, 100])
def test_microsoft_domain_takes_fifty_to_a_hundred_mailboxes_at_one_price(api, count):
    client = api()

    result = client.simulate_order(dfy(item("bundle-mail.com", count, provider=3)))

    assert result.order_is_valid is True, result.invalid_accounts
    assert result.number_of_accounts_ordered == count
    (priced,) = result.order_items
    assert (priced.accounts_price, priced.domain_monthly_price) == (D(20), D(20))
    assert result.price_per_domain_per_month == D(20)
    assert result.total_accounts_price_per_month == D(20)


def test_microsoft_below_fifty_is_refused_and_101_fails_the_schema(api):
    client = api()

    few = client.simulate_order(dfy(item("bundle-mail.com", 49, provider=3)))
    with pytest.raises(
        InstantlyValidationError, match="must NOT have more than 100 items"
    ) as too_many:
        client.simulate_order(dfy(item("bundle-mail.com", 101, provider=3)))

    assert few.order_error == "invalid_accounts"
    assert few.invalid_accounts[0].reason == (
        "Microsoft/Outlook needs 50-100 mailboxes per new domain, got 49"
    )
    assert too_many.value.status_code == 400
    assert "must NOT have more than 100 items" in too_many.value.message


# --- 3. Hosted checkout when no default payment method --------------------------------------
def test_no_payment_method_simulation_shows_no_card_and_real_order_asks_checkout(api):
    client = api(has_payment_method=False)
    payload = dfy(item("fresh-mail.com", 2))

    quote = client.simulate_order(payload)
    result = client.place_order(payload)

    assert quote.order_is_valid is True
    assert quote.payment_method_last_4_digits == ""
    assert quote.payment_method_brand == ""
    assert quote.checkout_required is None
    assert result.order_placed is False
    assert result.checkout_required is True
    assert result.cart_order_id
    assert result.checkout_url is None  # API keys never get the hosted link
    assert result.order_error is None
    assert real_order_posts(client.workspace) == 1
    assert not DomainOrder.objects.exists()
    assert not Charge.objects.exists()


def test_with_a_card_the_same_order_is_placed(api):
    client = api()

    result = client.place_order(dfy(item("fresh-mail.com", 2)))

    assert result.order_placed is True
    assert result.checkout_required is None
    assert result.payment_method_last_4_digits == "4242"


# --- 4. An order with no items is never sent, and the sandbox refuses one -------------------
def test_client_refuses_to_send_an_empty_order(api):
    client = api()

    with pytest.raises(ValueError, match="at least one item"):
        client.place_order(dfy())
    with pytest.raises(ValueError, match="at least one item"):
        client.simulate_order(dfy())

    assert client.request_count == 0
    assert real_order_posts(client.workspace) == 0


@pytest.mark.parametrize("simulation", [False, True])
def test_sandbox_refuses_an_empty_order_with_400(api, live_server, simulation):
    client = api()

    response = httpx.post(
        f"{live_server.url}/sandbox/api/v2/dfy-email-account-orders",
        json={"order_type": "dfy", "items": [], "simulation": simulation},
        headers={"Authorization": f"Bearer {client.key}"},
    )

    assert response.status_code == 400
    assert response.json() == {
        "statusCode": 400,
        "error": "Bad Request",
        "message": "body/items must NOT have fewer than 1 items",
    }
    assert not DomainOrder.objects.exists()


# --- 5. provider_mismatch vs unsupported_provider on extra_accounts --------------------------
def test_extra_accounts_with_another_provider_is_a_mismatch(api):
    client = api()
    assert client.place_order(dfy(item("plain-mail.com", 1))).order_placed

    airmail = client.simulate_order(
        dfy(item("plain-mail.com", 1, provider=2), order_type="extra_accounts")
    )
    microsoft = client.simulate_order(
        dfy(item("plain-mail.com", 1, provider=3), order_type="extra_accounts")
    )

    for result in (airmail, microsoft):
        assert result.order_error == "provider_mismatch"
        assert result.provider_mismatch_domains == ("plain-mail.com",)
        assert result.unsupported_provider_domains == ()


def test_extra_accounts_on_a_microsoft_domain_is_unsupported(api):
    client = api()
    assert client.place_order(dfy(item("bundle-mail.com", 50, provider=3))).order_placed

    result = client.simulate_order(
        dfy(item("bundle-mail.com", 1, provider=3), order_type="extra_accounts")
    )

    assert result.order_error == "unsupported_provider"
    assert result.unsupported_provider_domains == ("bundle-mail.com",)
    assert result.provider_mismatch_domains == ()


# --- 6. total_price = accounts + domains; discounts beside it -------------------------------
def test_total_price_follows_the_documented_identity_and_reports_the_discount(api):
    client = api()
    switches_set(workspace=client.workspace, discount_percent=D("10"))

    result = client.simulate_order(
        dfy(item("alpha-mail.com", 2), item("beta-mail.com", 1))
    )

    assert result.total_price == (
        result.total_accounts_price_per_month + result.total_domains_price_per_year
    )
    assert result.total_price == D(45)  # 2 x $15 domains + 3 x $5 mailboxes
    assert result.total_discount == D("4.50")
    assert [(i.total_price, i.total_discount) for i in result.order_items] == [
        (D(25), D("2.50")),
        (D(20), D("2.00")),
    ]


def test_the_card_is_charged_the_total_less_the_discount(api):
    client = api()
    switches_set(workspace=client.workspace, discount_percent=D("10"))

    result = client.place_order(dfy(item("alpha-mail.com", 1)))

    assert (result.total_price, result.total_discount) == (D(20), D(2))
    assert Charge.objects.get().amount == D("18.00")


# --- 7. price_per_account_per_month_by_account_type only for mixed prices --------------------
def test_per_type_prices_appear_only_when_the_order_mixes_mailbox_prices(api):
    client = api()
    switches_set(workspace=client.workspace, airmail_price_per_month=D(4))

    google_only = client.simulate_order(dfy(item("alpha-mail.com", 1)))
    mixed = client.simulate_order(
        dfy(item("alpha-mail.com", 1), item("beta-mail.com", 1, provider=2))
    )

    assert google_only.price_per_account_per_month_by_account_type is None
    assert google_only.price_per_account_per_month == D(5)
    assert mixed.price_per_account_per_month_by_account_type == {"1": D(5), "2": D(4)}
    assert mixed.price_per_account_per_month is None


def test_two_providers_at_the_same_price_send_no_per_type_prices(api):
    client = api()

    result = client.simulate_order(
        dfy(item("alpha-mail.com", 1), item("beta-mail.com", 1, provider=2))
    )

    assert result.price_per_account_per_month_by_account_type is None
    assert result.price_per_account_per_month is None  # mixed providers


# --- 8. forwarding_domain on extra_accounts is refused, never dropped -----------------------
def test_forwarding_on_extra_accounts_is_refused(api):
    client = api()
    assert client.place_order(dfy(item("plain-mail.com", 1))).order_placed

    result = client.place_order(
        dfy(
            {
                "domain": "plain-mail.com",
                "email_provider": 1,
                "forwarding_domain": "brand.com",
                "accounts": accounts(1, prefix="extra"),
            },
            order_type="extra_accounts",
        )
    )

    assert result.order_placed is False
    assert result.order_error == "invalid_forwarding_domains"
    assert result.invalid_forwarding_domains == ("brand.com",)
    assert DfyAccount.objects.count() == 1
    assert DomainOrder.objects.get().forwarding_domain == ""


# --- 9. Pre-warmed AirMail stock without email_provider -------------------------------------
def test_prewarmed_airmail_without_provider_is_read_as_google(api):
    client = api()
    PreWarmedDomain.objects.create(
        domain="warm-air.com", account_type=2, mailbox_count=2
    )

    omitted = client.simulate_order(
        dfy({"domain": "warm-air.com"}, order_type="pre_warmed_up")
    )
    named = client.simulate_order(
        dfy({"domain": "warm-air.com", "email_provider": 2}, order_type="pre_warmed_up")
    )

    assert omitted.order_error == "provider_mismatch"
    assert omitted.provider_mismatch_domains == ("warm-air.com",)
    assert named.order_is_valid is True
    assert named.order_items[0].email_provider == 2


# --- 10. The accounts list accepts only cursors it issued ----------------------------------
def test_accounts_list_refuses_a_cursor_it_did_not_issue(api, live_server):
    client = api()
    assert client.place_order(dfy(item("alpha-mail.com", 3))).order_placed
    first = next(iter(DfyAccount.objects.order_by("timestamp_created", "id")))
    url = f"{live_server.url}/sandbox/api/v2/dfy-email-account-orders/accounts"
    headers = {"Authorization": f"Bearer {client.key}"}

    issued = httpx.get(url, params={"limit": 1}, headers=headers).json()
    moment = issued["next_starting_after"].split(":", 1)[1]
    forged = f"00000000-0000-4000-8000-000000000000:{moment}"
    shifted = f"{first.id}:2020-01-01T00:00:00.000Z"

    assert (
        httpx.get(
            url,
            params={"starting_after": issued["next_starting_after"]},
            headers=headers,
        ).status_code
        == 200
    )
    for cursor in (forged, shifted):
        response = httpx.get(url, params={"starting_after": cursor}, headers=headers)
        assert response.status_code == 400, cursor
        assert response.json()["message"] == (
            "querystring/starting_after is not a valid cursor"
        )
    assert len(list(client.iter_accounts(page_size=1))) == 3


# --- 11. 403 on ordering names both causes --------------------------------------------------
def test_forbidden_order_raises_scope_error_and_the_hint_names_scope_and_plan(api):
    client = api(scopes=["dfy_email_account_orders:read"])

    with pytest.raises(InstantlyScopeError, match="^403 Forbidden") as refused:
        client.place_order(dfy(item("alpha-mail.com", 1)))

    assert refused.value.status_code == 403
    assert "scope" in FORBIDDEN_HINT
    assert "plan" in FORBIDDEN_HINT
    assert not DomainOrder.objects.exists()


# --- 13. A body that is not JSON ------------------------------------------------------------
def test_form_encoded_order_is_refused_with_415(api, live_server):
    client = api()

    response = httpx.post(
        f"{live_server.url}/sandbox/api/v2/dfy-email-account-orders",
        data={"order_type": "dfy", "items": "x"},
        headers={"Authorization": f"Bearer {client.key}"},
    )

    assert response.status_code == 415
    assert response.json() == {
        "statusCode": 415,
        "error": "Unsupported Media Type",
        "message": "Unsupported Media Type: application/x-www-form-urlencoded",
        "code": "FST_ERR_CTP_INVALID_MEDIA_TYPE",
    }
    assert real_order_posts(client.workspace) == 0
    assert not DomainOrder.objects.exists()


def test_plain_text_body_is_parsed_then_refused_by_the_schema(api, live_server):
    client = api()

    response = httpx.post(
        f"{live_server.url}/sandbox/api/v2/dfy-email-account-orders/domains/check",
        content=b'{"domains": ["acme.com"]}',
        headers={"Authorization": f"Bearer {client.key}", "Content-Type": "text/plain"},
    )

    assert response.status_code == 400
    assert response.json()["message"] == "body must be object"
