"""Issue #10 item 16, through the test client: one name per order everywhere ("Untitled order
#N" without a title), a builder heading that follows the title, a dashboard whose cards lead
to the orders they count and whose Why column explains, history search by title, plural
messages that agree with their number, and money in admin with currency and separators."""

from __future__ import annotations

import csv
import html as html_lib
import io
import re
from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from orders import notifications
from orders.models import Order
from tests.orders.history_data import make_order
from tests.orders.test_builder_views import HX, JANE, build_url, form_state

pytestmark = pytest.mark.django_db


def text_of(response) -> str:
    """What the user reads: tags removed, entities decoded, spaces collapsed."""
    text = html_lib.unescape(re.sub(r"<[^>]+>", " ", response.content.decode()))
    return " ".join(text.split())


def history_url(workspace, **params: str) -> str:
    from urllib.parse import urlencode

    base = reverse("orders:list", args=[workspace.slug])
    return f"{base}?{urlencode(params)}" if params else base


def listed(response) -> set[int]:
    return {
        int(pk) for pk in re.findall(r'id="order-(\d+)"', response.content.decode())
    }


# --- One name -------------------------------------------------------------------------------


def test_an_untitled_order_has_one_name_on_every_page(
    operator_client, workspace, operator
):
    order = make_order(workspace, operator, status="needs_attention", title="")
    name = f"Untitled order #{order.pk}"

    detail = text_of(operator_client.get(order.get_absolute_url()))
    history = text_of(operator_client.get(history_url(workspace)))
    dashboard = text_of(
        operator_client.get(reverse("orders:dashboard", args=[workspace.slug]))
    )

    for page in (detail, history, dashboard):
        assert name in page
        # Neither the old "Order #N" nor a bare "Untitled order" followed by the number twice.
        assert f"Order #{order.pk}" not in page.replace(name, "")
        assert f"{name} #{order.pk}" not in page
    assert detail.startswith(f"{name} ·")  # the browser tab


def test_a_titled_order_keeps_its_title_and_number(
    operator_client, workspace, operator
):
    order = make_order(workspace, operator, title="Spring push")

    history = text_of(operator_client.get(history_url(workspace)))

    assert f"Spring push #{order.pk}" in history
    assert "Untitled order" not in history


def test_the_email_and_the_csv_use_the_same_name(
    operator_client, workspace, operator, remote
):
    order = make_order(workspace, operator, status="ready", title="", due_now="10.00")

    notifications.notification_deliver(
        order_id=order.pk,
        event="ready",
        event_id="6d1f7a3e-0c55-4a4e-9f7e-1b2c3d4e5f61",
        channel="email",
        final=True,
    )
    export = operator_client.get(
        reverse("orders:history_export", args=[workspace.slug])
    )
    rows = list(
        csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode()))
    )

    [message] = mail.outbox
    assert message.subject == f"Ready: Untitled order #{order.pk}"
    assert f"Order: Untitled order #{order.pk} (" in message.body
    assert [row["title"] for row in rows] == [f"Untitled order #{order.pk}"]


def test_the_builder_heading_names_the_draft_and_follows_the_saved_title(
    operator_client, workspace, remote
):
    operator_client.post(
        reverse("orders:new", args=[workspace.slug]),
        {"order_type": "dfy", "title": ""},
    )
    draft = Order.objects.get()
    name = f"Untitled order #{draft.pk}"

    page = operator_client.get(build_url(draft)).content.decode()
    autosaved = operator_client.post(
        build_url(draft),
        {**form_state(draft, items=[("acme-mail.com", 1, [JANE])]), "title": "Q4 push"},
        headers=HX,
    ).content.decode()

    # The script in static/js/app.js writes the typed title (or data-untitled) into this span.
    assert f'<span id="order-name" data-untitled="{name}">{name}</span>' in page
    assert f"<title>{name} · builder" in page
    oob = re.search(r'<span id="order-name"[^>]*>([^<]*)</span>', autosaved)
    assert oob is not None
    assert 'hx-swap-oob="true"' in oob.group(0)
    assert oob.group(1) == "Q4 push"
    assert Order.objects.get().title == "Q4 push"


def test_the_heading_script_is_in_the_static_file():
    from pathlib import Path

    script = (Path(__file__).resolve().parents[2] / "static/js/app.js").read_text()

    assert 'getElementById("order-name")' in script
    assert "dataset.untitled" in script


# --- History search and the dashboard -------------------------------------------------------


def test_history_search_matches_titles_as_well_as_domains(
    operator_client, workspace, operator
):
    by_title = make_order(
        workspace, operator, title="Spring push", items=[("alpha.com", 1, ["anna"])]
    )
    by_domain = make_order(
        workspace, operator, title="Other", items=[("springfield.io", 1, ["ben"])]
    )
    make_order(workspace, operator, title="Autumn", items=[("beta.com", 1, ["carl"])])

    response = operator_client.get(history_url(workspace, q="SPRING"))

    assert listed(response) == {by_title.pk, by_domain.pk}


def test_dashboard_cards_link_to_the_orders_they_count(
    operator_client, workspace, operator
):
    long_ago = timezone.now() - timedelta(days=30)
    pending = make_order(workspace, operator, status="pending_approval")
    attention = make_order(workspace, operator, status="needs_attention")
    stuck = make_order(
        workspace,
        operator,
        status="provisioning",
        placed_at=long_ago,
        last_progress_at=long_ago,
    )
    moving = make_order(
        workspace,
        operator,
        status="placed",
        placed_at=timezone.now(),
        last_progress_at=timezone.now(),
    )
    ready = make_order(workspace, operator, status="ready")
    make_order(workspace, operator, status="cancelled")

    dashboard = operator_client.get(
        reverse("orders:dashboard", args=[workspace.slug])
    ).content.decode()
    links = {
        html_lib.unescape(href)
        for href in re.findall(r'href="([^"]*\?status=[^"]*)"', dashboard)
    }
    base = reverse("orders:list", args=[workspace.slug])

    expected = {
        "pending_approval": {pending.pk},
        "in_flight": {stuck.pk, moving.pk},
        "attention": {attention.pk, stuck.pk},
        "active": {stuck.pk, moving.pk, ready.pk},
    }
    assert {f"{base}?status={group}" for group in expected} <= links
    for group, pks in expected.items():
        assert listed(operator_client.get(f"{base}?status={group}")) == pks, group


def test_the_why_column_explains_instead_of_repeating_the_status(
    operator_client, workspace, operator
):
    order = make_order(workspace, operator, status="needs_reapproval")

    page = operator_client.get(
        reverse("orders:dashboard", args=[workspace.slug])
    ).content.decode()
    row = re.search(rf'<tr id="attention-{order.pk}">(.*?)</tr>', page, re.S)

    assert row is not None
    cells = [
        " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", cell)).split())
        for cell in re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)
    ]
    status, why = cells[1], cells[2]
    assert status == "Price changed, needs re-approval"
    assert why
    assert why != status
    assert "approve again" in why


# --- Grammar --------------------------------------------------------------------------------


def test_copying_one_persona_says_persona(operator_client, workspace, remote):
    operator_client.post(
        reverse("orders:new", args=[workspace.slug]),
        {"order_type": "dfy", "title": "Q3"},
    )
    draft = Order.objects.get()
    items = [("acme-mail.com", 1, [JANE]), ("tryacme.org", 1, [])]

    response = operator_client.post(
        build_url(draft), form_state(draft, items=items, copy_personas="0"), headers=HX
    )

    page = text_of(response)
    assert "Copied 1 persona from acme-mail.com" in page
    assert "1 personas" not in page


# --- Admin money ----------------------------------------------------------------------------


def test_admin_shows_money_with_currency_and_separators(
    client, admin_user, workspace, operator
):
    from decimal import Decimal

    workspace.monthly_budget = Decimal("12500.00")
    workspace.save()
    order = make_order(
        workspace, operator, title="", due_now="1234.50", per_month="2000.00"
    )
    client.force_login(admin_user)

    orders_page = text_of(client.get(reverse("admin:orders_order_changelist")))
    quotes_page = text_of(client.get(reverse("admin:orders_quote_changelist")))
    workspaces_page = text_of(client.get(reverse("admin:orders_workspace_changelist")))

    assert "$1,234.50" in orders_page
    assert "$2,000.00" in orders_page
    assert f"Untitled order #{order.pk}" in orders_page
    assert "$1,234.50" in quotes_page
    assert "$12,500.00" in workspaces_page
