"""The renewal forecast against a hand computation (list prices: the hand-made orders' quotes
carry no bill), the renewal calendar around the 15th and the turn of the year, the prices a
quote recorded, and the page, its CSV and the dashboard's tile."""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

from orders import renewal_schedules, renewals
from orders.models import Mailbox, MailboxStatus, MailboxTally, Workspace
from tests.orders.history_data import aware, make_order

pytestmark = pytest.mark.django_db

GOOGLE, AIRMAIL, MICROSOFT = 1, 2, 3
NOW = aware(2026, 12, 20)


def counted(workspace: Workspace) -> None:
    """Hand-made orders bypass the lifecycle that keeps the mailbox tally: count once."""
    MailboxTally.objects.rebuild(workspace_id=workspace.pk)


@pytest.fixture
def estate(workspace, operator, lead):  # type: ignore[no-untyped-def]
    """Live: Google a, b, c and AirMail d (dfy, bought in March); pre-warmed Google w1, w2
    (January); Microsoft ms.com with three mailboxes and gone.com, all cancelled (a partly
    cancelled dfy order of February); an extra Google mailbox e on alpha.com (April, no
    domain to pay). Not live: a cancelled order and a draft."""
    a = make_order(
        workspace,
        operator,
        status="ready",
        placed_at=aware(2026, 3, 10),
        items=[("alpha.com", GOOGLE, ["a", "b", "c"]), ("beta.com", AIRMAIL, ["d"])],
        mailbox_status="ready",
        approver=lead,
        due_now="50.00",
        title="Spring",
    )
    make_order(
        workspace,
        operator,
        status="ready",
        order_type="pre_warmed_up",
        placed_at=aware(2026, 1, 20),
        items=[("warm.com", GOOGLE, ["w1", "w2"])],
        mailbox_status="ready",
    )
    c = make_order(
        workspace,
        operator,
        status="partially_cancelled",
        placed_at=aware(2026, 2, 5),
        items=[("ms.com", MICROSOFT, ["m1", "m2", "m3"]), ("gone.com", GOOGLE, ["x"])],
        mailbox_status="ready",
    )
    Mailbox.objects.filter(item__order=c, item__domain="gone.com").update(
        status=MailboxStatus.CANCELLED
    )
    make_order(
        workspace,
        operator,
        status="ready",
        order_type="extra_accounts",
        placed_at=aware(2026, 4, 1),
        items=[("alpha.com", GOOGLE, ["e"])],
        mailbox_status="ready",
    )
    make_order(
        workspace,
        operator,
        status="cancelled",
        placed_at=aware(2026, 1, 3),
        items=[("old.com", GOOGLE, ["o"])],
        mailbox_status="cancelled",
    )
    make_order(workspace, operator, status="draft", items=[("new.com", GOOGLE, ["n"])])
    counted(workspace)
    return a


def by_month(forecast: renewals.Forecast) -> dict[date, Decimal]:
    return {m.renews_on: m.total for m in forecast.months}


def test_forecast_matches_the_hand_computation(workspace, estate):
    forecast = renewals.renewal_forecast(workspace=workspace, now=NOW)

    # A month: Google 4 x $5 + AirMail 1 x $4 + pre-warmed 2 x $10 + Microsoft 1 domain x $20.
    monthly = Decimal("64.00")
    totals = by_month(forecast)
    assert list(totals) == [date(2027, m, 15) for m in range(1, 13)]
    assert totals[date(2027, 1, 15)] == monthly + 15  # warm.com, bought in January
    assert totals[date(2027, 2, 15)] == monthly + 15  # ms.com; gone.com is cancelled
    assert totals[date(2027, 3, 15)] == monthly + 30  # alpha.com and beta.com
    assert all(totals[date(2027, m, 15)] == monthly for m in range(4, 13))
    assert forecast.total == Decimal("828.00")
    january = forecast.next
    assert {p.provider.label: p.mailboxes for p in january.providers} == {
        "Google": 6,
        "AirMail": 1,
        "Microsoft": 3,
    }
    assert [p.monthly_domains for p in january.providers] == [0, 0, 1]
    assert january.domains == 1
    assert all(isinstance(m.total, Decimal) for m in forecast.months)
    assert {p.source for p in forecast.price_rows} == {renewals.LIST}


def test_scheduled_cancellations_come_off_from_their_renewal(
    workspace, estate, lead, settings
):
    settings.DFY_SCHEDULED_CANCEL_APPROVAL_OVER = 5
    b = Mailbox.objects.get(item__order=estate, email_prefix="b")
    renewal_schedules.renewal_cancel_schedule(
        order=estate, by=lead, mailbox_ids=[b.pk], now=NOW
    )
    whole = renewal_schedules.renewal_cancel_schedule(
        order=estate, by=lead, domains=["beta.com"], now=NOW
    )

    forecast = renewals.renewal_forecast(workspace=workspace, now=NOW)

    assert (whole.monthly_saving, whole.yearly_saving) == (
        Decimal("4.00"),
        Decimal("15.00"),
    )
    totals = by_month(forecast)
    assert totals[date(2027, 1, 15)] == Decimal("70.00")  # 79 - $5 - $4
    assert totals[date(2027, 3, 15)] == Decimal("70.00")  # 94 - $9 - beta.com's $15
    march = forecast.months[2]
    assert march.scheduled_saving == Decimal("24.00")
    assert march.scheduled_mailboxes == 2
    assert forecast.total == Decimal("705.00")
    assert forecast.scheduled_monthly == Decimal("9.00")
    assert forecast.open_schedules == 2


def test_a_schedule_for_a_later_renewal_leaves_the_earlier_ones(
    workspace, estate, lead
):
    b = Mailbox.objects.get(item__order=estate, email_prefix="b")
    renewal_schedules.renewal_cancel_schedule(
        order=estate, by=lead, mailbox_ids=[b.pk], now=aware(2027, 2, 1)
    )

    forecast = renewals.renewal_forecast(workspace=workspace, now=NOW)

    totals = by_month(forecast)
    assert totals[date(2027, 1, 15)] == Decimal("79.00")
    assert totals[date(2027, 2, 15)] == Decimal("74.00")


@pytest.mark.parametrize(
    ("today", "first", "last"),
    [
        (date(2026, 12, 14), date(2026, 12, 15), date(2027, 11, 15)),
        (date(2026, 12, 15), date(2027, 1, 15), date(2027, 12, 15)),
        (date(2026, 12, 31), date(2027, 1, 15), date(2027, 12, 15)),
        (date(2027, 1, 1), date(2027, 1, 15), date(2027, 12, 15)),
        (date(2027, 1, 16), date(2027, 2, 15), date(2028, 1, 15)),
    ],
)
def test_renewal_dates_around_the_15th_and_the_new_year(today, first, last):
    dates = renewals.renewal_dates(today)

    assert (dates[0], dates[-1], len(dates)) == (first, last, 12)
    assert renewals.run_day(first) == date(first.year, first.month, 14)


def test_forecast_before_the_15th_counts_this_months_renewal(workspace, estate):
    forecast = renewals.renewal_forecast(workspace=workspace, now=aware(2026, 12, 14))

    assert forecast.next.renews_on == date(2026, 12, 15)
    assert forecast.next.total == Decimal("64.00")


def test_a_domain_bought_this_month_renews_next_year_not_on_this_15th(
    workspace, operator
):
    make_order(
        workspace,
        operator,
        status="ready",
        placed_at=aware(2026, 12, 2),
        items=[("fresh.com", GOOGLE, ["a"])],
        mailbox_status="ready",
    )
    counted(workspace)

    forecast = renewals.renewal_forecast(workspace=workspace, now=aware(2026, 12, 3))

    assert [m.domains for m in forecast.months] == [0] * 12
    later = renewals.renewal_forecast(workspace=workspace, now=aware(2027, 11, 20))
    assert later.next.renews_on == date(2027, 12, 15)
    assert (later.next.domains, later.next.total) == (1, Decimal("20.00"))


def test_an_empty_workspace_renews_nothing(workspace):
    forecast = renewals.renewal_forecast(workspace=workspace, now=NOW)

    assert forecast.total == Decimal("0.00")
    assert forecast.next.mailboxes == 0


def test_prices_come_from_the_newest_orders_bill(workspace, cancellable, settings):
    """The in-process sandbox's bill: Google $5.00 a mailbox, $15.00 a domain (its
    defaults); the sandbox's price changed afterwards is not what the portal read."""
    prices = renewals.unit_prices(workspace)

    google = prices[GOOGLE, False]
    assert (google.monthly, google.domain_yearly, google.source) == (
        Decimal("5.00"),
        Decimal("15.00"),
        renewals.QUOTE,
    )
    assert prices[AIRMAIL, False].source == renewals.LIST
    assert prices[MICROSOFT, True].per_domain


def test_query_count_does_not_grow_with_the_estate(
    workspace, operator, django_assert_num_queries
):
    for n in range(30):
        make_order(
            workspace,
            operator,
            status="ready",
            placed_at=aware(2026, 1 + n % 12, 2),
            items=[(f"d{n}.com", GOOGLE, ["a", "b"]), (f"m{n}.com", MICROSOFT, ["c"])],
            mailbox_status="ready",
        )
    counted(workspace)

    # tally, pre-warmed count, domains by month, newest orders, their bills, schedules
    with django_assert_num_queries(6):
        forecast = renewals.renewal_forecast(workspace=workspace, now=NOW)

    assert forecast.next.mailboxes == 90


def test_page_shows_the_chart_table_and_picker(operator_client, workspace, estate):
    response = operator_client.get(reverse("orders:renewals", args=[workspace.slug]))

    html = response.content.decode()
    assert response.status_code == 200
    assert "<svg" in html
    assert 'id="forecast-table"' in html
    assert "alpha.com" in html
    assert 'name="item"' in html
    assert not re.search(r"\sstyle=", html)
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)


def test_page_search_narrows_the_picker(operator_client, workspace, estate):
    response = operator_client.get(
        reverse("orders:renewals", args=[workspace.slug]), {"q": "warm"}
    )

    html = response.content.decode()
    assert "warm.com" in html
    assert "alpha.com</label>" not in html


def test_csv_export_for_finance(operator_client, workspace, estate):
    response = operator_client.get(
        reverse("orders:renewals_export", args=[workspace.slug])
    )

    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert response["Content-Type"].startswith("text/csv")
    assert rows[0][0] == "renews_on"
    assert rows[0][-1] == "total_usd"
    assert "microsoft_domains_monthly" in rows[0]
    assert len(rows) == 13
    first = dict(zip(rows[0], rows[1], strict=True))
    assert first["renews_on"] == renewals.next_renewal(date.today()).isoformat()
    assert first["google_mailboxes"] == "6"


def test_page_needs_membership(client, workspace, other_workspace):
    from tests.factories import MembershipFactory

    outsider = MembershipFactory(workspace=other_workspace).user
    client.force_login(outsider)

    response = client.get(reverse("orders:renewals", args=[workspace.slug]))

    assert response.status_code == 404


def test_dashboard_shows_next_renewal(operator_client, workspace, estate):
    response = operator_client.get(reverse("orders:dashboard", args=[workspace.slug]))

    html = response.content.decode()
    assert 'id="next-renewal"' in html
    assert "no cancellation scheduled" in html
