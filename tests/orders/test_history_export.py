"""CSV export of the filtered history: streamed, in chunks, exactly the filtered set."""

from __future__ import annotations

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from orders.history_export import CSV_COLUMNS, orders_csv_chunks
from orders.models import Order
from tests.factories import UserFactory
from tests.orders.history_data import aware, make_order

pytestmark = pytest.mark.django_db

GOOGLE, AIRMAIL, MICROSOFT = 1, 2, 3


def export_url(workspace, query=""):
    return reverse("orders:history_export", args=[workspace.slug]) + query


def rows_of(response) -> list[dict[str, str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


@pytest.fixture
def history(workspace, operator, lead):
    return [
        make_order(
            workspace,
            operator,
            status="failed",
            title="MS one",
            items=[("northreach.com", MICROSOFT, ["carla", "dan"])],
            approver=lead,
            due_now="35.00",
            per_month="20.00",
            per_year="15.00",
            created_at=aware(2026, 4, 2),
        ),
        make_order(
            workspace,
            lead,
            status="failed",
            title="Mixed",
            items=[
                ("mixone.com", GOOGLE, ["dora"]),
                ("mixtwo.org", MICROSOFT, ["emil"]),
            ],
            due_now="60.50",
            created_at=aware(2026, 4, 20),
        ),
        make_order(
            workspace,
            operator,
            status="ready",
            title="Google ready",
            items=[("brightleads.com", GOOGLE, ["anna", "ben"])],
            mailbox_status="ready",
            approver=lead,
            due_now="25.00",
            created_at=aware(2026, 3, 10),
        ),
    ]


def test_export_streams_exactly_the_filtered_orders(
    operator_client, workspace, history
):
    response = operator_client.get(
        export_url(workspace, "?status=failed&provider=3&sort=due_now")
    )

    rows = rows_of(response)
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith(
        'attachment; filename="orders-acme-'
    )
    assert [r["order_id"] for r in rows] == [str(history[0].pk), str(history[1].pk)]


def test_export_row_contents(operator_client, workspace, history):
    response = operator_client.get(export_url(workspace, "?q=mixone"))

    (row,) = rows_of(response)
    assert list(row) == CSV_COLUMNS
    assert row == row | {
        "workspace": "acme",
        "title": "Mixed",
        "order_type": "dfy",
        "status": "failed",
        "requester": "leo",
        "approver": "",
        "providers": "Google|Microsoft",
        "domain_count": "2",
        "domains": "mixone.com mixtwo.org",
        "mailboxes": "2",
        "mailboxes_ready": "0",
        "due_now_usd": "60.50",
        "per_month_usd": "60.50",
        "per_year_usd": "0.00",
    }
    assert row["created_at"].startswith("2026-04-20T12:00:00")


def test_export_without_filters_has_every_order_of_the_workspace_only(
    operator_client, workspace, other_workspace, history
):
    make_order(other_workspace, UserFactory(username="stranger"), title="Theirs")

    rows = rows_of(operator_client.get(export_url(workspace)))

    assert sorted(int(r["order_id"]) for r in rows) == sorted(o.pk for o in history)


def test_export_with_an_invalid_filter_refuses_and_names_it(
    operator_client, workspace, history
):
    response = operator_client.get(
        export_url(workspace, "?status=failed&provider=mars")
    )

    assert response.status_code == 400
    assert "Provider: Select a valid choice" in response.content.decode()


def test_export_reads_nothing_before_it_streams(operator_client, workspace, history):
    with CaptureQueriesContext(connection) as before:
        response = operator_client.get(export_url(workspace, "?status=failed"))
    with CaptureQueriesContext(connection) as during:
        rows = rows_of(response)

    assert not any("orders_orderitem" in q["sql"] for q in before.captured_queries)
    assert any("orders_orderitem" in q["sql"] for q in during.captured_queries)
    assert len(rows) == 2


def test_csv_is_read_in_chunks_with_one_items_query_per_chunk(workspace, operator):
    for n in range(7):
        make_order(workspace, operator, items=[(f"c{n}.com", GOOGLE, ["a"])])
    orders = Order.objects.in_workspace(workspace).order_by("pk")

    with CaptureQueriesContext(connection) as small:
        chunks = list(orders_csv_chunks(orders, chunk_size=3))
    whole = "".join(orders_csv_chunks(orders, chunk_size=500))

    item_queries = [q for q in small.captured_queries if "orders_orderitem" in q["sql"]]
    assert len(chunks) == 1 + 3  # header, then 3 + 3 + 1 orders
    assert len(item_queries) == 3
    assert "".join(chunks) == whole


def test_cells_that_look_like_formulas_are_defused(
    operator_client, workspace, operator
):
    make_order(workspace, operator, title='=HYPERLINK("http://evil")')

    (row,) = rows_of(operator_client.get(export_url(workspace)))

    assert row["title"] == '\'=HYPERLINK("http://evil")'


def test_a_leading_apostrophe_is_escaped_like_the_mailbox_export(
    operator_client, workspace, operator
):
    # One rule for every CSV (orders.csv_cells): a spreadsheet would hide the typed
    # apostrophe, so it is doubled, as in a draft's mailbox export.
    make_order(workspace, operator, title="'quoted")

    (row,) = rows_of(operator_client.get(export_url(workspace)))

    assert row["title"] == "''quoted"


def test_export_link_carries_the_filters(operator_client, workspace, history):
    html = operator_client.get(
        reverse("orders:list", args=[workspace.slug]) + "?status=failed&page=1"
    ).content.decode()

    assert f'href="{export_url(workspace)}?status=failed&amp;per_page=50"' not in html
    assert f'href="{export_url(workspace)}?status=failed"' in html
