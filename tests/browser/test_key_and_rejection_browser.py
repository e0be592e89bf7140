"""Issue #10, items 11 and 12 in a real browser: a lead rejects and stays on the read-only
order page while the requester finds the reason on top of the builder; an admin pastes a
key Instantly refuses and watches the verification end without a reload, the working key
still in use. The verification runs in a real Celery worker on the test broker."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

from orders.models import InstantlyKey, KeyStatus, OrderStatus, PendingKeyStatus
from sandbox.switches import switches_set
from tests.browser.conftest import login
from tests.integration.support import submitted_order

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(180),
]

DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
FAKE = "sk_fake_Q7wE9rT2yU4iO6pA8sD0"


def screenshot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    folder = Path(settings.BASE_DIR) / "var" / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True, caret="initial")


def scrolls_sideways(page) -> bool:  # type: ignore[no-untyped-def]
    return page.evaluate(
        "() => document.documentElement.scrollWidth > window.innerWidth"
    )


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_lead_rejects_and_the_requester_reads_why_in_the_builder(
    browser, live_server, live_remote, workspace, operator, lead, size
):
    viewport = DESKTOP if size == "desktop" else PHONE
    order = submitted_order(workspace, operator)
    order_url = f"{live_server.url}{order.get_absolute_url()}"
    lead_context = browser.new_context(viewport=viewport)
    page = lead_context.new_page()
    page.set_default_timeout(15_000)
    login(page, live_server, lead.username)

    page.goto(order_url)
    page.fill("#reject-comment", "Use .com domains only, and at most one")
    page.click("#decision button:has-text('Reject')")
    page.wait_for_selector("#rejection-banner")
    screenshot(page, f"reject-01-lead-order-page-{size}")

    assert page.url == order_url
    assert page.locator("#builder").count() == 0
    banner = page.inner_text("#rejection-banner")
    assert "Rejected by leo on " in banner
    assert "Use .com domains only, and at most one" in banner
    assert "Rejected" in page.inner_text("#timeline")
    assert "rejected; the requester is told." in page.inner_text("body")
    assert not scrolls_sideways(page)
    order.refresh_from_db()
    assert order.status == OrderStatus.REJECTED
    lead_context.close()

    requester_context = browser.new_context(viewport=viewport)
    page = requester_context.new_page()
    page.set_default_timeout(15_000)
    login(page, live_server, operator.username)
    page.goto(order_url)
    page.wait_for_selector("#builder")
    screenshot(page, f"reject-02-requester-builder-{size}")

    banner = page.locator("#rejection-banner")
    assert "/build/" in page.url or page.url != order_url
    assert "Rejected by leo on " in banner.inner_text()
    assert "Use .com domains only, and at most one" in banner.inner_text()
    # The reason sits above the form, in view without scrolling.
    assert banner.bounding_box()["y"] < page.locator("#builder").bounding_box()["y"]
    assert banner.bounding_box()["y"] < viewport["height"]
    assert not scrolls_sideways(page)
    requester_context.close()


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_a_refused_key_never_replaces_the_working_one(
    browser,
    live_server,
    live_remote,
    workspace,
    ws_admin,
    celery_worker_process,
    size,
):
    viewport = DESKTOP if size == "desktop" else PHONE
    from orders import instantly_keys

    instantly_keys.instantly_key_verify(workspace=workspace)
    working = InstantlyKey.objects.get(workspace=workspace)
    assert working.status == KeyStatus.OK
    # Every sandbox answer (the 401 for the pasted key too) takes 3 s, so the progress shows.
    switches_set(latency_ms=3000)
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    page.set_default_timeout(15_000)
    login(page, live_server, ws_admin.username)
    page.goto(f"{live_server.url}/w/{workspace.slug}/settings/")
    page.wait_for_function("() => window.htmx !== undefined")
    page.evaluate("() => { window.keyMarker = 1; }")

    assert page.is_checked("input[name=key-mode][value=sandbox]")
    assert page.get_attribute("#id_key-secret", "type") == "password"
    assert "Shown once" not in page.inner_text("#instantly-key")
    page.fill("#id_key-label", "Pasted")
    page.fill("#id_key-secret", FAKE)
    screenshot(page, f"key-01-pasting-{size}")
    page.click("#key-form button[name=save_key]")
    page.wait_for_selector("#key-check progress")
    screenshot(page, f"key-02-verifying-{size}")
    assert f"····{FAKE[-4:]}" in page.inner_text("#key-check")
    assert working.masked in page.inner_text("#active-key")

    page.wait_for_selector("#key-check.error", timeout=60_000)
    screenshot(page, f"key-03-refused-{size}")

    text = page.inner_text("#key-state")
    assert page.evaluate("() => window.keyMarker") == 1  # no reload happened
    assert f"The new key ····{FAKE[-4:]} was refused" in text
    assert "Invalid or revoked key" in text
    assert f"the key {working.masked} is still in use" in text
    assert working.masked in page.inner_text("#active-key")
    assert "Working" in page.inner_text("#active-key")
    assert FAKE not in page.content()
    assert page.input_value("#id_key-secret") == ""
    assert not scrolls_sideways(page)
    key = InstantlyKey.objects.get(workspace=workspace)
    assert (key.reveal(), key.status) == (working.reveal(), KeyStatus.OK)
    assert workspace.pending_instantly_key.status == PendingKeyStatus.REFUSED
    assert (
        "orders.verify_pending_key" in Path(celery_worker_process.log_path).read_text()
    )
    context.close()
