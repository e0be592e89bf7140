"""A lead reviews what the workspace owns and spends, then exports failed Microsoft orders; a
staff user finds an order in the admin by one of its mailbox addresses. Real browser, live
server, a generated year of history."""

from __future__ import annotations

import csv
import io

import pytest

from orders.history_generator import orders_generate
from orders.models import Mailbox, Order
from tests.browser.conftest import login
from tests.orders.history_data import make_order

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(180),
]

MICROSOFT = 3


@pytest.fixture
def history(workspace, operator, lead):
    orders_generate(
        workspace=workspace,
        requesters=[operator, lead],
        approvers=[lead],
        orders=160,
        seed=11,
        every_status=True,
    )
    for n in range(3):  # whatever the generator drew, some are certain to be there
        make_order(
            workspace,
            operator,
            status="failed",
            title=f"Refused Microsoft {n}",
            items=[(f"refused{n}.com", MICROSOFT, ["anna", "ben"])],
            due_now="35.00",
        )
    failed_microsoft = Order.objects.filter(
        workspace=workspace, status="failed", items__provider=MICROSOFT
    ).distinct()
    return {order.pk for order in failed_microsoft}


def test_lead_reviews_spend_and_exports_failed_microsoft_orders(
    page, live_server, workspace, lead, history, shot
):
    login(page, live_server, lead.username)

    page.goto(f"{live_server.url}/w/{workspace.slug}/")
    page.wait_for_selector("#spend svg.chart rect")
    assert page.locator("#active-monthly .big").inner_text().startswith("$")
    shot(page, "01-dashboard")

    page.click("nav.mainnav >> text=Orders")
    page.wait_for_selector("#order-table tbody tr")
    page.wait_for_function("() => window.htmx !== undefined")
    shot(page, "02-history")

    page.select_option("#id_status", "failed")
    page.wait_for_url(lambda url: "status=failed" in url)
    page.select_option("#id_provider", str(MICROSOFT))
    page.wait_for_url(lambda url: "provider=3" in url and "status=failed" in url)
    page.wait_for_function(
        "n => document.querySelectorAll('#order-table tbody tr[id^=order-]').length === n",
        arg=len(history),
    )
    shown = {
        int(row_id.removeprefix("order-"))
        for row_id in page.locator("#order-table tbody tr").evaluate_all(
            "rows => rows.map(r => r.id)"
        )
    }
    assert shown == history
    assert "provider=" in page.url
    assert "type=" not in page.url  # empty filters stay out of the address bar
    shot(page, "03-failed-microsoft")

    with page.expect_download() as download_info:
        page.click("#history-export")
    download = download_info.value
    rows = list(csv.DictReader(io.StringIO(download.path().read_text("utf-8"))))

    assert download.suggested_filename.startswith(f"orders-{workspace.slug}-")
    assert {int(r["order_id"]) for r in rows} == history
    assert {r["status"] for r in rows} == {"failed"}
    assert all("Microsoft" in r["providers"] for r in rows)

    page.go_back()
    page.wait_for_url(lambda url: "provider=3" not in url)
    page.wait_for_function(
        "n => document.querySelectorAll('#order-table tbody tr[id^=order-]').length > n",
        arg=len(history),
    )
    assert page.input_value("#id_status") == "failed"
    assert page.input_value("#id_provider") == ""
    shot(page, "04-back-button")


def test_staff_finds_an_order_in_the_admin_by_mailbox_address(
    page, live_server, workspace, lead, admin_user, history, shot
):
    mailbox = (
        Mailbox.objects.filter(item__order__workspace=workspace)
        .select_related("item__order")
        .order_by("pk")[25]
    )
    order = mailbox.item.order
    login(page, live_server, admin_user.username, password="password")

    page.goto(f"{live_server.url}/admin/orders/order/")
    page.fill("#searchbar", mailbox.email.upper())
    page.click("#changelist-search input[type=submit]")
    page.wait_for_selector("#result_list")
    shot(page, "01-admin-search")

    results = page.locator("#result_list tbody tr")
    assert (
        results.count()
        == Order.objects.filter(
            pk__in=Mailbox.objects.filter(
                email_prefix__iexact=mailbox.email_prefix,
                item__domain__iexact=mailbox.item.domain,
            ).values("item__order_id")
        ).count()
    )
    page.click(f"#result_list a[href*='/admin/orders/order/{order.pk}/change/']")
    page.wait_for_selector("text=View order")
    assert mailbox.email in page.content()
    shot(page, "02-admin-order")
