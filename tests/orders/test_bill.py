"""The money in plain view (issue #10, items 9 and 10): the bill per domain from Instantly's
own prices, the words for when money moves, the cost after a partial cancel, what a cancel
stops billing, and the finders' capacity and pre-warmed prices."""

from __future__ import annotations

import re
from decimal import Decimal
from html import unescape

import pytest
from django.urls import reverse

from orders import billing, tasks, workflow
from orders.models import (
    Mailbox,
    Order,
    OrderStatus,
    Quote,
    RemoteAccount,
    RemoteDomain,
)
from sandbox.models import PreWarmedDomain
from sandbox.switches import switches_set
from tests.integration.support import TaskQueue, submitted_order
from tests.orders.test_builder_views import HX, JANE, JOHN, build_url, form_state
from tests.task_capture import recorded

pytestmark = pytest.mark.django_db

MICROSOFT_50 = [(f"Ann{n}", "Lee", f"ann{n}") for n in range(50)]


@pytest.fixture
def draft(operator_client, workspace, remote):
    operator_client.post(
        reverse("orders:new", args=[workspace.slug]), {"order_type": "dfy"}
    )
    return Order.objects.get()


def text(response) -> str:  # type: ignore[no-untyped-def]
    """The page's words, tags dropped and spaces collapsed (what a reader sees)."""
    html = response.content.decode()
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def quote_three_domains(operator_client, draft):  # type: ignore[no-untyped-def]
    return operator_client.post(
        build_url(draft),
        form_state(
            draft,
            items=[
                ("acme-mail.com", 1, [JANE, JOHN]),
                ("tryacme.org", 1, [JANE]),
                ("contoso-outreach.com", 3, MICROSOFT_50),
            ],
        ),
        headers=HX,
    )


def test_bill_lines_per_domain_add_up_to_instantlys_totals(operator_client, draft):
    response = quote_three_domains(operator_client, draft)

    quote = Quote.objects.get()
    bill = billing.bill_from_text(quote.response_body, order_type="dfy")
    assert bill is not None
    lines = {line.domain: line for line in bill.lines}
    assert str(lines["acme-mail.com"].domain_per_year) == "15.00"
    assert str(lines["acme-mail.com"].mailbox_each) == "5.00"
    assert str(lines["acme-mail.com"].per_month) == "10.00"
    assert str(lines["acme-mail.com"].due_now) == "25.00"
    assert str(lines["tryacme.org"].due_now) == "20.00"
    assert lines["contoso-outreach.com"].per_domain
    assert str(lines["contoso-outreach.com"].per_month) == "20.00"
    assert lines["contoso-outreach.com"].mailbox_each is None
    assert str(lines["contoso-outreach.com"].due_now) == "35.00"
    assert str(bill.lines_due_now) == str(quote.due_now) == "80.00"
    assert sum((line.per_month for line in bill.lines), Decimal(0)) == quote.per_month
    assert str(quote.per_month) == "35.00"
    assert str(quote.per_year) == "45.00"
    assert bill.adds_up

    page = text(response)
    assert "2 mailboxes × $5.00 a month = $10.00 a month" in page
    assert "Microsoft, billed per domain: $20.00 a month for 50 mailboxes" in page
    assert "Domain: $15.00 a year" in page
    assert "Total due now $80.00" in page
    assert (
        "$80.00 charged to Visa ····4242 when the order is placed, then $35.00 a month "
        "and $45.00 a year for the domains." in page
    )
    assert "renews DFY domains and mailboxes on the 15th of each month" in page
    assert 'id="bill-mismatch"' not in response.content.decode()


def test_bill_without_a_named_card_says_the_card_on_file(
    operator_client, draft, remote
):
    remote.sandbox.card_brand = ""
    remote.sandbox.card_last4 = ""
    remote.sandbox.save(update_fields=["card_brand", "card_last4"])

    response = operator_client.post(
        build_url(draft),
        form_state(draft, items=[("acme-mail.com", 1, [JANE])]),
        headers=HX,
    )

    page = text(response)
    assert (
        "$20.00 charged to the workspace's card on file at Instantly when the order is placed"
        in page
    )
    assert "····" not in page


def test_a_promotion_is_its_own_line_and_due_now_stays_instantlys_total(
    operator_client, draft, remote
):
    switches_set(
        workspace=remote.sandbox,
        free_domains=["acme-mail.com"],
        discount_percent=Decimal("10"),
    )

    response = operator_client.post(
        build_url(draft),
        form_state(
            draft,
            items=[("acme-mail.com", 1, [JANE, JOHN]), ("tryacme.org", 1, [JANE])],
        ),
        headers=HX,
    )

    quote = Quote.objects.get()
    bill = billing.bill_from_text(quote.response_body, order_type="dfy")
    assert bill is not None
    assert [str(line.due_now) for line in bill.lines] == ["10.00", "20.00"]
    # Instantly documents total_price as the month part plus the year part and reports the
    # promotion beside it; the bill (like approval limits) counts the full total.
    assert str(bill.lines_due_now) == str(bill.due_now) == str(quote.due_now) == "30.00"
    assert str(bill.discount) == "3.00"
    page = text(response)
    assert "Domain: free in the current promotion" in page
    assert "Promotion reported by Instantly: $1.00" in page
    assert "Promotion reported by Instantly: $2.00" in page
    assert "Total due now $30.00" in page
    assert 'id="bill-discount">$3.00<' in response.content.decode()
    assert 'id="quote-due-now">$30.00<' in response.content.decode()


def test_quote_endpoint_renders_the_bill_and_the_summary(operator_client, draft):
    quote_three_domains(operator_client, draft)

    response = operator_client.post(
        reverse("orders:quote", args=[draft.workspace.slug, draft.pk]), headers=HX
    )

    html = response.content.decode()
    assert 'id="bill"' in html
    assert (
        'id="quote-summary" role="region" aria-label="Quote summary" hx-swap-oob="true"'
        in html
    )
    assert "$80.00" in html


@pytest.fixture
def placed(
    workspace, operator, lead, remote, monkeypatch, django_capture_on_commit_callbacks
):
    queue = TaskQueue(monkeypatch)
    order = submitted_order(
        workspace,
        operator,
        items=[("acme-mail.com", 1, [JANE, JOHN]), ("tryacme.org", 1, [JANE])],
    )
    with django_capture_on_commit_callbacks(execute=True):
        workflow.order_approve(order=order, by=lead)
    queue.drain(django_capture_on_commit_callbacks)
    order.refresh_from_db()
    assert order.status == OrderStatus.PLACED
    return order


def test_pending_order_shows_the_bill_and_requested_mailboxes(
    client, lead, workspace, operator, remote
):
    order = submitted_order(
        workspace, operator, items=[("acme-mail.com", 1, [JANE, JOHN])]
    )
    client.force_login(lead)

    page = text(client.get(order.get_absolute_url()))

    assert "Nothing bought yet: 2 mailboxes requested" in page
    assert "0 of 2 mailboxes ready" not in page
    assert "2 mailboxes × $5.00 a month = $10.00 a month" in page
    assert "$25.00 charged to Visa ····4242 when the order is placed" in page


def test_placed_order_bill_then_partial_cancel_shows_the_new_monthly_cost(
    client, placed, lead, workspace, monkeypatch, django_capture_on_commit_callbacks
):
    sent = recorded(monkeypatch, "orders.cancel_mailboxes")
    client.force_login(lead)
    before = text(client.get(placed.get_absolute_url()))
    jane = Mailbox.objects.get(
        item__order=placed, item__domain="acme-mail.com", email_prefix="jane"
    )
    url = reverse("orders:cancel", args=[workspace.slug, placed.pk])

    preview = text(
        client.post(url, {"step": "preview", "mailbox": [jane.pk]}, headers=HX)
    )
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            url,
            {
                "step": "confirm",
                "mailbox": [jane.pk],
                "confirmation": "cancel 1 mailbox",
            },
            headers=HX,
        )
    # The confirmation queues the run; the worker's task makes the cancel call.
    tasks.cancel_mailboxes_task(**sent.pop())
    after = text(client.get(placed.get_absolute_url()))

    assert "$45.00 charged to Visa ····4242 when the order was placed" in before
    assert "then $15.00 a month and $30.00 a year for the domains" in before
    assert "After cancellations" not in before
    assert "Stops being billed: $5.00 a month." in preview
    assert "In all, $5.00 a month stop being billed." in preview
    assert "After cancellations: $10.00 a month from now on (was $15.00)" in after
    cost = billing.current_cost(
        billing.order_bill(placed), billing.live_mailboxes(placed)
    )
    assert str(cost.per_month) == "10.00"


def test_cancel_preview_of_a_domains_last_mailbox_stops_its_yearly_charge(
    client, placed, lead, workspace
):
    client.force_login(lead)
    url = reverse("orders:cancel", args=[workspace.slug, placed.pk])

    preview = text(
        client.post(url, {"step": "preview", "domain": ["tryacme.org"]}, headers=HX)
    )

    assert (
        "Stops being billed: $5.00 a month, and the domain's $15.00 a year." in preview
    )
    assert "In all, $5.00 a month and $15.00 a year stop being billed." in preview


def test_microsoft_cancel_stops_nothing_until_the_domains_last_mailbox():
    bill = billing.Bill(
        lines=(
            billing.BillLine(
                domain="contoso-outreach.com",
                provider=3,
                mailboxes=50,
                domain_per_year=Decimal("15.00"),
                domain_free=False,
                per_domain=True,
                per_month=Decimal("20.00"),
                discount=Decimal("0.00"),
                due_now=Decimal("35.00"),
            ),
        ),
        due_now=Decimal("35.00"),
        per_month=Decimal("20.00"),
        per_year=Decimal("15.00"),
        discount=Decimal("0.00"),
        card="",
        order_type="dfy",
    )

    some = billing.billing_stops(
        bill, domain="contoso-outreach.com", cancelled=10, left=40
    )
    last = billing.billing_stops(
        bill, domain="contoso-outreach.com", cancelled=40, left=0
    )

    assert str(some.per_month) == "0.00"
    assert "stops only with the domain's last mailbox" in some.note
    assert str(last.per_month) == "20.00"
    assert str(last.domain_per_year) == "15.00"
    assert (
        str(billing.current_cost(bill, {"contoso-outreach.com": 1}).per_month)
        == "20.00"
    )
    # A domain whose mailboxes are not known yet (pre-warmed, not listed) keeps its price.
    assert str(billing.current_cost(bill, {}).per_month) == "20.00"
    assert (
        str(billing.current_cost(bill, {"contoso-outreach.com": 0}).per_month) == "0.00"
    )


# --- Item 10: the finders ------------------------------------------------------------------


@pytest.fixture
def extra_draft(operator_client, workspace, remote):
    operator_client.post(
        reverse("orders:new", args=[workspace.slug]), {"order_type": "extra_accounts"}
    )
    return Order.objects.get()


def own(workspace, domain: str, provider: int, mailboxes: int) -> None:
    RemoteDomain.objects.create(workspace=workspace, domain=domain, provider=provider)
    RemoteAccount.objects.bulk_create(
        RemoteAccount(
            workspace=workspace,
            remote_id=f"{domain}-{n}",
            email=f"m{n}@{domain}",
            domain=domain,
            provider=provider,
        )
        for n in range(mailboxes)
    )


def test_owned_domains_show_capacity_and_a_full_one_has_no_add_button(
    operator_client, workspace, extra_draft, other_workspace
):
    own(workspace, "roomy-acme.com", 1, 3)
    own(workspace, "full-acme.com", 1, 5)
    own(other_workspace, "theirs-acme.com", 1, 1)
    url = reverse("orders:owned", args=[workspace.slug, extra_draft.pk])

    html = operator_client.get(url, headers=HX).content.decode()
    page = " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())

    assert "roomy-acme.com Google 3 of 5 mailboxes" in page
    assert "full-acme.com Google 5 of 5 mailboxes" in page
    assert 'value="roomy-acme.com|1"' in html
    assert 'value="full-acme.com|1"' not in html
    assert "Not eligible: full, Google domains hold at most 5 mailboxes." in page
    assert "theirs-acme.com" not in html
    assert "2 domains." in page


def test_owned_domains_are_searchable(operator_client, workspace, extra_draft):
    own(workspace, "roomy-acme.com", 1, 3)
    own(workspace, "other-brand.com", 2, 1)
    url = reverse("orders:owned", args=[workspace.slug, extra_draft.pk])

    found = operator_client.get(url, {"search": " ROOMY "}, headers=HX).content.decode()
    none = operator_client.get(url, {"search": "zzz"}, headers=HX).content.decode()
    plain = operator_client.get(url, {"search": "other"}).content.decode()

    assert 'value="roomy-acme.com|1"' in found
    assert "other-brand.com" not in found
    assert 'id="owned-search" name="search" value="roomy"' in found
    assert "No owned domain contains “zzz”" in none
    assert "<html" in plain
    assert 'value="other-brand.com|2"' in plain
    assert "roomy-acme.com" not in plain


def test_prewarmed_stock_shows_fixed_provider_mailboxes_and_price(
    operator_client, workspace, remote
):
    operator_client.post(
        reverse("orders:new", args=[workspace.slug]), {"order_type": "pre_warmed_up"}
    )
    order = Order.objects.get()
    PreWarmedDomain.objects.create(
        domain="warmacme.co", account_type=2, mailbox_count=3
    )
    PreWarmedDomain.objects.create(
        domain="warmbrand.com", account_type=1, mailbox_count=2
    )
    url = reverse("orders:prewarmed", args=[workspace.slug, order.pk])

    html = operator_client.get(url, {"ext": ["co", "com"]}, headers=HX).content.decode()
    page = " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())

    assert (
        "warmacme.co AirMail, fixed Add 3 mailboxes included · $15.00 a year + $30.00 a month"
        in page
    )
    assert (
        "warmbrand.com Google, fixed Add 2 mailboxes included · $15.00 a year + $20.00 a month"
        in page
    )
    assert 'value="warmacme.co|2"' in html
    # Pricing the stock is a simulation: nothing was bought.
    assert not Quote.objects.exists()
    assert remote.real_posts() == 0
