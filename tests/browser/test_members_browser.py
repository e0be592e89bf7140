"""A workspace admin adds a colleague, makes them a lead with an approval limit and removes
them again, on a desktop and on a phone-sized screen. Real browser, live server, htmx."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings

from orders.models import Membership
from tests.browser.conftest import login
from tests.factories import UserFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(120),
]

DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}


def screenshot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    folder = Path(settings.BASE_DIR) / "var" / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(
        path=str(folder / f"members-{name}.png"), full_page=True, caret="initial"
    )


def wider_than_viewport(page, selector: str = "body *") -> list[str]:  # type: ignore[no-untyped-def]
    """What sticks out past the right edge of the viewport (empty: no horizontal scroll)."""
    return page.evaluate(
        """selector => [...document.querySelectorAll(selector)]
            .filter(el => el.getBoundingClientRect().right > window.innerWidth + 0.5)
            .map(el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
                 + (el.className && typeof el.className === 'string'
                    ? '.' + el.className.trim().split(/\\s+/).join('.') : ''))""",
        selector,
    )


def scrolls_sideways(page) -> bool:  # type: ignore[no-untyped-def]
    return page.evaluate(
        "() => document.documentElement.scrollWidth > window.innerWidth"
    )


def test_admin_adds_a_member_makes_them_a_lead_and_removes_them(
    page, live_server, workspace, ws_admin, operator
):
    nina = UserFactory(username="nina", first_name="Nina", last_name="Novak")
    page.set_viewport_size(DESKTOP)
    login(page, live_server, ws_admin.username)

    page.click("nav.mainnav >> text=Members")
    page.wait_for_selector("#members-table")
    page.wait_for_function("() => window.htmx !== undefined")
    # Survives only if nothing below reloads the page: the actions go through htmx.
    page.evaluate("() => { window.membersMarker = 1; }")
    screenshot(page, "01-desktop")

    page.fill("#id_username_or_email", "nina")
    page.click("#member-add-existing")
    page.wait_for_selector("#members-notice >> text=Added nina as Operator.")
    membership = Membership.objects.get(user=nina, workspace=workspace)
    row = f"#member-{membership.pk}"
    assert page.input_value("#id_username_or_email") == ""

    page.select_option(f"{row} select", "lead")
    page.fill(f"{row} input[name$=approval_limit]", "250")
    page.click(f"{row} button:text-is('Save')")
    page.wait_for_selector(f"{row} >> text=nina is Lead and may approve up to $250.00.")
    membership.refresh_from_db()
    assert (membership.role, membership.approval_limit) == ("lead", Decimal("250.00"))
    assert page.input_value(f"{row} input[name$=approval_limit]") == "250.00"
    assert not scrolls_sideways(page)
    screenshot(page, "02-desktop-lead")

    page.set_viewport_size(PHONE)
    page.wait_for_function("() => window.innerWidth === 390")
    assert wider_than_viewport(page, "main *") == []
    assert page.locator(f"{row} button:text-is('Save')").is_visible()
    screenshot(page, "03-phone-lead")

    asked: list[str] = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    page.click(f"{row} a:text-is('Remove')")
    page.wait_for_selector(row, state="detached")
    page.wait_for_selector("#members-notice >> text=Removed nina from Acme.")
    assert asked == ["Remove nina from Acme? They lose access at once."]
    assert not Membership.objects.filter(pk=membership.pk).exists()
    assert page.evaluate("() => window.membersMarker") == 1
    assert wider_than_viewport(page, "main *") == []
    screenshot(page, "04-phone-removed")

    # The plain confirmation step (no JS) on a phone.
    other = Membership.objects.get(user=operator, workspace=workspace)
    page.goto(f"{live_server.url}/w/{workspace.slug}/members/{other.pk}/remove/")
    assert wider_than_viewport(page, "main *") == []
    screenshot(page, "05-phone-confirm")
    page.click("#member-remove-confirm")
    page.wait_for_selector(".messages >> text=Removed olivia from Acme.")
    assert not Membership.objects.filter(pk=other.pk).exists()

    # The whole page, navigation included, fits a phone's width.
    assert wider_than_viewport(page) == []
    assert not scrolls_sideways(page)
