"""Mailbox health on the order page, in a real browser against a live server whose sandbox
plays Instantly: the order is placed, made ready and read by the health poll (the polls run
here, as a worker would run them), one mailbox is disconnected at the sandbox, and the page
shows the order's "Needs attention" badge and, per mailbox, its state at Instantly, warmup and
score, daily limit and when it was read, at desktop and phone width."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from orders.models import OrderHealth, OrderStatus
from tests.browser.conftest import login

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(180),
]

PEOPLE = [("Jane", "Roe", "jane"), ("John", "Roe", "john")]


def test_the_order_page_shows_health_per_mailbox(
    page, live_server, live_remote, operator, lead, workspace, monkeypatch, shot
):
    from orders import fulfilment, instantly_keys, mailbox_health, workflow
    from sandbox.switches import account_health_set
    from tests.integration.support import TaskQueue, submitted_order

    queue = TaskQueue(monkeypatch)
    order = submitted_order(
        workspace, operator, items=[("acme-mail.com", 1, PEOPLE)], title="Q3"
    )
    workflow.order_approve(order=order, by=lead)
    queue.run_all()
    with time_machine.travel(timezone.now() + timedelta(days=2, hours=1), tick=True):
        with instantly_keys.instantly_client_for(workspace=workspace) as client:
            fulfilment.fulfilment_poll_workspace(workspace=workspace, client=client)
        account_health_set(
            workspace=live_remote, emails=["john@acme-mail.com"], status=-1
        )
        with instantly_keys.instantly_client_for(workspace=workspace) as client:
            mailbox_health.health_poll_workspace(workspace=workspace, client=client)
    order.refresh_from_db()
    assert (order.status, order.health) == (OrderStatus.READY, OrderHealth.ATTENTION)

    login(page, live_server, operator.username)
    page.goto(f"{live_server.url}{order.get_absolute_url()}")
    page.wait_for_selector("#order-health")

    assert page.inner_text("#order-health") == "Needs attention"
    assert "At Instantly: Needs attention" in page.inner_text("#health-line")
    jane, john = (
        page.locator("table.mailbox-health tbody tr").nth(n).inner_text()
        for n in (0, 1)
    )
    assert "Connected" in jane
    assert "On · score 46" in jane  # 40 + 3 a whole day: two days after set-up
    assert "Disconnected" in john
    assert (
        "A mailbox disconnected or is erroring: 1 of 2 mailboxes needs attention at "
        "Instantly: john@acme-mail.com (disconnected)."
    ) in page.inner_text("#timeline")
    shot(page, "health-desktop")
    page.set_viewport_size({"width": 390, "height": 844})
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, window.innerWidth]"
    )
    shot(page, "health-phone")
    assert widths[0] <= widths[1], widths
    # On a phone the rows stack and each cell says what it is (a CSS label).
    cell = page.locator("table.mailbox-health tbody tr").nth(1).locator("td").nth(3)
    assert cell.inner_text() == "Disconnected"
    assert cell.evaluate("td => getComputedStyle(td, '::before').content") == (
        '"At Instantly "'
    )
