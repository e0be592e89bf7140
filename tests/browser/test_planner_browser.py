"""The capacity planner in a real browser against a live server whose sandbox plays
Instantly: typing updates the alternatives, "Create draft" opens the builder, whose live
quote says what the planner said, and the draft goes to approval."""

from __future__ import annotations

import pytest

from orders.models import Order, OrderStatus
from tests.browser.conftest import login
from tests.browser.sizes import both_sizes

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(180),
]


def test_plan_then_create_the_draft_and_the_quote_agrees_then_submit(
    page, live_server, live_remote, operator, workspace, shot
):
    login(page, live_server, operator.username)
    page.click("nav.mainnav >> text=Plan")
    page.wait_for_selector("#alt-dfy-cheapest")

    page.fill("#id_target", "450")
    page.fill("#id_budget", "60")
    page.select_option("#id_kind", "dfy")
    page.fill("#id_seeds", "northwind")
    page.wait_for_function(
        "() => document.querySelector('#alt-dfy-1 .plan-figures')"
        " && document.querySelector('#alt-dfy-1').innerText.includes('450')"
    )
    both_sizes(page, shot, "01-alternatives")

    google = page.locator("#alt-dfy-1")
    assert "3 domains (5 × 5 mailboxes)" not in google.inner_text()
    assert "Google: 3 domains (3 × 5 mailboxes)" in google.inner_text()
    assert "$75.00" in google.inner_text()  # 15 mailboxes at $5
    assert "over by $15.00" in google.inner_text()
    assert page.input_value("#id_seeds") == "northwind"  # what was typed stays

    page.fill("#id_target", "0")
    page.wait_for_selector("#plan-errors")
    assert "Target sends per day: Ensure this value is greater than or equal to 1." in (
        page.inner_text("#plan-errors")
    )
    shot(page, "02-bad-input")
    assert page.input_value("#id_target") == "0"
    page.fill("#id_target", "450")
    page.wait_for_selector("#alt-dfy-1 .plan-figures")

    due_now = page.get_attribute("#alt-dfy-1", "data-due-now")
    page.click("#alt-dfy-1 .plan-create")
    page.wait_for_url(lambda url: url.endswith("/build/"))
    page.wait_for_selector("#quote-due-now")
    both_sizes(page, shot, "03-draft-quote")

    assert page.inner_text("#quote-due-now") == f"${due_now}"
    order = Order.objects.get()
    assert order.items.count() == 3

    page.click("#submit-for-approval")
    page.wait_for_selector("#order-status")
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_APPROVAL
    assert order.approved_quote is not None
    assert str(order.approved_quote.due_now) == due_now
