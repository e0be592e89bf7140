"""Every page of the portal, on a phone (390×844) and on a desktop (1440×900): no horizontal
scrolling, no failed request, and not one console error or CSP violation at either size.

The orders are built straight into their states (factories and services) because the
workflow's own tests cover how they get there; this test is about what each state looks
like. Screenshots land in var/screenshots/<page>-<phone|desktop>.png for CI to keep.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from urllib.parse import urljoin

import pytest
from django.utils import timezone
from playwright.sync_api import Error as PlaywrightError

from orders.models import Mailbox, MailboxTally, Membership, Order, OrderEvent
from tests.browser.conftest import login
from tests.integration.support import JANE, JOHN, draft_order, submitted_order
from tests.orders.history_data import make_order

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    # The tour of every page takes about 100 s on a quiet machine (measured with
    # --durations), well past the global 120 s on a busy one.
    pytest.mark.timeout(300),
]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1440, "height": 900}
GOOGLE, MICROSOFT = 1, 3

# Runs as a Playwright init script (DevTools protocol, not page content), so the page's CSP
# does not apply to it; the test checks that it ran on every page.
PROBE = """
window.__problems = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__problems.push(
    `CSP ${e.effectiveDirective} blocked ${e.blockedURI || "inline"} at ${e.sourceFile}:${e.lineNumber}`
  );
});
"""

LONG = "extraordinarily-long-brand-name-outreach-mail"


@dataclass
class Visit:
    name: str
    path: str
    user: str | None  # None: logged out
    status: int = 200
    # After load: wait for this selector, and run these steps (page -> None).
    ready: str = "main"
    steps: list = field(default_factory=list)  # type: ignore[type-arg]


def change_filters_quickly(page) -> None:  # type: ignore[no-untyped-def]
    """Filter changes in quick succession. With `hx-sync="this:replace"` each one aborted the
    request in flight and htmx logged `htmx:sendAbort` as a console error; whatever the sync
    strategy, the last filters must be the ones shown."""
    page.wait_for_function("() => window.htmx !== undefined")
    page.select_option("#id_status", "ready")
    page.select_option("#id_status", "failed")
    page.select_option("#id_status", "")
    page.fill("#id_q", "batch1")
    page.wait_for_url(lambda url: "q=batch1" in url and "status=" not in url)
    page.wait_for_load_state("networkidle")
    # The newest filters won: domains batch1 and batch10-19, whatever their status.
    count = page.inner_text("#history-count")
    assert count.startswith("11 orders"), count
    assert page.input_value("#id_status") == ""


def save_and_quote(page) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_function("() => window.htmx !== undefined")
    page.click("button[name=save]")
    page.wait_for_selector("#quote-due-now")


def open_cancel_panel(page) -> None:  # type: ignore[no-untyped-def]
    page.click("#cancel-panel > summary")
    page.wait_for_selector("#cancel-choose")


def show_prewarmed_stock(page) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_function("() => window.htmx !== undefined")
    page.click("#finder button:has-text('Show stock')")
    page.wait_for_selector("#prewarmed *")


def wait_owned(page) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_function("() => !document.querySelector('#owned[hx-get]')")


def nav_reachable(page) -> None:  # type: ignore[no-untyped-def]
    """Every navigation link and Log out are on screen, inside the window, and big enough
    to tap on a phone (today the phone cut off Approvals, Settings and Log out)."""
    width = page.viewport_size["width"]
    targets = page.locator(".mainnav a, .account summary, .account button")
    names = targets.evaluate_all("els => els.map(e => e.textContent.trim())")
    for name in (
        "Dashboard",
        "Orders",
        "Renewals",
        "New order",
        "Approvals",
        "Settings",
        "Log out",
    ):
        assert any(n.startswith(name) for n in names), f"{name} missing from {names}"
    for n in range(targets.count()):
        box = targets.nth(n).bounding_box()
        assert box is not None, f"{names[n]} is hidden"
        assert box["x"] >= 0, f"{names[n]} starts off screen"
        assert box["x"] + box["width"] <= width, f"{names[n]} ends off screen"
        if width < 700:
            assert box["height"] >= 32, f"{names[n]} is {box['height']} px tall"


def favicon_served(page) -> None:  # type: ignore[no-untyped-def]
    href = page.get_attribute("link[rel=icon]", "href")
    response = page.request.get(urljoin(page.url, href))
    assert response.status == 200, f"favicon {href}: {response.status}"
    assert response.headers["content-type"].startswith("image/svg+xml")


@pytest.fixture
def every_page(workspace, other_workspace, operator, lead, ws_admin, live_remote):  # type: ignore[no-untyped-def]
    # The lead belongs to two workspaces, so logging in shows the picker first.
    Membership.objects.create(user=lead, workspace=other_workspace, role="operator")
    now = timezone.now()
    quoted = {"due_now": "95.00", "per_month": "60.00", "per_year": "0"}
    three_domains = [
        (
            f"{LONG}.com",
            GOOGLE,
            [
                JANE,
                JOHN,
                ("Maximilian", "Oppenheimer-Smythe", "maximilian.oppenheimer-smythe"),
            ],
        ),
        ("acme-mail.org", GOOGLE, [JANE, JOHN]),
        ("tryacme.com", GOOGLE, [JANE]),
    ]
    pending = submitted_order(
        workspace, operator, items=three_domains[:2], title="Q3 outreach"
    )
    builder_dfy = draft_order(
        workspace,
        operator,
        items=three_domains,
        title="Q4 outreach, the very long title of a draft",
    )
    builder_pw = draft_order(
        workspace, operator, order_type="pre_warmed_up", items=[], title="Warm start"
    )
    builder_extra = draft_order(
        workspace, operator, order_type="extra_accounts", items=[], title="More seats"
    )
    items = [
        (f"{LONG}.com", GOOGLE, ["anna", "ben", "maximilian.oppenheimer-smythe"]),
        ("acme-mail.org", MICROSOFT, ["anna"]),
    ]
    placed = make_order(
        workspace,
        operator,
        status="provisioning",
        title="Provisioning now",
        items=items,
        approver=lead,
        placed_at=now,
        mailbox_status="provisioning",
        **quoted,
    )
    ready = make_order(
        workspace,
        operator,
        status="ready",
        title="All set",
        items=items,
        approver=lead,
        placed_at=now,
        ready_at=now,
        mailbox_status="ready",
        **quoted,
    )
    attention = make_order(
        workspace,
        operator,
        status="needs_attention",
        title="Lost answer",
        items=items,
        approver=lead,
        attention_reason="Instantly did not answer after the order was sent; check its dashboard before deciding.",
        reconcile_evidence={
            "checks": 5,
            "endpoint": "dfy-email-account-orders",
            "since": now.isoformat(),
            "found": [],
            "missing": [f"anna@{LONG}.com", "anna@acme-mail.org"],
        },
        **quoted,
    )
    cancelled = make_order(
        workspace,
        operator,
        status="cancelled",
        title="Changed our mind",
        items=items,
        approver=lead,
        placed_at=now,
        mailbox_status="cancelled",
        **quoted,
    )
    # Delivered and read by the health poll (docs/health.md): one mailbox disconnected.
    health = make_order(
        workspace,
        operator,
        status="ready",
        title="Live at Instantly",
        items=items,
        approver=lead,
        placed_at=now,
        ready_at=now,
        mailbox_status="ready",
        health="attention",
        health_checked_at=now,
        **quoted,
    )
    Mailbox.objects.filter(item__order=health).update(
        health="connected",
        account_status=1,
        setup_pending=False,
        warmup_status=1,
        warmup_score=62.0,
        daily_limit=30,
        health_checked_at=now,
    )
    Mailbox.objects.filter(item__order=health, email_prefix="ben").update(
        health="disconnected", account_status=-1
    )
    for order in (placed, ready, attention, cancelled):
        OrderEvent.objects.create(
            order=order,
            actor=lead,
            kind="approved",
            from_status="pending_approval",
            to_status="approved",
            detail={"comment": "Fine by me, go ahead with all of them"},
        )
    for n in range(30):
        make_order(
            workspace,
            operator,
            status=["ready", "failed", "cancelled"][n % 3],
            title=f"Q3 batch {n}",
            items=[(f"batch{n}-{LONG}.com", GOOGLE, ["anna", "ben"])],
            approver=lead,
            due_now=Decimal(10 + n),
            per_month=Decimal(5 + n),
        )
    w = f"/w/{workspace.slug}"
    return [
        Visit("login", "/login/", None, steps=[favicon_served]),
        Visit("workspace-pick", "/", lead.username),
        Visit(
            "dashboard",
            f"{w}/",
            ws_admin.username,
            ready="#spend",
            steps=[nav_reachable, favicon_served],
        ),
        Visit(
            "history",
            f"{w}/orders/?status=ready",
            ws_admin.username,
            steps=[change_filters_quickly],
        ),
        Visit("new-order", f"{w}/orders/new/", operator.username),
        Visit(
            "builder-dfy",
            f"{w}/orders/{builder_dfy.pk}/build/",
            operator.username,
            steps=[save_and_quote],
        ),
        Visit(
            "builder-prewarmed",
            f"{w}/orders/{builder_pw.pk}/build/",
            operator.username,
            steps=[show_prewarmed_stock],
        ),
        Visit(
            "builder-extra",
            f"{w}/orders/{builder_extra.pk}/build/",
            operator.username,
            steps=[wait_owned],
        ),
        Visit(
            "order-pending",
            f"{w}/orders/{pending.pk}/",
            lead.username,
            ready="#decision",
        ),
        Visit(
            "order-provisioning",
            f"{w}/orders/{placed.pk}/",
            operator.username,
            ready="#progress",
        ),
        Visit(
            "order-ready",
            f"{w}/orders/{ready.pk}/",
            lead.username,
            steps=[open_cancel_panel],
        ),
        Visit(
            "order-attention",
            f"{w}/orders/{attention.pk}/",
            lead.username,
            ready="#attention",
        ),
        Visit("order-cancelled", f"{w}/orders/{cancelled.pk}/", operator.username),
        Visit(
            "order-health",
            f"{w}/orders/{health.pk}/",
            operator.username,
            ready="#order-health",
        ),
        # The confirm step; the revealed page is tests/browser/test_credentials_browser.py.
        Visit(
            "credentials",
            f"{w}/orders/{ready.pk}/credentials/",
            lead.username,
            ready="#credentials-confirm",
        ),
        Visit("approvals", f"{w}/approvals/", lead.username),
        Visit("renewals", f"{w}/renewals/", operator.username, ready="#forecast"),
        Visit("settings", f"{w}/settings/", ws_admin.username, steps=[nav_reachable]),
        Visit("members", f"{w}/members/", ws_admin.username),
        Visit("403", f"{w}/settings/", operator.username, status=403),
        Visit("404", f"{w}/orders/999999/", operator.username, status=404),
    ]


def visit(browser, live_server, states, target: Visit, viewport) -> list[str]:  # type: ignore[no-untyped-def]
    """Load one page at one size; returns every problem seen (empty when all is well)."""
    context = browser.new_context(
        viewport=viewport, storage_state=states.get(target.user)
    )
    context.add_init_script(PROBE)
    page = context.new_page()
    page.set_default_timeout(15_000)
    problems: list[str] = []
    page.on(
        "console",
        lambda m: (
            problems.append(f"console {m.type}: {m.text} ({m.location.get('url')})")
            if m.type == "error"
            and not (
                target.status != 200
                and m.location.get("url") == f"{live_server.url}{target.path}"
            )
            else None
        ),
    )
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    # A failed sub-request (icon, stylesheet, htmx partial) is a problem even when silent.
    page.on(
        "response",
        lambda r: (
            problems.append(f"HTTP {r.status} for {r.url}")
            if r.status >= 400 and r.url != f"{live_server.url}{target.path}"
            else None
        ),
    )
    try:
        response = page.goto(f"{live_server.url}{target.path}")
        assert response is not None
        assert response.status == target.status, target.path
        for step in [lambda page: page.wait_for_selector(target.ready), *target.steps]:
            try:
                step(page)
            except (AssertionError, PlaywrightError) as error:
                problems.append(f"{target.name}: {error}".splitlines()[0])
        page.wait_for_load_state("networkidle")
        assert page.evaluate("() => Array.isArray(window.__problems)"), (
            "probe did not run"
        )
        problems.extend(page.evaluate("() => window.__problems"))
        # No horizontal scrolling at either size (the phone is the one that used to fail).
        widths = page.evaluate(
            "() => [document.documentElement.scrollWidth, window.innerWidth]"
        )
        if widths[0] > widths[1]:
            problems.append(f"{widths[0]} px wide in a {widths[1]} px window")
        size = "phone" if viewport is PHONE else "desktop"
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(
            path=str(SCREENSHOTS / f"{target.name}-{size}.png"),
            full_page=True,
            caret="initial",
        )
        # Anything the screenshot itself set off is counted too: it must be nothing.
        page.wait_for_timeout(100)
        problems.extend(page.evaluate("() => window.__problems.slice(0)"))
    finally:
        context.close()
    return list(dict.fromkeys(problems))


def test_every_page_fits_a_phone_without_console_errors(
    browser, live_server, every_page, workspace
):  # type: ignore[no-untyped-def]
    # The orders were built straight into their states, past the lifecycle that keeps the
    # dashboard's and renewals' tallies: count them once, so the screenshots show real figures.
    MailboxTally.objects.rebuild(workspace_id=workspace.pk)
    states = {None: None}
    for username in {v.user for v in every_page if v.user}:
        context = browser.new_context()
        page = context.new_page()
        login(page, live_server, username)
        states[username] = context.storage_state()
        context.close()

    found = {}
    for target in every_page:
        for viewport in (PHONE, DESKTOP):
            size = "phone" if viewport is PHONE else "desktop"
            problems = visit(browser, live_server, states, target, viewport)
            if problems:
                found[f"{target.name}-{size}"] = problems
    assert not found, "\n".join(
        f"{name}: {problem}" for name, problems in found.items() for problem in problems
    )
    assert Order.objects.filter(status="pending_approval").count() == 1
