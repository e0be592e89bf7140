"""A credential reveal in a real browser (issue 15 §2): a lead goes from the order page to the
confirm step, reveals, sees the passwords with a countdown, and once the page's clock passes
the expiry the passwords are gone from the page. Going back shows the confirm step, never the
passwords. Playwright's clock API moves time; nothing sleeps."""

from __future__ import annotations

import pytest

from orders import fulfilment, workflow
from orders.models import OrderEvent, OrderStatus
from sandbox.models import DfyAccount
from sandbox.switches import switches_set
from tests.browser.conftest import login
from tests.integration.support import JANE, JOHN, TaskQueue, submitted_order

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(180),
]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def both_sizes(page, shot, name: str) -> None:  # type: ignore[no-untyped-def]
    for size, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        page.set_viewport_size(viewport)
        widths = page.evaluate(
            "() => [document.documentElement.scrollWidth, window.innerWidth]"
        )
        assert widths[0] <= widths[1], f"{name}-{size}: {widths}"
        shot(page, f"{name}-{size}")


def test_a_lead_reveals_and_the_passwords_leave_the_page_when_it_expires(
    page,
    live_server,
    live_remote,
    operator,
    lead,
    ws_admin,
    workspace,
    monkeypatch,
    shot,
):
    queue = TaskQueue(monkeypatch)
    order = submitted_order(
        workspace,
        operator,
        items=[
            ("acme-mail.com", 1, [JANE, JOHN]),
            ("extraordinarily-long-brand-name-outreach.org", 1, [JANE]),
        ],
    )
    workflow.order_approve(order=order, by=lead)
    queue.run_all()
    switches_set(workspace=live_remote, provisioning_delay_seconds=0)
    fulfilment.fulfilment_poll_workspace(workspace=workspace)
    order.refresh_from_db()
    assert order.status == OrderStatus.READY
    secrets = list(
        DfyAccount.objects.filter(workspace=live_remote).values_list(
            "password", flat=True
        )
    )
    assert len(secrets) == 3
    problems: list[str] = []
    page.on(
        "console",
        lambda m: problems.append(m.text) if m.type == "error" else None,
    )

    page.clock.install()
    login(page, live_server, lead.username)
    page.goto(f"{live_server.url}{order.get_absolute_url()}")
    page.click("#reveal-credentials")
    page.wait_for_selector("#credentials-confirm")
    assert "ada" in page.inner_text("#credentials-confirm")
    both_sizes(page, shot, "confirm")

    page.click("#reveal-form button")
    page.wait_for_selector("#credentials")
    shown = page.inner_text("#credentials")
    assert all(secret in shown for secret in secrets)
    assert page.locator("[data-secret]").count() == 3
    assert "disappear from this page in" in page.inner_text("#credentials-countdown")
    both_sizes(page, shot, "revealed")

    page.clock.run_for(60_000)
    assert "4:00 minutes" in page.inner_text("#credentials-remaining")
    assert page.locator("[data-secret]").count() == 3

    page.clock.run_for(241_000)
    assert page.locator("[data-secret]").count() == 0
    html = page.content()
    assert not [secret for secret in secrets if secret in html]
    assert page.is_visible("#credentials-expired")
    assert page.is_hidden("#credentials-countdown")
    both_sizes(page, shot, "expired")

    # Back: the confirm step again (a GET), not the passwords; nothing new recorded.
    page.go_back()
    page.wait_for_selector("#credentials-confirm")
    html = page.content()
    assert not [secret for secret in secrets if secret in html]
    kinds = list(
        OrderEvent.objects.filter(
            order=order, kind__startswith="credentials"
        ).values_list("kind", "actor__username")
    )
    assert kinds == [("credentials_revealed", "leo")]
    assert problems == []
