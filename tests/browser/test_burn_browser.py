"""Burn-and-replace in a real browser against a live server whose sandbox plays Instantly:
an operator marks a delivered domain burned on its order's page, follows the link to the
replacement draft (whose builder shows the availability check and a live quote) and submits
it for approval; the burned domain's cancellation waits on the Renewals page."""

from __future__ import annotations

import pytest

from orders.models import DomainBurn, OrderStatus, ScheduleStatus
from tests.browser.conftest import login
from tests.browser.sizes import both_sizes

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(180),
]

PEOPLE = [("Jane", "Roe", "jane"), ("John", "Roe", "john")]


@pytest.fixture
def delivered(live_remote, workspace, operator, lead, monkeypatch):  # type: ignore[no-untyped-def]
    """Placed through the money path, then made ready by the fulfilment poll."""
    from orders import fulfilment, instantly_keys, workflow
    from sandbox.switches import switches_set
    from tests.integration.support import TaskQueue, submitted_order

    switches_set(workspace=live_remote, provisioning_delay_seconds=0)
    queue = TaskQueue(monkeypatch)
    order = submitted_order(
        workspace,
        operator,
        items=[("acme-mail.com", 1, PEOPLE), ("tryacme.org", 1, PEOPLE[:1])],
    )
    workflow.order_approve(order=order, by=lead)
    queue.run_all()
    with instantly_keys.instantly_client_for(workspace=workspace) as client:
        fulfilment.fulfilment_poll_workspace(workspace=workspace, client=client)
    order.refresh_from_db()
    assert order.status == OrderStatus.READY
    return order


def test_mark_burned_follow_the_replacement_submit_it_and_see_the_schedule(
    page, live_server, delivered, operator, workspace, monkeypatch, shot
):
    from orders import tasks
    from tests.task_capture import recorded

    checks = recorded(monkeypatch, "orders.check_domains")
    item = delivered.items.get(domain="acme-mail.com")
    login(page, live_server, operator.username)
    page.goto(f"{live_server.url}{delivered.get_absolute_url()}")
    page.wait_for_function("() => window.htmx !== undefined")
    panel = f"#burn-{item.pk}"
    assert "Mark burned" in page.inner_text(panel)

    page.click(f"{panel} summary")
    page.select_option(f"#burn-{item.pk}-reason", "poor_placement")
    page.fill(f"#burn-{item.pk}-note", "Seed tests land in spam since Monday")
    both_sizes(page, shot, "01-mark-form")
    page.click(f"#burn-{item.pk}-submit")
    page.wait_for_selector(f"{panel}.burned")

    burn = DomainBurn.objects.select_related("replacement", "schedule").get()
    replacement, schedule = burn.replacement, burn.schedule
    assert replacement is not None
    assert schedule is not None
    text = page.inner_text(panel)
    assert "acme-mail.com is marked burned (Poor inbox placement)." in text
    assert "by olivia" in text
    assert "Seed tests land in spam since Monday" in text
    assert "Awaiting approval" in text
    # The timeline was swapped in without a reload.
    assert "Domain marked burned" in page.inner_text("#timeline")
    both_sizes(page, shot, "02-marked")

    # The background availability check, as the worker would run it.
    assert len(checks) == 1
    tasks.check_domains_task(**checks.pop())

    page.click(f"#burn-{item.pk}-replacement a")
    page.wait_for_selector("#builder")
    page.wait_for_function("() => window.htmx !== undefined")
    assert page.url.endswith(f"/orders/{replacement.pk}/build/")
    new_domain = replacement.items.get().domain
    assert page.input_value("#item-0-domain") == new_domain
    assert "1 of 1" in page.inner_text("#domain-check")
    assert "available" in page.inner_text("#domain-check")
    page.wait_for_function(
        "() => document.querySelector('#quote-panel') && "
        "document.querySelector('#quote-panel').innerText.includes('Instantly would accept')"
    )
    assert "$" in page.inner_text("#quote-due-now")
    both_sizes(page, shot, "03-replacement-builder")

    page.click("#submit-for-approval")
    page.wait_for_url(lambda url: "/build/" not in url)
    replacement.refresh_from_db()
    assert replacement.status == OrderStatus.PENDING_APPROVAL

    page.goto(f"{live_server.url}/w/{workspace.slug}/renewals/")
    row = page.inner_text(f"#schedule-{schedule.pk}")
    assert "Awaiting approval" in row
    assert "jane@acme-mail.com, john@acme-mail.com" in row
    schedule.refresh_from_db()
    assert schedule.status == ScheduleStatus.AWAITING_APPROVAL
    both_sizes(page, shot, "04-renewals")

    # The history marks the order that lost a domain, in its status cell.
    page.goto(f"{live_server.url}/w/{workspace.slug}/orders/")
    status = page.inner_text(f"#order-{delivered.pk} .status-cell")
    assert "1 burned" in status
    both_sizes(page, shot, "05-history-burned")
