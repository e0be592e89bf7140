"""The spend dashboard: figures in Decimal, the SVG charts, attention and stuck orders."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse

from orders import dashboard_charts, spend
from orders.models import MailboxTally, Workspace
from orders.models.tallies import split_cents
from tests.factories import UserFactory
from tests.orders.history_data import aware, make_order

pytestmark = pytest.mark.django_db

GOOGLE, AIRMAIL, MICROSOFT = 1, 2, 3
NOW = aware(2026, 6, 15)


def counted(*workspaces: Workspace) -> None:
    """The orders here are written by hand (tests/orders/history_data.py), past the lifecycle
    that keeps the dashboard's tallies: count them once, as the history generator does. The
    running tallies are checked against this recount in test_tallies.py."""
    for workspace in workspaces:
        MailboxTally.objects.rebuild(workspace_id=workspace.pk)


def figures(workspace: Workspace) -> spend.Dashboard:
    counted(workspace)
    return spend.workspace_dashboard(workspace=workspace, now=NOW)


def test_recurring_monthly_sums_active_orders_exactly(workspace, operator, lead):
    for status, monthly in [
        ("placed", "0.10"),
        ("provisioning", "0.20"),
        ("ready", "100.00"),
        ("partially_cancelled", "5.05"),
        ("cancelled", "999.00"),
        ("failed", "999.00"),
        ("approved", "7.00"),
    ]:
        make_order(
            workspace,
            operator,
            status=status,
            approver=lead,
            due_now="1.00",
            per_month=monthly,
        )

    result = figures(workspace)

    assert result.active_monthly == Decimal("105.35")
    assert result.active_orders == 4
    assert result.committed_monthly == Decimal("112.35")


def test_budget_share_uses_what_the_approval_check_counts(workspace, operator, lead):
    workspace.monthly_budget = Decimal("200.00")
    workspace.save()
    make_order(
        workspace,
        operator,
        status="ready",
        approver=lead,
        due_now="1",
        per_month="100.00",
    )
    make_order(
        workspace,
        operator,
        status="approved",
        approver=lead,
        due_now="1",
        per_month="50.00",
    )

    assert figures(workspace).budget_used_percent == 75


def test_spend_per_month_by_provider_splits_mixed_orders_to_the_cent(
    workspace, operator
):
    make_order(
        workspace,
        operator,
        status="ready",
        due_now="100.00",
        placed_at=aware(2026, 6, 1),
        items=[("g.com", GOOGLE, ["a"])],
    )
    make_order(
        workspace,
        operator,
        status="ready",
        due_now="10.00",
        placed_at=aware(2026, 5, 31, 23),
        items=[
            ("g1.com", GOOGLE, ["a"]),
            ("g2.com", GOOGLE, ["a"]),
            ("m.com", MICROSOFT, ["a"]),
        ],
    )
    make_order(  # placed 13 months ago: outside the window
        workspace,
        operator,
        status="ready",
        due_now="500.00",
        placed_at=aware(2025, 5, 15),
        items=[("old.com", AIRMAIL, ["a"])],
    )
    make_order(  # never placed: nothing due
        workspace,
        operator,
        status="failed",
        due_now="70.00",
        items=[("f.com", AIRMAIL, ["a"])],
    )

    months = figures(workspace).months

    assert [m.month for m in months][0] == date(2025, 7, 1)
    assert [m.month for m in months][-1] == date(2026, 6, 1)
    may, june = months[-2], months[-1]
    assert may.by_provider == {
        GOOGLE: Decimal("6.67"),
        AIRMAIL: Decimal("0"),
        MICROSOFT: Decimal("3.33"),
    }
    assert may.total == Decimal("10.00")
    assert june.by_provider[GOOGLE] == Decimal("100.00")
    assert sum(m.total for m in months) == Decimal("110.00")


@pytest.mark.parametrize(
    ("amount", "weights"),
    [
        ("10.00", {1: 1, 3: 2}),
        ("0.01", {1: 1, 2: 1, 3: 1}),
        ("99.99", {1: 3, 2: 3, 3: 1}),
        ("1", {2: 5}),
    ],
)
def test_split_cents_always_adds_up(amount, weights):
    shares = split_cents(Decimal(amount), weights)

    assert sum(shares.values()) == Decimal(amount)
    assert set(shares) == set(weights)
    assert all(s == s.quantize(Decimal("0.01")) for s in shares.values())


def test_mailboxes_ready_vs_provisioning_count_owned_orders_only(workspace, operator):
    make_order(
        workspace,
        operator,
        status="ready",
        mailbox_status="ready",
        items=[("a.com", GOOGLE, ["a", "b", "c"])],
    )
    make_order(
        workspace,
        operator,
        status="provisioning",
        mailbox_status="provisioning",
        items=[("m.com", MICROSOFT, ["a", "b"])],
    )
    make_order(
        workspace,
        operator,
        status="placed",
        mailbox_status="requested",
        items=[("p.com", GOOGLE, ["a"])],
    )
    make_order(
        workspace, operator, status="draft", items=[("d.com", GOOGLE, ["a", "b"])]
    )
    make_order(
        workspace,
        operator,
        status="partially_cancelled",
        mailbox_status="cancelled",
        items=[("c.com", AIRMAIL, ["a"])],
    )

    rows = {r.provider: (r.ready, r.provisioning) for r in figures(workspace).mailboxes}

    assert rows == {GOOGLE: (3, 1), AIRMAIL: (0, 0), MICROSOFT: (0, 2)}


def test_median_time_to_ready_by_provider(workspace, operator):
    placed = aware(2026, 6, 1)
    for hours in (2, 4, 9):
        make_order(
            workspace,
            operator,
            placed_at=placed,
            ready_at=placed + timedelta(hours=hours),
            items=[("g.com", GOOGLE, ["a"])],
        )
    make_order(
        workspace,
        operator,
        placed_at=placed,
        ready_at=placed + timedelta(hours=30),
        items=[("m.com", MICROSOFT, ["a"]), ("g2.com", GOOGLE, ["a"])],
    )
    make_order(
        workspace,
        operator,
        status="provisioning",
        placed_at=placed,
        items=[("a.com", AIRMAIL, ["a"])],
    )

    speeds = {s.provider: (s.orders, s.median_text) for s in figures(workspace).speeds}

    assert speeds == {GOOGLE: (4, "6 h 30 min"), MICROSOFT: (1, "1 d 6 h")}


def test_attention_lists_what_needs_a_person_and_what_is_stuck(
    workspace, operator, settings
):
    settings.DFY_STUCK_AFTER_HOURS = 72
    attention = make_order(
        workspace,
        operator,
        status="needs_attention",
        attention_reason="Half the domains appeared.",
    )
    unknown = make_order(workspace, operator, status="unknown")
    stuck = make_order(
        workspace,
        operator,
        status="provisioning",
        placed_at=NOW - timedelta(hours=80),
        last_progress_at=NOW - timedelta(hours=73),
    )
    flagged = make_order(
        workspace,
        operator,
        status="placed",
        placed_at=NOW - timedelta(hours=5),
        stuck_at=NOW - timedelta(hours=1),
    )
    old_approval = make_order(
        workspace, operator, status="approved", decided_at=NOW - timedelta(hours=2)
    )
    make_order(
        workspace,
        operator,
        status="provisioning",
        placed_at=NOW - timedelta(hours=80),
        last_progress_at=NOW - timedelta(hours=2),
    )
    make_order(
        workspace, operator, status="approved", decided_at=NOW - timedelta(minutes=3)
    )
    make_order(workspace, operator, status="ready")

    result = figures(workspace)

    assert {o.pk for o in result.attention} == {
        attention.pk,
        unknown.pk,
        stuck.pk,
        flagged.pk,
        old_approval.pk,
    }
    assert result.attention_count == 2
    assert result.stuck_count == 3


def test_other_workspaces_never_count(workspace, other_workspace, operator):
    stranger = UserFactory(username="stranger")
    make_order(
        other_workspace,
        stranger,
        status="ready",
        due_now="50",
        placed_at=NOW,
        mailbox_status="ready",
        ready_at=NOW,
    )
    make_order(other_workspace, stranger, status="needs_attention")
    counted(other_workspace)

    result = figures(workspace)

    assert result.active_monthly == 0
    assert result.spend_total == 0
    assert result.mailboxes_ready == 0
    assert result.speeds == []
    assert result.attention == []


@time_machine.travel(NOW, tick=False)
def test_dashboard_page_draws_the_charts_without_inline_styles(
    operator_client, workspace, operator, lead
):
    make_order(
        workspace,
        operator,
        status="ready",
        approver=lead,
        due_now="1234.50",
        per_month="120.00",
        placed_at=aware(2026, 6, 2),
        ready_at=aware(2026, 6, 2, 20),
        mailbox_status="ready",
    )
    make_order(workspace, operator, status="needs_attention", title="Look at me")
    counted(workspace)

    response = operator_client.get(reverse("orders:dashboard", args=[workspace.slug]))

    html = response.content.decode()
    assert response.status_code == 200
    assert html.count('<svg class="chart"') == 2
    assert "<rect" in html
    assert "Jun 2026, Google: $1,234.50" in html
    assert "$120.00" in html
    assert "Look at me" in html
    assert 'id="pending-count"' in html
    assert not re.search(r"\sstyle=", html)
    assert "<style" not in html
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)


@pytest.mark.parametrize("orders", [3, 40])
def test_dashboard_query_count_is_fixed(
    operator_client, workspace, operator, lead, django_assert_num_queries, orders
):
    for n in range(orders):
        make_order(
            workspace,
            operator,
            approver=lead,
            status=["ready", "provisioning", "needs_attention", "failed"][n % 4],
            due_now="20.00",
            placed_at=aware(2026, 1 + n % 6, 3),
            ready_at=aware(2026, 1 + n % 6, 4),
            items=[(f"q{n}.com", GOOGLE, ["a", "b"]), (f"q{n}.org", MICROSOFT, ["c"])],
        )
    counted(workspace)
    operator_client.get(reverse("orders:dashboard", args=[workspace.slug]))

    # membership with the user (one query since orders/access_prefetch.py), counts, bought tally, spend by month, speeds, mailbox tallies,
    # attention, unhealthy mailboxes by provider (issue 15: one more, from the index on
    # health), recent, key, nav (the session comes from the cache): three more than before
    # issue 14, whose queries read every order, order item and mailbox of the workspace;
    # and the next renewal's open schedules (issue 15): its live counts and prices are
    # read once per state of the tallies (orders/renewals.py `dashboard_forecast`; six
    # queries over the bought items on the first view, none on the next ones). The speeds
    # read each provider's newest ready orders, one query per provider (two more). Issue
    # 16: the burned domains by provider and order type (one more, over the burns only;
    # the delivered domains they are a share of are kept under the tallies' stamp,
    # orders/burn_rates.py, and not read at all before the first burn).
    with django_assert_num_queries(15):
        response = operator_client.get(
            reverse("orders:dashboard", args=[workspace.slug])
        )

    assert response.status_code == 200


def test_spend_chart_stacks_each_month_by_provider():
    from orders.charts import Rect, Tick
    from orders.models import Provider

    chart = dashboard_charts.spend_chart(
        [spend.MonthSpend(date(2026, 1, 1), {Provider.GOOGLE: Decimal("12.50")})]
    )

    # One 928 px slot, a 62% bar centred in it; the axis ends at $16 (238 px).
    assert chart.bars == [
        Rect(
            Decimal("240.3"),
            Decimal("64.1"),
            Decimal("575.4"),
            Decimal("185.9"),
            dashboard_charts.PROVIDER_COLOURS[Provider.GOOGLE],
            "Jan 2026, Google: $12.50",
        )
    ]
    assert chart.x_ticks == [Tick(Decimal(528), "Jan 26")]
    assert [(t.position, t.label) for t in chart.y_ticks] == [
        (Decimal(250), "$0"),
        (Decimal("190.5"), "$4"),
        (Decimal(131), "$8"),
        (Decimal("71.5"), "$12"),
        (Decimal(12), "$16"),
    ]
    assert [entry.label for entry in chart.legend] == ["Google", "AirMail", "Microsoft"]


def test_mailbox_chart_has_one_row_per_provider_ready_then_provisioning():
    from orders.charts import Rect, Tick
    from orders.models import Provider

    chart = dashboard_charts.mailbox_chart(
        [spend.ProviderMailboxes(Provider.GOOGLE, 3, 1)]
    )

    # The axis ends at 4 mailboxes over 480 px.
    assert (chart.height, chart.plot_bottom) == (64, 40)
    assert chart.bars == [
        Rect(
            Decimal(96),
            Decimal(12),
            Decimal(360),
            Decimal(22),
            dashboard_charts.READY_COLOUR,
            "Google: 3 ready",
        ),
        Rect(
            Decimal(456),
            Decimal(12),
            Decimal(120),
            Decimal(22),
            dashboard_charts.PROVISIONING_COLOUR,
            "Google: 1 provisioning",
        ),
    ]
    assert chart.y_ticks == [Tick(Decimal(23), "Google")]
    assert [t.label for t in chart.x_ticks] == ["0", "1", "2", "3", "4"]


def test_the_renewal_tile_follows_every_purchase(
    operator_client, workspace, operator, lead
):
    """The tile's counts and prices are kept between views under a stamp of the tallies: a
    purchase moves the tallies, so the next view prices the new order at once."""
    from orders import renewals

    def make(n: int) -> None:
        make_order(
            workspace,
            operator,
            approver=lead,
            status="ready",
            due_now="20.00",
            placed_at=aware(2026, 1 + n, 3),
            ready_at=aware(2026, 1 + n, 4),
            items=[(f"r{n}.com", GOOGLE, ["a", "b"])],
        )
        counted(workspace)

    def tile() -> str:
        page = operator_client.get(reverse("orders:dashboard", args=[workspace.slug]))
        found = re.search(
            r'id="next-renewal".*?<p class="big">\$([\d,.]+)</p>',
            page.content.decode(),
            re.S,
        )
        assert found is not None
        return found.group(1)

    make(0)
    first = tile()
    assert tile() == first  # the kept base: same answer
    make(1)
    fresh = renewals.renewal_forecast(workspace=workspace).next.total
    assert tile() == f"{fresh:,.2f}" != first


def test_an_order_whose_mailbox_broke_is_among_those_needing_attention(
    operator_client, workspace, operator, lead
):
    """Its status stays bought (docs/health.md); the dashboard still shows it to a person."""
    from django.db import transaction

    from orders.lifecycle import OrderHealth, order_lock, orders_health_set

    order = make_order(
        workspace,
        operator,
        approver=lead,
        status="ready",
        due_now="20.00",
        placed_at=aware(2026, 11, 3),
        ready_at=aware(2026, 11, 4),
        items=[("broken.com", GOOGLE, ["a"])],
    )
    with transaction.atomic():
        orders_health_set(
            [(order_lock(order), OrderHealth.ATTENTION, "a@broken.com disconnected")],
            chunk=100,
        )

    page = operator_client.get(reverse("orders:dashboard", args=[workspace.slug]))
    html = page.content.decode()

    assert re.search(r'id="attention-count">\s*1\s*<', html)
    assert f'id="attention-{order.pk}"' in html
    assert "A delivered mailbox is disconnected or erroring at Instantly" in html
