"""The renewals page in a real browser against a live server whose sandbox plays Instantly:
the forecast's chart and table, scheduling a domain's cancellation before the next renewal
from the page, another lead approving it, and scheduling from an order's cancel panel."""

from __future__ import annotations

import pytest

from orders.models import ScheduledCancellation, ScheduleStatus
from tests.browser.conftest import login
from tests.browser.sizes import both_sizes
from tests.factories import MembershipFactory, UserFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(180),
]

PEOPLE = [("Jane", "Roe", "jane"), ("John", "Roe", "john")]


@pytest.fixture
def placed(live_remote, workspace, operator, lead, monkeypatch):  # type: ignore[no-untyped-def]
    from orders import workflow
    from tests.integration.support import TaskQueue, submitted_order

    queue = TaskQueue(monkeypatch)
    order = submitted_order(
        workspace,
        operator,
        items=[("acme-mail.com", 1, PEOPLE), ("tryacme.org", 1, PEOPLE[:1])],
    )
    workflow.order_approve(order=order, by=lead)
    queue.run_all()
    return order


def test_schedule_a_domain_from_the_renewals_page_then_a_second_lead_approves(
    page, browser, live_server, placed, lead, workspace, settings, shot
):
    settings.DFY_SCHEDULED_CANCEL_APPROVAL_OVER = 0
    MembershipFactory(
        workspace=workspace, role="lead", user=UserFactory(username="lena")
    )
    login(page, live_server, lead.username)
    page.goto(f"{live_server.url}/w/{workspace.slug}/renewals/")

    assert "$15.00" in page.inner_text("#renewal-next")  # 3 Google mailboxes at $5
    assert page.locator("#forecast-table tbody tr").count() == 12
    assert page.locator("#forecast svg rect").count() >= 12
    both_sizes(page, shot, "renewals")

    page.fill("#renewal-q", "tryacme")
    page.click("#choose button:has-text('Find')")
    page.wait_for_url(lambda url: "q=tryacme" in url)
    assert page.locator("#renewable-domains li").count() == 1
    page.check("#renewable-domains input[name=item]")
    page.click("#schedule-submit")
    page.wait_for_selector("#open-schedules")

    made = ScheduledCancellation.objects.get()
    assert made.status == ScheduleStatus.AWAITING_APPROVAL
    assert "once a lead approves" in page.inner_text(".messages")
    row = page.inner_text(f"#schedule-{made.pk}")
    assert "Awaiting approval" in row
    assert "$5.00 a month" in row
    assert page.query_selector(f"#approve-{made.pk}") is None  # not its own author's
    assert "$5.00 a month" in page.inner_text("#renewal-savings")
    both_sizes(page, shot, "renewals-scheduled")

    other = browser.new_context(viewport={"width": 390, "height": 844})
    second = other.new_page()
    login(second, live_server, "lena")
    second.goto(f"{live_server.url}/w/{workspace.slug}/renewals/")
    second.click(f"#approve-{made.pk}")
    second.wait_for_selector(".messages")
    assert "Approved" in second.inner_text(".messages")
    assert "Approved" in second.inner_text(f"#schedule-{made.pk}")
    shot(second, "renewals-approved-phone")
    other.close()


def test_schedule_from_the_order_cancel_panel(
    page, live_server, placed, lead, workspace, shot
):
    login(page, live_server, lead.username)
    page.goto(f"{live_server.url}{placed.get_absolute_url()}")
    page.wait_for_function("() => window.htmx !== undefined")

    page.click("#cancel-panel > summary")
    page.check("#cancel-choose input[name=domain][value='acme-mail.com']")
    page.click("#schedule-renewal-cancel")
    page.wait_for_url(lambda url: "/renewals/" in url)
    page.wait_for_selector("#open-schedules")

    made = ScheduledCancellation.objects.get()
    assert made.status == ScheduleStatus.SCHEDULED
    assert made.emails == ["jane@acme-mail.com", "john@acme-mail.com"]
    assert "Scheduled: 2 mailboxes will be cancelled" in page.inner_text(".messages")
    both_sizes(page, shot, "renewals-from-order")

    page.click(f"#unschedule-{made.pk}")
    page.wait_for_selector("#no-schedules")
    made.refresh_from_db()
    assert made.status == ScheduleStatus.UNSCHEDULED
