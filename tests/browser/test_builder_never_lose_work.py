"""Issue #10, "work must never be lost", in a real browser: Enter saves and never removes a
domain, a removal can be undone, and the generator previews what it adds (keeping what was
typed) and says where it stops."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

from orders.models import Order
from tests.browser.conftest import login
from tests.browser.test_builder_browser import start_draft

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(180),
]

SIZES = {
    "desktop": {"width": 1440, "height": 900},
    "phone": {"width": 390, "height": 844},
}


def screenshots(page, name: str) -> None:  # type: ignore[no-untyped-def]
    """var/screenshots/<name>-desktop.png and -phone.png of the page as it is now."""
    folder = Path(settings.BASE_DIR) / "var" / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    for size, viewport in SIZES.items():
        page.set_viewport_size(viewport)
        page.wait_for_timeout(150)
        page.screenshot(
            path=str(folder / f"{name}-{size}.png"), full_page=True, caret="initial"
        )
    page.set_viewport_size({"width": 1400, "height": 1000})


def idle(page):  # type: ignore[no-untyped-def]
    """Wait until htmx has no request in flight or queued (autosave waits 700 ms first)."""
    page.wait_for_timeout(900)
    page.wait_for_function(
        "() => !document.querySelector('.htmx-request') && !document.querySelector('#builder.htmx-request')"
    )
    page.wait_for_load_state("networkidle")


def add_domain_row(page, index: int, domain: str, mailboxes: int) -> None:  # type: ignore[no-untyped-def]
    page.click("button[name=add_row]")
    page.wait_for_selector(f"#item-{index}")
    page.fill(f"#item-{index}-domain", domain)
    for n in range(mailboxes):
        page.click(f"#item-{index} button[name=add_mailbox]")
        page.wait_for_selector(f"#item-{index}-mb-{n}")


def test_enter_saves_and_quotes_and_never_removes_a_domain(
    page, live_server, live_remote, operator, workspace
):
    login(page, live_server, operator.username)
    start_draft(page, live_server, workspace)
    add_domain_row(page, 0, "contoso-outreach.com", 1)
    page.fill("input[name=item-0-mb-0-first]", "Ada")
    page.fill("input[name=item-0-mb-0-last]", "Lovelace")

    page.fill("#id_title", "Client X")
    page.press("#id_title", "Enter")
    idle(page)
    page.press("input[name=item-0-mb-0-first]", "Enter")
    idle(page)

    assert page.locator("#item-0").count() == 1
    assert page.input_value("#item-0-domain") == "contoso-outreach.com"
    order = Order.objects.get()
    assert order.title == "Client X"
    assert [i.domain for i in order.items.all()] == ["contoso-outreach.com"]
    item = order.items.get()
    assert [(m.first_name, m.email_prefix) for m in item.mailboxes.all()] == [
        ("Ada", "ada.lovelace")
    ]
    assert "Quote" in page.inner_text("#quote-panel")

    # A removal is one click, and one click brings it back.
    add_domain_row(page, 1, "fabrikam-outreach.com", 0)
    idle(page)
    page.click("#item-0 button[name=remove_domain]")
    page.wait_for_selector("#undo-notice")
    assert page.input_value("#item-0-domain") == "fabrikam-outreach.com"
    assert "Removed contoso-outreach.com and its 1 mailbox" in page.inner_text(
        "#undo-notice"
    )
    page.click("#item-0 .generator summary")
    page.wait_for_selector("#gen-0-preview li")
    screenshots(page, "builder-undo")

    page.click("#undo-notice button[name=undo]")
    page.wait_for_function(
        "() => document.querySelector('#item-1') && document.querySelector('#item-0-domain').value === 'contoso-outreach.com'"
    )
    assert "Undone: Removed contoso-outreach.com" in page.inner_text("#builder")
    assert [i.domain for i in Order.objects.get().items.all()] == [
        "contoso-outreach.com",
        "fabrikam-outreach.com",
    ]


def test_generator_asks_add_or_replace_previews_and_stops_at_capacity(
    page, live_server, live_remote, operator, workspace
):
    login(page, live_server, operator.username)
    start_draft(page, live_server, workspace)
    add_domain_row(page, 0, "northwind-outreach.com", 2)
    page.fill("input[name=item-0-mb-0-first]", "Ada")
    page.fill("input[name=item-0-mb-0-last]", "Lovelace")
    page.fill("input[name=item-0-mb-1-first]", "Alan")
    page.fill("input[name=item-0-mb-1-last]", "Turing")
    # The address fills itself from the names, and stays editable.
    assert page.input_value("input[name=item-0-mb-0-prefix]") == "ada.lovelace"
    page.fill("input[name=item-0-mb-1-prefix]", "alan")
    idle(page)

    page.click("#item-0 .generator summary")
    assert page.is_checked("input[name=gen-0-mode][value=add]")
    page.fill("#gen-0-names", "Max Power\nJane Roe")
    page.fill("#gen-0-count", "10")
    page.wait_for_function(
        "() => document.querySelector('#gen-0-preview').innerText.includes('max.power@northwind-outreach.com')"
    )
    preview = page.inner_text("#gen-0-preview")
    assert "Adds these 3" in preview
    assert "Jane Roe" in preview
    assert "jane.roe@northwind-outreach.com" in preview
    assert (
        "Stops at 5 mailboxes, the most a Google domain holds: 3 of the 10" in preview
    )
    screenshots(page, "builder-generator-preview")

    page.click("#item-0 button[name=generate]")
    page.wait_for_selector("#item-0-mb-4")

    assert page.locator("#item-0 tbody tr").count() == 5
    assert page.input_value("input[name=item-0-mb-0-first]") == "Ada"
    assert page.input_value("input[name=item-0-mb-1-prefix]") == "alan"
    assert "Added 3 generated mailboxes" in page.inner_text("#builder")
    item = Order.objects.get().items.get()
    assert [m.email_prefix for m in item.mailboxes.all()] == [
        "ada.lovelace",
        "alan",
        "max.power",
        "jane.roe",
        "max.power2",
    ]
