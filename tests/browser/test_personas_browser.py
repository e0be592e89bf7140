"""An operator fills the persona library (by hand and from a CSV file with a bad row), then
generates a draft's mailboxes from it in the builder and submits the draft for approval,
on a desktop and a phone-sized screen. Real browser, live server, the sandbox as Instantly."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

from orders.models import Mailbox, Order, OrderStatus, Persona
from tests.browser.conftest import login
from tests.browser.test_builder_browser import start_draft, wait_quote

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(180),
]

DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}


def screenshot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    folder = Path(settings.BASE_DIR) / "var" / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(
        path=str(folder / f"personas-{name}.png"), full_page=True, caret="initial"
    )


def scrolls_sideways(page) -> bool:  # type: ignore[no-untyped-def]
    return page.evaluate(
        "() => document.documentElement.scrollWidth > window.innerWidth"
    )


def import_file(page, tmp_path: Path, name: str, text: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    page.set_input_files("#id_file", str(path))
    page.click("#persona-import-submit")
    page.wait_for_load_state()


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_operator_fills_the_library_and_generates_a_draft_from_it(
    page, live_server, live_remote, operator, workspace, tmp_path, size
):
    page.set_viewport_size(DESKTOP if size == "desktop" else PHONE)
    login(page, live_server, operator.username)
    console_errors: list[str] = []
    page.on(
        "console",
        lambda message: (
            console_errors.append(message.text) if message.type == "error" else None
        ),
    )

    if size == "desktop":
        page.click("nav.mainnav >> text=Personas")
    else:
        page.goto(f"{live_server.url}/w/{workspace.slug}/personas/")
    page.wait_for_selector("#persona-add")
    screenshot(page, f"01-empty-{size}")

    # One by hand, with a mistake first: what was typed stays.
    page.fill("#id_first_name", "Ada")
    page.fill("#id_title", "Head of Partnerships")
    page.click("#persona-add-submit")
    page.wait_for_selector("text=Enter a last name.")
    assert page.input_value("#id_title") == "Head of Partnerships"
    page.fill("#id_last_name", "Lovelace")
    page.click("#persona-add-submit")
    page.wait_for_selector("text=Added Ada Lovelace to the library.")

    # A file with a bad row imports nobody and names the row.
    import_file(
        page,
        tmp_path,
        "bad.csv",
        "first_name,last_name,title\nGrace,Hopper,Engineer\n,Turing,\n",
    )
    page.wait_for_selector("#import-problems")
    problems = page.inner_text("#import-problems")
    assert "Row 3, first_name: the first name is missing." in problems
    assert Persona.objects.count() == 1
    screenshot(page, f"02-import-problem-{size}")

    import_file(
        page,
        tmp_path,
        "good.csv",
        "first_name,last_name,title\nGrace,Hopper,Engineer\nAlan,Turing,\n",
    )
    page.wait_for_selector("text=Imported 2 personas from good.csv.")
    assert Persona.objects.count() == 3
    assert not scrolls_sideways(page)
    screenshot(page, f"03-library-{size}")

    # The builder draws two mailboxes per domain from the library, spread over the domains.
    start_draft(page, live_server, workspace)
    for row, domain in enumerate(["northwind-mail.com", "northwind-team.com"]):
        page.click("button[name=add_row]")
        page.wait_for_selector(f"#item-{row}-domain")
        page.fill(f"#item-{row}-domain", domain)
        page.click(f"#item-{row} .generator summary")
        page.check(f"input[name=gen-{row}-source][value=library]")
        page.fill(f"#gen-{row}-count", "2")
        page.wait_for_function(
            "row => document.querySelector(`#gen-${row}-preview`).innerText.includes('Adds these 2')",
            arg=row,
        )
        page.click(f"#item-{row} button[name=generate]")
        page.wait_for_selector(f"#item-{row}-mb-1")
    wait_quote(page, "would accept")
    assert not scrolls_sideways(page)
    screenshot(page, f"04-builder-{size}")

    order = Order.objects.get()
    made = [
        (m.item.domain, m.first_name, m.last_name, m.email_prefix)
        for m in Mailbox.objects.filter(item__order=order)
        .select_related("item")
        .order_by("item__position", "position")
    ]
    assert made == [
        ("northwind-mail.com", "Grace", "Hopper", "grace.hopper"),
        ("northwind-mail.com", "Ada", "Lovelace", "ada.lovelace"),
        ("northwind-team.com", "Alan", "Turing", "alan.turing"),
        ("northwind-team.com", "Grace", "Hopper", "grace.hopper"),
    ]

    page.click("#submit-for-approval")
    page.wait_for_selector("#order-status")
    screenshot(page, f"05-submitted-{size}")
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_APPROVAL
    assert "Waiting for approval" in page.inner_text("#order-status")
    assert console_errors == []
