"""The admin order list's two shortcuts (docs/performance.md): its date links read on SQLite
by the stored text's prefix (`orders/models/sqlite_dates.py`), and a search that finds few
orders run once with its ids passed on. Both must list exactly what Django's own way lists."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection, models
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from orders.admin import order_pages
from orders.models import Order
from orders.models.sqlite_dates import prefix_datetimes
from tests.orders.history_data import aware, make_order

pytestmark = pytest.mark.django_db

GOOGLE = 1


@pytest.fixture
def spread(workspace, operator):  # type: ignore[no-untyped-def]
    """Orders across years, months and days, one at a second before midnight."""
    moments = [
        aware(2024, 12, 31, 23),
        aware(2025, 1, 1, 0),
        aware(2025, 1, 15),
        aware(2025, 7, 4),
        aware(2026, 2, 28),
        timezone.make_aware(datetime(2026, 3, 1, 23, 59, 59)),
    ]
    for n, moment in enumerate(moments):
        make_order(
            workspace,
            operator,
            title=f"Spread {n}",
            items=[(f"spread{n}.com", GOOGLE, ["ann"])],
            created_at=moment,
        )


@pytest.mark.parametrize("kind", ["year", "month", "day"])
@pytest.mark.parametrize("order", ["ASC", "DESC"])
def test_date_links_equal_djangos_truncation(spread, kind, order):  # type: ignore[no-untyped-def]
    djangos = list(
        models.QuerySet.datetimes(Order.objects.all(), "created_at", kind, order)
    )
    assert list(Order.objects.datetimes("created_at", kind, order)) == djangos
    filtered = Order.objects.filter(title__in=["Spread 1", "Spread 4"])
    assert list(filtered.datetimes("created_at", kind, order)) == list(
        models.QuerySet.datetimes(filtered, "created_at", kind, order)
    )


def test_the_prefix_is_read_only_where_it_is_the_answer(spread):  # type: ignore[no-untyped-def]
    on_sqlite = connection.vendor == "sqlite"
    assert (
        prefix_datetimes(Order.objects.all(), "created_at", "month", "ASC") is not None
    ) == on_sqlite
    # Hours, or a local time zone other than UTC: Django's own truncation.
    assert prefix_datetimes(Order.objects.all(), "created_at", "hour", "ASC") is None
    with timezone.override("Europe/Berlin"):
        assert (
            prefix_datetimes(Order.objects.all(), "created_at", "year", "ASC") is None
        )
        assert list(Order.objects.datetimes("created_at", "year")) == list(
            models.QuerySet.datetimes(Order.objects.all(), "created_at", "year")
        )
    if on_sqlite:
        first = Order.objects.datetimes("created_at", "day")[0]
        assert first == datetime(2024, 12, 31, tzinfo=UTC)


def test_the_list_shows_the_date_links(staff_client, spread):  # type: ignore[no-untyped-def]
    page = staff_client.get(reverse("admin:orders_order_changelist")).content.decode()
    for year in ("2024", "2025", "2026"):
        assert f"created_at__year={year}" in page


def listed(response) -> set[int]:  # type: ignore[no-untyped-def]
    import re

    return {
        int(pk)
        for pk in re.findall(
            r'name="_selected_action" value="(\d+)"', response.content.decode()
        )
    }


@pytest.mark.parametrize("term", ["spread2.com", "ann@spread3.com", "Spread", "spread"])
def test_a_search_lists_the_same_run_once_or_as_a_subquery(
    staff_client, spread, monkeypatch, term
):  # type: ignore[no-untyped-def]
    url = reverse("admin:orders_order_changelist") + f"?q={term}"
    with CaptureQueriesContext(connection) as once:
        inline = listed(staff_client.get(url))
    monkeypatch.setattr(order_pages, "SEARCH_IDS_INLINE", 0)
    with CaptureQueriesContext(connection) as each_time:
        subquery = listed(staff_client.get(url))
    assert inline == subquery
    assert inline  # every term finds something
    mailbox_reads = lambda ctx: sum('"orders_mailbox"' in q["sql"] for q in ctx)  # noqa: E731
    if "@" in term:
        # Run once and its ids passed on; as a subquery, in the count, the page and the
        # date links' queries.
        assert mailbox_reads(once) == 1
        assert mailbox_reads(each_time) >= 3
