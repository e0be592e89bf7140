"""Health after delivery on the pages: the order page's badge and per-mailbox cells, the
history's health badge, the dashboard's unhealthy mailboxes by provider (workspace-scoped,
cancelled mailboxes left out), with the queries they cost."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from orders import spend
from orders.models import Mailbox, Provider
from orders.spend import ProviderUnhealthy
from tests.orders.history_data import make_order

pytestmark = pytest.mark.django_db

GOOGLE, MICROSOFT = 1, 3


def read(order, **by_prefix):
    """The health poll's writes, by hand: every mailbox connected and warming, then the
    given ones changed."""
    now = timezone.now()
    Mailbox.objects.filter(item__order=order).update(
        health="connected",
        account_status=1,
        setup_pending=False,
        warmup_status=1,
        warmup_score=61.5,
        daily_limit=30,
        health_checked_at=now,
    )
    for prefix, fields in by_prefix.items():
        Mailbox.objects.filter(item__order=order, email_prefix=prefix).update(**fields)
    return now


def test_the_order_page_shows_health_per_mailbox(operator_client, workspace, operator):
    order = make_order(
        workspace,
        operator,
        status="ready",
        mailbox_status="ready",
        items=[("alpha.com", GOOGLE, ["anna", "ben", "cleo"])],
        health="attention",
    )
    now = read(
        order,
        ben={"health": "disconnected", "account_status": -1},
        cleo={"warmup_status": -3, "health": "error", "warmup_score": None},
    )
    order.health_checked_at = now
    order.save(update_fields=["health_checked_at"])

    html = operator_client.get(order.get_absolute_url()).content.decode()

    assert re.search(r'id="order-health"[^>]*>Needs attention<', html)
    anna = re.search(r'<tr id="mailbox-\d+"><td>anna@alpha.com.*?</tr>', html).group()
    ben = re.search(r'<tr id="mailbox-\d+"><td>ben@alpha.com.*?</tr>', html).group()
    cleo = re.search(r'<tr id="mailbox-\d+"><td>cleo@alpha.com.*?</tr>', html).group()
    assert 'class="badge health-connected">Connected<' in anna
    assert "On · score 62" in anna
    assert '<td data-label="Daily limit" class="num">30</td>' in anna
    assert 'class="badge health-disconnected">Disconnected<' in ben
    assert "Suspended</td>" in cleo


def test_before_the_first_health_read_the_page_has_no_health_columns(
    operator_client, workspace, operator
):
    order = make_order(workspace, operator, status="ready", mailbox_status="ready")

    html = operator_client.get(order.get_absolute_url()).content.decode()

    assert 'id="order-health"' not in html
    assert "At Instantly" not in html
    assert 'class="table mailbox-status"' in html


def test_history_shows_health_except_for_cancelled_orders(
    operator_client, workspace, operator
):
    make_order(workspace, operator, status="ready", title="Live one", health="live")
    make_order(
        workspace, operator, status="cancelled", title="Gone", health="attention"
    )

    html = operator_client.get(
        reverse("orders:list", args=[workspace.slug])
    ).content.decode()

    live = re.search(r'<tr id="order-\d+">.*?Live one.*?</tr>', html, re.S).group()
    gone = re.search(r'<tr id="order-\d+">.*?Gone.*?</tr>', html, re.S).group()
    assert '<span class="badge health-live">Live</span>' in live
    assert "health-" not in gone


def test_the_dashboard_counts_unhealthy_mailboxes_by_provider(
    operator_client, workspace, other_workspace, operator
):
    google = make_order(
        workspace,
        operator,
        status="ready",
        mailbox_status="ready",
        items=[("alpha.com", GOOGLE, ["anna", "ben", "cleo"])],
    )
    microsoft = make_order(
        workspace,
        operator,
        status="partially_cancelled",
        mailbox_status="ready",
        items=[("beta.com", MICROSOFT, ["anna", "ben"])],
    )
    elsewhere = make_order(
        other_workspace,
        operator,
        status="ready",
        mailbox_status="ready",
        items=[("gamma.com", GOOGLE, ["anna"])],
    )
    read(google, anna={"health": "disconnected"}, ben={"health": "error"})
    read(microsoft, anna={"health": "error"}, ben={"health": "error"})
    Mailbox.objects.filter(item__order=microsoft, email_prefix="ben").update(
        status="cancelled"
    )
    read(elsewhere, anna={"health": "disconnected"})
    read(
        make_order(workspace, operator, status="ready", mailbox_status="ready"),
        anna={"health": "paused"},
        ben={"health": "setup_pending"},
    )

    figures = spend.workspace_dashboard(workspace=workspace)
    html = operator_client.get(
        reverse("orders:dashboard", args=[workspace.slug])
    ).content.decode()

    assert figures.unhealthy == [
        ProviderUnhealthy(Provider.GOOGLE, 2),
        ProviderUnhealthy(Provider.MICROSOFT, 1),
    ]
    assert figures.unhealthy_total == 3
    assert re.search(
        r'id="unhealthy-count">3 disconnected or erroring at Instantly: Google 2, '
        r"Microsoft 1<",
        html,
    )


def test_no_unhealthy_mailbox_says_zero(operator_client, workspace):
    html = operator_client.get(
        reverse("orders:dashboard", args=[workspace.slug])
    ).content.decode()

    assert re.search(
        r'class="small muted" id="unhealthy-count">0 disconnected or erroring at '
        r"Instantly<",
        html,
    )


def test_the_unhealthy_count_reads_from_the_health_index(workspace, operator):
    """On PostgreSQL the planner may pick any index at this size; the query must at least
    start from mailboxes filtered on health (so the (health, item) index can serve it)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        spend._unhealthy(workspace)

    (query,) = ctx.captured_queries
    assert '"orders_mailbox"."health" IN' in query["sql"]
    assert query["sql"].count("SELECT") == 1
