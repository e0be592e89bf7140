"""The money stays in view (issue #10, items 7 and 8), in a real browser against a live
server whose sandbox plays Instantly: the slim sticky summary and its jump links, the phone's
bottom bar, CSV errors beside the import control with the focus on them, and a quote that
follows a CSV import and a provider change."""

from __future__ import annotations

from pathlib import Path

import pytest

from orders.models import Order
from tests.browser.conftest import login
from tests.integration.support import draft_order

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(180),
]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
PEOPLE = [("Jane", "Roe", "jane"), ("John", "Roe", "john"), ("Max", "Power", "max")]


def in_view(page, selector: str) -> bool:  # type: ignore[no-untyped-def]
    return page.eval_on_selector(
        selector,
        """el => { const r = el.getBoundingClientRect();
                   return r.height > 0 && r.top >= 0 && r.bottom <= window.innerHeight + 1; }""",
    )


def long_draft(workspace, operator) -> Order:  # type: ignore[no-untyped-def]
    """Eight domains of three mailboxes; the last mailbox of the last one has no first name."""
    items = [(f"brandnew{n}-mail.com", 1, PEOPLE) for n in range(8)]
    items[-1] = ("brandnew7-mail.com", 1, [*PEOPLE[:2], ("", "Power", "max")])
    return draft_order(workspace, operator, items=items)


def open_builder(page, live_server, order):  # type: ignore[no-untyped-def]
    page.goto(f"{live_server.url}/w/{order.workspace.slug}/orders/{order.pk}/build/")
    page.wait_for_selector("#builder")
    page.wait_for_function("() => window.htmx !== undefined")


def wait_summary(page, text):  # type: ignore[no-untyped-def]
    page.wait_for_function(
        "t => { const s = document.querySelector('#quote-summary'); return s && s.innerText.includes(t); }",
        arg=text,
    )


def test_summary_stays_in_view_and_its_links_jump_to_each_problem(
    page, live_server, live_remote, operator, workspace
):
    page.set_viewport_size({"width": 1440, "height": 900})
    order = long_draft(workspace, operator)
    login(page, live_server, operator.username)
    open_builder(page, live_server, order)

    # The saved draft had no quote yet: the panel asks for one by itself.
    wait_summary(page, "Due now")
    summary = page.inner_text("#quote-summary")
    # 8 × $15.00 + 24 × $5.00: Instantly prices the invalid mailbox too.
    assert "$240.00" in summary
    assert "$120.00" in summary
    assert "1 problem" in summary

    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    page.wait_for_timeout(100)
    assert in_view(page, "#quote-summary")
    page.evaluate("window.scrollTo(0, document.body.scrollHeight / 2)")
    page.wait_for_timeout(100)
    assert in_view(page, "#quote-summary")

    page.evaluate("window.scrollTo(0, 0)")
    page.click("#quote-summary a.qs-jump")
    page.wait_for_function("() => location.hash === '#item-7-mb-2'")
    page.wait_for_timeout(100)
    assert in_view(page, "#item-7-mb-2")
    assert page.evaluate("document.activeElement.name") == "item-7-mb-2-first"

    # Nothing in the side column is out of reach: its last card scrolls into view.
    page.locator("#csv-file").scroll_into_view_if_needed()
    page.wait_for_timeout(100)
    assert in_view(page, "#csv-file")

    page.evaluate("window.scrollTo(0, 0)")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(
        path=str(SCREENSHOTS / "builder-quote-desktop.png"), caret="initial"
    )


def test_phone_shows_the_summary_as_a_bottom_bar(
    page, live_server, live_remote, operator, workspace
):
    page.set_viewport_size({"width": 390, "height": 844})
    order = long_draft(workspace, operator)
    login(page, live_server, operator.username)
    open_builder(page, live_server, order)
    wait_summary(page, "Due now")

    for position in ("0", "document.body.scrollHeight / 3"):
        page.evaluate(f"window.scrollTo(0, {position})")
        page.wait_for_timeout(100)
        box = page.eval_on_selector(
            "#quote-summary",
            "el => { const r = el.getBoundingClientRect(); return [r.top, r.bottom, window.innerHeight, r.width]; }",
        )
        top, bottom, height, width = box
        assert abs(bottom - height) <= 1  # along the bottom edge
        assert top > height / 2
        assert width >= 389
    # The page can scroll its last content above the bar.
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    page.wait_for_timeout(100)
    overlap = page.evaluate(
        """() => { const bar = document.querySelector('#quote-summary').getBoundingClientRect();
                   const last = document.querySelector('#csv-tools').getBoundingClientRect();
                   return last.bottom - bar.top; }"""
    )
    assert overlap <= 0

    page.evaluate("window.scrollTo(0, 0)")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "builder-quote-phone.png"), caret="initial")


def test_csv_errors_sit_beside_the_import_control_and_take_the_focus(
    page, live_server, live_remote, operator, workspace, tmp_path
):
    page.set_viewport_size({"width": 1440, "height": 900})
    order = long_draft(workspace, operator)
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "domain,first_name,last_name,email_prefix\nacme-mail.com,,Roe,jane\n"
    )
    login(page, live_server, operator.username)
    open_builder(page, live_server, order)

    page.set_input_files("#csv-file", str(bad))
    page.click("#csv-import button[type=submit]")
    page.wait_for_selector("#csv-errors")

    assert page.evaluate("document.activeElement.id") == "csv-errors"
    assert page.locator("#csv-import #csv-errors").count() == 1
    assert in_view(page, "#csv-errors")
    assert in_view(page, "#csv-file")
    assert "Nothing was imported" in page.inner_text("#csv-errors")


def test_quote_follows_a_csv_import(
    page, live_server, live_remote, operator, workspace, tmp_path
):
    order = draft_order(workspace, operator, items=[])
    good = tmp_path / "good.csv"
    good.write_text(
        "domain,first_name,last_name,email_prefix\n"
        "acme-mail.com,Jane,Roe,jane\nacme-mail.com,John,Roe,john\n"
        "tryacme.org,Jane,Roe,jane\n"
    )
    login(page, live_server, operator.username)
    open_builder(page, live_server, order)

    page.set_input_files("#csv-file", str(good))
    page.click("#csv-import button[type=submit]")
    page.wait_for_selector("#item-1")
    wait_summary(page, "$45.00")

    assert page.inner_text("#quote-due-now") == "$45.00"
    assert page.inner_text("#quote-per-month") == "$15.00"
    assert "tryacme.org" in page.inner_text("#bill")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1440, "height": 900})
    page.locator("#bill").scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "builder-bill-desktop.png"), caret="initial")


def test_provider_change_updates_the_rule_text_and_the_quote(
    page, live_server, live_remote, operator, workspace
):
    order = draft_order(workspace, operator, items=[("acme-mail.com", 1, [PEOPLE[0]])])
    login(page, live_server, operator.username)
    open_builder(page, live_server, order)
    wait_summary(page, "$20.00")
    assert page.inner_text("#item-0-rule").startswith("Google")

    page.select_option("#item-0-provider", "3")
    page.wait_for_function(
        "() => document.querySelector('#item-0-rule').innerText.startsWith('Microsoft')"
    )
    # Microsoft is billed per domain ($20.00 a month) plus the domain ($15.00 a year).
    wait_summary(page, "$35.00")

    assert "Microsoft, billed per domain" in page.inner_text("#bill")
    assert "Google" not in page.inner_text("#item-0-rule")


def test_order_page_bill_after_a_partial_cancel(
    page, live_server, live_remote, operator, lead, workspace, monkeypatch
):
    """Screenshot of the order page's bill; the words are asserted at HTTP level too."""
    from orders import cancellation_runs, workflow
    from orders.models import Mailbox
    from tests.integration.support import TaskQueue, submitted_order

    queue = TaskQueue(monkeypatch)
    order = submitted_order(
        workspace,
        operator,
        items=[("acme-mail.com", 1, PEOPLE[:2]), ("tryacme.org", 1, PEOPLE[:1])],
    )
    workflow.order_approve(order=order, by=lead)
    queue.run_all()
    order.refresh_from_db()
    jane = Mailbox.objects.get(
        item__order=order, item__domain="acme-mail.com", email_prefix="jane"
    )
    cancellation_runs.order_cancel_mailboxes(
        order=order, by=lead, mailbox_ids=[jane.pk], confirmation="cancel 1 mailbox"
    )
    page.set_viewport_size({"width": 1440, "height": 900})
    login(page, live_server, lead.username)
    page.goto(f"{live_server.url}{order.get_absolute_url()}")
    page.wait_for_selector("#frozen-quote")

    assert "After cancellations: $10.00 a month" in page.inner_text("#bill-now")
    assert "when the order was placed" in page.inner_text("#bill-words")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "order-bill-desktop.png"), caret="initial")
