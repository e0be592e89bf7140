"""Issue #11 item 2 in a real browser: on a delivered domain's order page an operator sets
forwarding, changes it to stealth and removes it; the panel answers in place and the timeline
shows each change without a reload. The portal's client reaches the live server's sandbox
over real HTTP. Screenshots of the panel go to var/screenshots/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings

from orders import fulfilment, workflow
from orders.models import OrderEvent, OrderStatus
from sandbox.models import DomainOrder
from sandbox.switches import switches_set
from tests.browser.conftest import login
from tests.integration.support import JANE, JOHN, TaskQueue, submitted_order

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(180),
]

SIZES = {
    "desktop": {"width": 1440, "height": 900},
    "phone": {"width": 390, "height": 844},
}
PANEL = "#fwd-acme-mail--com"


def screenshot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    folder = Path(settings.BASE_DIR) / "var" / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True, caret="initial")


@pytest.fixture
def delivered(live_remote, workspace, operator, lead, monkeypatch):  # type: ignore[no-untyped-def]
    queue = TaskQueue(monkeypatch)
    order = submitted_order(
        workspace, operator, items=[("acme-mail.com", 1, [JANE, JOHN])]
    )
    workflow.order_approve(order=order, by=lead)
    queue.run_all()
    switches_set(workspace=live_remote, provisioning_delay_seconds=0)
    fulfilment.fulfilment_poll_workspace(workspace=workspace)
    order.refresh_from_db()
    assert order.status == OrderStatus.READY
    return order


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_operator_sets_changes_to_stealth_and_removes_forwarding(
    browser, live_server, live_remote, delivered, operator, size
):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport=SIZES[size])
    page = context.new_page()
    page.set_default_timeout(15_000)
    login(page, live_server, operator.username)
    page.goto(f"{live_server.url}{delivered.get_absolute_url()}")

    page.fill(f"{PANEL} input[name=forwarding_domain]", "acme.com")
    page.check(f"{PANEL} input[value=redirect]")
    page.click(f"{PANEL} button:has-text('Set forwarding')")
    page.wait_for_selector(
        f"{PANEL}-notice:has-text('forwards to acme.com (redirect)')"
    )

    page.check(f"{PANEL} input[value=stealth]")
    page.click(f"{PANEL} button:has-text('Change forwarding')")
    page.wait_for_selector(f"{PANEL}-notice:has-text('(stealth)')")
    page.locator("#forwarding").scroll_into_view_if_needed()
    screenshot(page, f"forwarding-01-stealth-{size}")
    stealth_timeline = page.inner_text("#timeline")

    page.click(f"{PANEL} button:has-text('Remove forwarding')")
    page.wait_for_selector(f"{PANEL}-notice:has-text('does not forward')")
    timeline = page.inner_text("#timeline")

    assert (
        "acme-mail.com → acme.com (stealth), was acme.com (redirect)"
        in stealth_timeline
    )
    assert len(re.findall("Domain forwarding set", timeline)) == 2
    assert (
        "Domain forwarding removed by olivia: acme-mail.com no longer forwards (was acme.com)"
        in timeline
    )
    assert "No forwarding" in page.inner_text(PANEL)
    assert not page.evaluate(
        "() => document.documentElement.scrollWidth > window.innerWidth"
    )
    assert list(
        OrderEvent.objects.filter(
            order=delivered, kind__startswith="forwarding"
        ).values_list("kind", flat=True)
    ) == ["forwarding_set", "forwarding_set", "forwarding_removed"]
    assert DomainOrder.objects.get(domain="acme-mail.com").forwarding_domain == ""

    # A refusal is explained on the panel, with what was typed still there.
    switches_set(workspace=live_remote, forwarding_unsupported=True)
    page.fill(f"{PANEL} input[name=forwarding_domain]", "brand.org")
    page.click(f"{PANEL} button:has-text('Set forwarding')")
    page.wait_for_selector(f"{PANEL}-problem")
    page.locator(f"{PANEL}-problem").scroll_into_view_if_needed()
    screenshot(page, f"forwarding-02-unsupported-{size}")

    assert "Instantly does not support forwarding for acme-mail.com" in page.inner_text(
        f"{PANEL}-problem"
    )
    assert page.input_value(f"{PANEL} input[name=forwarding_domain]") == "brand.org"
    context.close()


def test_the_owned_domains_list_opens_the_panel_in_place(
    page, live_server, live_remote, workspace, delivered, operator
):  # type: ignore[no-untyped-def]
    from django.urls import reverse

    from orders import drafts

    draft = drafts.order_draft_create(
        workspace=workspace, by=operator, order_type="extra_accounts", title="More"
    )
    login(page, live_server, operator.username)
    page.goto(
        live_server.url
        + reverse("orders:build", kwargs={"slug": workspace.slug, "pk": draft.pk})
    )

    page.click("#owned .fwd-details summary")
    page.wait_for_selector(f"#owned {PANEL} input[name=forwarding_domain]")
    page.fill(f"{PANEL} input[name=forwarding_domain]", "acme.org")
    page.check(f"{PANEL} input[value=stealth]")
    page.click(f"{PANEL} button:has-text('Set forwarding')")
    page.wait_for_selector(f"{PANEL}-notice")

    assert "acme-mail.com forwards to acme.org (stealth)" in page.inner_text(
        f"{PANEL}-notice"
    )
    assert "/build/" in page.url
    forwarded = DomainOrder.objects.get(domain="acme-mail.com")
    assert (forwarded.forwarding_domain, forwarded.forwarding_mode) == (
        "acme.org",
        "stealth",
    )
    assert (
        OrderEvent.objects.get(order=delivered, kind="forwarding_set").detail[
            "forwarding_domain"
        ]
        == "acme.org"
    )
