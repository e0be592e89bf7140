"""An operator builds orders in a real browser, against a live server whose sandbox plays
Instantly, with a real Celery worker for the background availability check."""

from __future__ import annotations

import re

import pytest

from orders.models import Order, OrderStatus
from tests.browser.conftest import login

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(180),
]


def start_draft(page, live_server, workspace, order_type="dfy"):  # type: ignore[no-untyped-def]
    page.goto(f"{live_server.url}/w/{workspace.slug}/orders/new/")
    page.check(f"input[name=order_type][value={order_type}]")
    page.click("text=Start the draft")
    page.wait_for_selector("#builder")
    page.wait_for_function("() => window.htmx !== undefined")


def wait_quote(page, text):  # type: ignore[no-untyped-def]
    page.wait_for_function(
        "t => document.querySelector('#quote-panel') && document.querySelector('#quote-panel').innerText.includes(t)",
        arg=text,
    )


def generate(page, row: int, count: int):  # type: ignore[no-untyped-def]
    page.click(f"#item-{row} .generator summary")
    page.fill(f"#gen-{row}-count", str(count))
    page.click(f"#item-{row} button[name=generate]")
    page.wait_for_selector(f"#item-{row}-mb-{count - 1}")


def test_two_domain_google_order_from_suggestions_shows_exact_quote(
    page, live_server, live_remote, operator, workspace, shot
):
    login(page, live_server, operator.username)
    start_draft(page, live_server, workspace)

    page.fill("#suggest-brand", "acme")
    page.click("#finder button:has-text('Suggest')")
    page.wait_for_selector("#suggestions li")
    shot(page, "01-suggestions")
    page.click("#suggestions li:nth-child(1) button")
    page.wait_for_selector("#item-0")
    page.click("#suggestions li:nth-child(2) button")
    page.wait_for_selector("#item-1")
    generate(page, 0, 2)
    generate(page, 1, 2)
    wait_quote(page, "$50.00")
    shot(page, "02-quote")

    assert page.inner_text("#quote-due-now") == "$50.00"
    assert page.inner_text("#quote-per-month") == "$20.00"
    assert "Instantly would accept" in page.inner_text("#quote-panel")
    order = Order.objects.get()
    assert order.items.count() == 2
    assert sum(i.mailboxes.count() for i in order.items.all()) == 4


def test_pasted_120_domains_are_checked_with_live_progress(
    page, live_server, live_remote, operator, workspace, celery_worker_process, shot
):
    domains = [f"brandnew{n}-mail.com" for n in range(118)] + [
        "google-team.com",
        "acme.net",
    ]
    login(page, live_server, operator.username)
    start_draft(page, live_server, workspace)

    page.fill("#check-list", "\n".join(domains))
    page.click("#finder button:has-text('Check availability')")
    page.wait_for_selector("#check-progress")
    shot(page, "01-checking")
    page.wait_for_function(
        "() => { const p = document.querySelector('#check-progress'); return p && p.value === p.max; }",
        timeout=90_000,
    )
    shot(page, "02-checked")

    text = page.inner_text("#domain-check")
    assert "120 of 120" in text
    assert "restricted keyword google" in text
    assert "unsupported TLD" in text
    assert text.count("available") >= 118


def test_microsoft_bundle_order_with_the_generator(
    page, live_server, live_remote, operator, workspace, shot
):
    login(page, live_server, operator.username)
    start_draft(page, live_server, workspace)

    page.click("button[name=add_row]")
    page.fill("#item-0-domain", "contoso-outreach.com")
    page.click("#item-0 .generator summary")
    page.click("#item-0 button[name=ms_bundle]")
    page.wait_for_selector("#item-0-mb-49")
    wait_quote(page, "$35.00")
    shot(page, "01-microsoft-bundle")

    assert page.input_value("#item-0-provider") == "3"
    assert page.locator("#item-0 tbody tr").count() == 50
    assert "Instantly would accept" in page.inner_text("#quote-panel")


def test_restricted_keyword_and_invalid_mailbox_then_fix_and_submit(
    page, live_server, live_remote, operator, workspace, shot
):
    login(page, live_server, operator.username)
    start_draft(page, live_server, workspace)
    page.click("button[name=add_row]")
    page.fill("#item-0-domain", "google-outreach.com")
    generate(page, 0, 2)
    page.fill("input[name=item-0-mb-1-first]", "")
    page.fill("input[name=item-0-mb-1-prefix]", "bad..prefix")
    page.click("button[name=save]")
    page.wait_for_selector("#item-0-mb-1-findings .finding")
    wait_quote(page, "refuse")
    shot(page, "01-problems-on-rows")

    assert "restricted keyword" in page.inner_text("#item-0-findings")
    assert re.search(r"first name", page.inner_text("#item-0-mb-1-findings"), re.I)

    page.fill("#item-0-domain", "northwind-outreach.com")
    page.fill("input[name=item-0-mb-1-first]", "Max")
    page.fill("input[name=item-0-mb-1-prefix]", "max.power")
    page.click("button[name=save]")
    page.wait_for_selector("#item-0-mb-1-findings:empty", state="attached")
    wait_quote(page, "would accept")
    shot(page, "02-fixed")
    page.click("#submit-for-approval")
    page.wait_for_selector("#order-status")
    shot(page, "03-submitted")

    order = Order.objects.get()
    assert order.status == OrderStatus.PENDING_APPROVAL
    assert order.approved_quote.is_valid
    assert "Waiting for approval" in page.inner_text("#order-status")
