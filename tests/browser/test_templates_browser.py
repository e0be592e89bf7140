"""Templates and "order again" in a real browser: save a ready order's shape, make a draft
from it with new names, watch the background check finish (a real Celery worker) and the
live quote arrive, submit it; and "Order again" straight from the order page."""

from __future__ import annotations

import pytest
from django.utils import timezone

from orders.models import Order, OrderStatus, OrderTemplate
from tests.browser.conftest import login
from tests.integration.support import JANE, JOHN, draft_order

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(240),
]

SIZES = {
    "desktop": {"width": 1400, "height": 1000},
    "phone": {"width": 390, "height": 844},
}


def ready_order(workspace, operator):  # type: ignore[no-untyped-def]
    order = draft_order(
        workspace,
        operator,
        title="Q3 outreach",
        items=[("acme-mail.com", 1, [JANE, JOHN]), ("tryacme.org", 1, [JANE])],
    )
    Order.objects.filter(pk=order.pk).update(
        status=OrderStatus.READY, placed_at=timezone.now(), ready_at=timezone.now()
    )
    return order


def open_page(browser, live_server, username, size):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport=SIZES[size])
    page = context.new_page()
    page.set_default_timeout(20_000)
    errors: list[str] = []
    page.on(
        "console",
        lambda m: errors.append(m.text) if m.type == "error" else None,
    )
    login(page, live_server, username)
    return context, page, errors


def scrolls_sideways(page) -> bool:  # type: ignore[no-untyped-def]
    return bool(
        page.evaluate("() => document.documentElement.scrollWidth > window.innerWidth")
    )


def wait_check_done(page) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_function(
        "() => { const p = document.querySelector('#check-progress');"
        " return p && p.max > 0 && p.value === p.max; }",
        timeout=90_000,
    )


def wait_quote(page, text: str) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_function(
        "t => { const q = document.querySelector('#quote-panel');"
        " return q && q.innerText.includes(t); }",
        arg=text,
        timeout=30_000,
    )


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_save_a_template_then_draft_from_it_check_quote_and_submit(
    browser,
    live_server,
    live_remote,
    workspace,
    operator,
    celery_worker_process,
    shot,
    size,
):
    order = ready_order(workspace, operator)
    context, page, errors = open_page(browser, live_server, operator.username, size)

    page.goto(f"{live_server.url}{order.get_absolute_url()}")
    page.wait_for_function("() => window.htmx !== undefined")
    page.fill("#id_template_name", "Two Google domains")
    page.click("#template-save-button")
    page.wait_for_selector("#template-save.message")
    shot(page, f"01-saved-{size}")
    assert "Saved the template “Two Google domains”" in page.inner_text(
        "#shape-actions"
    )
    assert OrderTemplate.objects.get().name == "Two Google domains"

    page.click("#shape-actions a:has-text('All templates')")
    page.wait_for_selector(".template-card")
    shot(page, f"02-templates-{size}")
    card = page.inner_text(".template-card")
    assert "2 Google domains with" not in card  # 2 and 1 mailboxes: two groups
    assert "1 Google domain with 2 mailboxes" in card
    assert "Jane Roe, John Roe" in card
    assert not scrolls_sideways(page)

    page.fill(".template-card input[name=seeds]", "globex")
    page.click(".template-card button:has-text('New draft from template')")
    page.wait_for_selector("#builder")
    assert "New draft with 2 new domains" in page.inner_text("#builder")
    wait_check_done(page)
    wait_quote(page, "would accept")
    shot(page, f"03-builder-checked-quoted-{size}")

    draft = Order.objects.exclude(pk=order.pk).get()
    domains = list(draft.items.values_list("domain", flat=True))
    check_text = page.inner_text("#domain-check")
    assert "2 of 2" in check_text
    assert check_text.count("in the draft") == 2
    assert all("globex" in d for d in domains)
    assert not scrolls_sideways(page)

    page.click("#submit-for-approval")
    page.wait_for_selector("#order-status")
    shot(page, f"04-submitted-{size}")
    draft.refresh_from_db()
    assert draft.status == OrderStatus.PENDING_APPROVAL
    assert draft.approved_quote.is_valid
    assert errors == []
    context.close()


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_order_again_from_a_ready_order_opens_a_priced_draft(
    browser, live_server, live_remote, workspace, operator, shot, size
):
    order = ready_order(workspace, operator)
    context, page, errors = open_page(browser, live_server, operator.username, size)

    page.goto(f"{live_server.url}{order.get_absolute_url()}")
    shot(page, f"01-ready-order-{size}")
    page.click("#order-again")
    page.wait_for_selector("#builder")
    wait_quote(page, "would accept")
    shot(page, f"02-again-builder-{size}")

    again = Order.objects.exclude(pk=order.pk).get()
    assert again.title == "Q3 outreach (again)"
    items = list(again.items.all())
    assert [i.domain.rsplit(".", 1)[1] for i in items] == ["com", "org"]
    assert [i.mailboxes.count() for i in items] == [2, 1]
    assert page.input_value("#item-0-domain") == items[0].domain
    assert "their availability is being checked" in page.inner_text("#builder")
    assert not scrolls_sideways(page)
    assert errors == []
    context.close()
