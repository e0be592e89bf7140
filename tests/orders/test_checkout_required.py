"""Hosted checkout (Instantly 2026-07): with no default card at Instantly a real order answers
checkout_required. The order then waits for a person (awaiting_checkout), is never sent again
by itself, and a lead's "Try again" re-approves it as one new attempt."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from orders import tasks, workflow
from orders.models import Order, OrderStatus
from sandbox.models import DomainOrder, SandboxWorkspace
from tests.integration.support import submitted_order

pytestmark = pytest.mark.django_db


def card_on_file(remote, on):
    SandboxWorkspace.objects.filter(pk=remote.sandbox.pk).update(has_payment_method=on)


@pytest.fixture
def waiting(
    workspace, operator, lead, remote, queue, django_capture_on_commit_callbacks
):
    """An order approved without a card at Instantly and placed once: awaiting checkout."""
    card_on_file(remote, False)
    order = submitted_order(workspace, operator)
    with django_capture_on_commit_callbacks(execute=True):
        workflow.order_approve(order=order, by=lead)
    queue.sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        tasks.place_order_task(order_id=order.pk)
    order.refresh_from_db()
    return order


def kinds(order):
    return list(order.events.values_list("kind", flat=True))


def test_checkout_required_ends_in_a_clear_waiting_state_not_failed(waiting, remote):
    assert waiting.status == OrderStatus.AWAITING_CHECKOUT
    assert waiting.get_status_display() == "Awaiting payment at Instantly"
    assert waiting.refusal["checkout_required"] is True
    assert waiting.refusal["cart_order_id"]
    assert "adds a card in Instantly" in waiting.attention_reason
    assert "Try again" in waiting.attention_reason
    assert waiting.finished_at is None
    assert kinds(waiting)[-3:] == ["claimed", "place_request", "awaiting_checkout"]
    assert remote.real_posts() == 1
    assert not DomainOrder.objects.exists()
    assert mail.outbox[-1].subject == "Awaiting payment at Instantly: Q3"
    assert "adds a card in Instantly" in mail.outbox[-1].body


def test_nothing_is_posted_again_behind_their_back(
    waiting, remote, queue, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        tasks.place_order_task(order_id=waiting.pk)
    with (
        time_machine.travel(timezone.now() + timedelta(hours=3)),
        django_capture_on_commit_callbacks(execute=True),
    ):
        workflow.orders_sweep()
    queue.drain(django_capture_on_commit_callbacks)

    waiting.refresh_from_db()
    assert waiting.status == OrderStatus.AWAITING_CHECKOUT
    assert remote.real_posts() == 1


def test_try_again_after_a_card_is_added_places_one_new_attempt(
    waiting, remote, ws_admin, queue, django_capture_on_commit_callbacks
):
    old_attempt = waiting.submission_attempt_id
    card_on_file(remote, True)

    with django_capture_on_commit_callbacks(execute=True):
        workflow.order_resubmit(order=waiting, by=ws_admin, comment="Card added")
    waiting.refresh_from_db()
    assert waiting.status == OrderStatus.APPROVED
    assert waiting.attention_reason == ""
    queue.drain(django_capture_on_commit_callbacks)

    waiting.refresh_from_db()
    assert waiting.status == OrderStatus.PLACED
    assert waiting.submission_attempt_id != old_attempt
    assert remote.real_posts() == 2
    assert DomainOrder.objects.filter(workspace=remote.sandbox).count() == 1


def test_try_again_without_a_card_waits_again_and_posts_once_more(
    waiting, remote, ws_admin, queue, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        workflow.order_resubmit(order=waiting, by=ws_admin)
    queue.drain(django_capture_on_commit_callbacks)

    waiting.refresh_from_db()
    assert waiting.status == OrderStatus.AWAITING_CHECKOUT
    assert remote.real_posts() == 2


def test_four_eyes_applies_to_try_again(waiting, lead, operator):
    Order.objects.filter(pk=waiting.pk).update(submitted_by=lead)
    waiting.refresh_from_db()

    with pytest.raises(workflow.ApprovalRefused, match="Four-eyes"):
        workflow.order_resubmit(order=waiting, by=lead)
    with pytest.raises(workflow.ApprovalRefused, match="Only a lead"):
        workflow.order_resubmit(order=waiting, by=operator)


def test_waiting_too_long_reminds_the_requester_once(
    waiting, settings, django_capture_on_commit_callbacks
):
    settings.DFY_AWAITING_CHECKOUT_REMIND_SECONDS = 3600
    sent = len(mail.outbox)
    later = timezone.now() + timedelta(hours=2)

    with (
        time_machine.travel(later),
        django_capture_on_commit_callbacks(execute=True),
    ):
        first = workflow.orders_flag_overdue(now=later)
        second = workflow.orders_flag_overdue(now=later)

    waiting.refresh_from_db()
    assert (first, second) == (1, 0)
    assert waiting.status == OrderStatus.AWAITING_CHECKOUT
    assert kinds(waiting)[-1] == "checkout_reminder"
    assert len(mail.outbox) == sent + 1
    assert mail.outbox[-1].subject == "Awaiting payment at Instantly: Q3"


# --- What people see ------------------------------------------------------------------------
def detail(order):
    return reverse("orders:detail", args=[order.workspace.slug, order.pk])


def test_order_page_tells_a_person_what_to_do_and_offers_try_again(
    waiting, client, ws_admin, operator
):
    client.force_login(ws_admin)
    page = client.get(detail(waiting)).content.decode()

    assert "Awaiting payment at Instantly" in page
    assert "adds a card in Instantly" in page
    assert 'id="checkout-retry-form"' in page
    assert "Try again" in page
    assert "Instantly did not place this order" not in page

    client.force_login(operator)
    page = client.get(detail(waiting)).content.decode()
    assert "Awaiting payment at Instantly" in page
    assert 'id="checkout-retry-form"' not in page


def test_try_again_button_re_approves_through_the_resolve_view(
    waiting, client, ws_admin, remote, queue
):
    card_on_file(remote, True)
    client.force_login(ws_admin)

    response = client.post(
        reverse("orders:resolve", args=[waiting.workspace.slug, waiting.pk]),
        {"action": "resubmit", "comment": "card added"},
    )

    waiting.refresh_from_db()
    assert response.status_code == 302
    assert waiting.status == OrderStatus.APPROVED
    assert waiting.events.last().kind == "resubmitted"


def test_the_quote_says_before_approval_that_no_card_is_on_file(
    workspace, operator, lead, remote, client
):
    card_on_file(remote, False)
    without = submitted_order(workspace, operator, title="No card")
    card_on_file(remote, True)
    with_card = submitted_order(
        workspace,
        operator,
        title="Card",
        items=[("other-mail.com", 1, [("A", "B", "ab")])],
    )
    client.force_login(lead)

    inbox = client.get(
        reverse("orders:approvals", args=[workspace.slug])
    ).content.decode()
    page = client.get(detail(without)).content.decode()
    carded = client.get(detail(with_card)).content.decode()

    assert f'id="approval-{without.pk}-no-card"' in inbox
    assert f'id="approval-{with_card.pk}-no-card"' not in inbox
    assert "No card is on file at Instantly" in page
    assert "No card is on file at Instantly" not in carded


def test_the_builder_quote_says_no_card_is_on_file(operator_client, workspace, remote):
    from tests.orders.test_builder_views import HX, build_url, form_state

    card_on_file(remote, False)
    operator_client.post(
        reverse("orders:new", args=[workspace.slug]), {"order_type": "dfy"}
    )
    order = Order.objects.get()
    operator_client.post(
        build_url(order),
        form_state(order, items=[("acme-mail.com", 1, [("Jane", "Roe", "jane")])]),
        headers=HX,
    )

    html = operator_client.post(
        reverse("orders:quote", args=[workspace.slug, order.pk]), headers=HX
    ).content.decode()

    assert 'id="quote-no-card"' in html
    assert "Instantly would accept this order" in html


def test_a_placed_order_no_longer_warns_about_a_missing_card(
    workspace, operator, lead, remote, client
):
    # The warning is about what a real order would do; once one was placed it is history.
    card_on_file(remote, False)
    order = submitted_order(workspace, operator, title="Bought")
    Order.objects.filter(pk=order.pk).update(
        status=OrderStatus.READY, placed_at=timezone.now(), ready_at=timezone.now()
    )
    client.force_login(lead)

    page = client.get(detail(order)).content.decode()

    assert "No card is on file at Instantly" not in page
