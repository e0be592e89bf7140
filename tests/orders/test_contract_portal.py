"""Issue #11 as the portal shows it: Microsoft 50-100, empty orders, discounts, pre-warmed
providers, 403 wording and domain-check answers that do not come back."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from orders import finders, instantly_keys, mailboxes, tasks, workflow
from orders.instantly import FORBIDDEN_HINT, DomainAvailability
from orders.models import (
    CheckStatus,
    DomainCheck,
    Order,
    OrderItem,
    OrderStatus,
    OrderType,
)
from orders.payload import order_payload
from orders.rules import MICROSOFT, DraftItem, check_draft
from sandbox.services import sandbox_key_create
from sandbox.switches import switches_set
from tests.integration.support import draft_order, submitted_order
from tests.orders.test_builder_views import HX, build_url, form_state

pytestmark = pytest.mark.django_db


@pytest.fixture
def draft(operator_client, workspace, remote):
    operator_client.post(
        reverse("orders:new", args=[workspace.slug]),
        {"order_type": "dfy", "title": "Q3"},
    )
    return Order.objects.get()


# --- 1. Microsoft 50-100 in the builder -----------------------------------------------------
def test_bundle_fills_fifty_and_the_rules_allow_up_to_a_hundred():
    bundle = mailboxes.microsoft_bundle()
    seventy_five = DraftItem(
        "bundle-mail.com",
        MICROSOFT,
        "",
        tuple(mailboxes.generate_mailboxes((), "first.last", 75)),
    )
    too_many = DraftItem(
        "bundle-mail.com",
        MICROSOFT,
        "",
        tuple(mailboxes.generate_mailboxes((), "first.last", 101)),
    )

    assert len(bundle) == 50
    assert check_draft("dfy", [seventy_five]) == []
    assert [f.code for f in check_draft("dfy", [too_many])] == ["too_many_mailboxes"]


def test_builder_quotes_a_75_mailbox_microsoft_domain_at_twenty_a_month(
    operator_client, draft
):
    people = [(f"Ann{n}", "Roe", f"ann{n}") for n in range(75)]
    operator_client.post(
        build_url(draft),
        form_state(draft, items=[("bundle-mail.com", MICROSOFT, people)], save="1"),
        headers=HX,
    )
    assert OrderItem.objects.get().mailboxes.count() == 75

    response = operator_client.post(
        reverse("orders:quote", args=[draft.workspace.slug, draft.pk]), headers=HX
    )

    html = response.content.decode()
    quote = draft.quotes.get()
    assert quote.is_valid
    assert (quote.per_month, quote.per_year, quote.due_now) == (
        Decimal("20.00"),
        Decimal("15.00"),
        Decimal("35.00"),
    )
    assert "Instantly would accept this order" in html


# --- 4. An order with no items is never posted ----------------------------------------------
def test_an_approved_order_that_lost_its_items_fails_without_a_post(
    workspace, operator, lead, remote, queue, django_capture_on_commit_callbacks
):
    order = submitted_order(workspace, operator)
    with django_capture_on_commit_callbacks(execute=True):
        workflow.order_approve(order=order, by=lead)
    OrderItem.objects.filter(order=order).delete()

    with django_capture_on_commit_callbacks(execute=True):
        tasks.place_order_task(order_id=order.pk)

    order.refresh_from_db()
    assert order.status == OrderStatus.FAILED
    assert order.refusal["message"] == "The order has no domains; nothing was sent."
    assert remote.real_posts() == 0
    assert remote.requests("dfy-email-account-orders") == 1  # the quote only


# --- 6. The discount is its own line; due now is Instantly's total_price --------------------
def test_the_bill_shows_the_discount_as_its_own_line(
    workspace, operator, lead, remote, client
):
    switches_set(workspace=remote.sandbox, discount_percent=Decimal("10"))
    order = submitted_order(workspace, operator)
    quote = order.quotes.get()
    client.force_login(lead)

    page = client.get(
        reverse("orders:detail", args=[workspace.slug, order.pk])
    ).content.decode()

    # One domain ($15/year) with two Google mailboxes ($10/month).
    assert (quote.due_now, quote.discount) == (Decimal("25.00"), Decimal("2.50"))
    assert "<dt>Promotion reported by Instantly</dt>" in page
    assert 'id="bill-discount">$2.50<' in page
    assert 'id="bill-due-now">$25.00<' in page  # approval counts Instantly's total


# --- 9. A pre-warmed item always names its provider -----------------------------------------
def test_prewarmed_payload_names_the_stock_provider(workspace, operator):
    order = draft_order(
        workspace,
        operator,
        order_type=OrderType.PRE_WARMED_UP,
        items=[("warm-air.com", 2, [])],
    )

    assert order_payload(order)["items"] == [
        {"domain": "warm-air.com", "email_provider": 2}
    ]


# --- 11. A 403 on ordering names scope and plan ---------------------------------------------
def test_a_forbidden_order_tells_both_possible_causes(
    workspace, operator, lead, remote, queue, django_capture_on_commit_callbacks
):
    order = submitted_order(workspace, operator)
    with django_capture_on_commit_callbacks(execute=True):
        workflow.order_approve(order=order, by=lead)
    read_only = sandbox_key_create(
        workspace=remote.sandbox, scopes=["dfy_email_account_orders:read"]
    )
    instantly_keys.instantly_key_save(
        workspace=workspace,
        by=None,
        secret=read_only,
        label="Read only",
        base_url="http://testserver/sandbox/api/v2",
    )

    with django_capture_on_commit_callbacks(execute=True):
        tasks.place_order_task(order_id=order.pk)

    order.refresh_from_db()
    assert order.status == OrderStatus.FAILED
    assert order.refusal["message"] == FORBIDDEN_HINT
    assert order.refusal["http_status"] == 403
    assert "scope" in FORBIDDEN_HINT
    assert "plan" in FORBIDDEN_HINT
    assert remote.real_posts() == 0


def test_a_forbidden_quote_tells_both_possible_causes(
    operator_client, draft, remote, workspace
):
    read_only = sandbox_key_create(
        workspace=remote.sandbox, scopes=["dfy_email_account_orders:read"]
    )
    instantly_keys.instantly_key_save(
        workspace=workspace,
        by=None,
        secret=read_only,
        label="Read only",
        base_url="http://testserver/sandbox/api/v2",
    )
    operator_client.post(
        build_url(draft),
        form_state(draft, items=[("acme-mail.com", 1, [("Jane", "Roe", "jane")])]),
        headers=HX,
    )

    response = operator_client.post(
        reverse("orders:quote", args=[workspace.slug, draft.pk]), headers=HX
    )

    html = response.content.decode()
    assert "lacks the DFY order scope" in html
    assert "plan does not" in html


# --- 12. Domain-check answers are matched by normalised name --------------------------------
class Reshaping:
    """The real (sandbox) client, with answers echoed in upper case and one left out."""

    def __init__(self, client, drop):
        self.client = client
        self.drop = drop

    def check_domains(self, domains):
        return [
            DomainAvailability(
                f"  {r.domain.upper()} ", r.available, r.unavailable_reason
            )
            for r in self.client.check_domains(domains)
            if r.domain != self.drop
        ]


def test_answers_in_another_form_still_match_and_a_missing_one_is_visible(
    operator_client, draft, remote
):
    check = DomainCheck.objects.create(
        workspace=draft.workspace,
        order=draft,
        domains=["fresh-mail.com", "google-team.com", "lost-mail.com"],
    )

    with instantly_keys.instantly_client_for(workspace=draft.workspace) as client:
        finders.domain_check_run(check=check, client=Reshaping(client, "lost-mail.com"))

    check.refresh_from_db()
    assert check.status == CheckStatus.DONE
    assert check.results == {
        "fresh-mail.com": {"state": "available"},
        "google-team.com": {"state": "restricted", "keyword": ""},
        "lost-mail.com": {"state": "no_answer"},
    }
    page = operator_client.get(
        reverse("orders:check_status", args=[draft.workspace.slug, draft.pk, check.pk]),
        headers=HX,
    ).content.decode()
    assert "no answer from Instantly" in page
    assert "checking…" not in page
