"""Cancelling mailboxes in a real browser against a live server whose sandbox plays Instantly:
the confirmation only queues the cancellation, the order page shows the run and polls it, and
once a worker has sent it the page reloads by itself with the result per mailbox."""

from __future__ import annotations

import pytest

from orders.models import CancellationRun, CancellationStatus
from tests.browser.conftest import login
from tests.browser.sizes import both_sizes
from tests.task_capture import recorded

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(180),
]

PEOPLE = [("Jane", "Roe", "jane"), ("John", "Roe", "john")]


def test_a_confirmed_cancel_is_queued_then_its_result_appears_by_itself(
    page, live_server, live_remote, operator, lead, workspace, monkeypatch, shot
):
    from orders import tasks, workflow
    from tests.integration.support import TaskQueue, submitted_order

    queue = TaskQueue(monkeypatch)
    order = submitted_order(
        workspace,
        operator,
        items=[("acme-mail.com", 1, PEOPLE), ("tryacme.org", 1, PEOPLE[:1])],
    )
    workflow.order_approve(order=order, by=lead)
    queue.run_all()
    sent = recorded(monkeypatch, "orders.cancel_mailboxes")
    login(page, live_server, lead.username)
    page.goto(f"{live_server.url}{order.get_absolute_url()}")
    page.wait_for_function("() => window.htmx !== undefined")

    page.click("#cancel-panel > summary")
    page.check("#cancel-choose input[name=domain][value='tryacme.org']")
    page.click("#cancel-choose button[type=submit]")
    page.wait_for_selector("#cancel-confirm")
    page.fill("#cancel-confirmation", "cancel 1 mailbox")
    page.click("#cancel-confirm button.danger")
    page.wait_for_selector("#cancel-run [hx-get], #cancel-run[hx-get]")

    assert "Cancellation queued: 1 mailbox" in page.inner_text(".messages")
    assert "1 mailbox will be cancelled at Instantly" in page.inner_text("#cancel-run")
    assert page.query_selector("#cancel-panel") is None
    both_sizes(page, shot, "cancel-queued")
    run = CancellationRun.objects.get()
    assert sent == [{"run_id": run.pk}]
    assert run.status == CancellationStatus.QUEUED

    tasks.cancel_mailboxes_task(**sent.pop())  # the worker

    # The poll sees the run end and reloads the page: results, status and panel together.
    page.wait_for_selector("#cancel-results", timeout=10_000)
    assert "1 of 1 mailboxes cancelled." in page.inner_text("#cancel-run")
    assert page.get_attribute("#cancel-run", "hx-get") is None
    assert "jane@tryacme.org\tCancelled" in page.inner_text("#cancel-results")
    assert "Partially cancelled" in page.inner_text("#order-status")
    assert page.query_selector("#cancel-panel") is not None
    both_sizes(page, shot, "cancel-done")
