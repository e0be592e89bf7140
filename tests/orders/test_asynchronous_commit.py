"""The builder's quote is stored with an asynchronous commit on PostgreSQL, only where that is
safe: a statement of its own, never inside a transaction (orders/asynchronous_commit.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from orders import drafts, instantly_keys, quotes
from orders.asynchronous_commit import insert_committing_asynchronously
from orders.models import Quote
from orders.rules import DraftItem, DraftMailbox

ASYNCHRONOUS = "set_config('synchronous_commit', 'off', true)"


def _draft(workspace, operator):  # type: ignore[no-untyped-def]
    order = drafts.order_draft_create(
        workspace=workspace, by=operator, order_type="dfy"
    )
    items = [
        DraftItem(
            domain="acme-mail.com",
            provider=1,
            mailboxes=(DraftMailbox("Jane", "Roe", "jane"),),
        )
    ]
    return drafts.order_draft_save(
        order=order, by=operator, version=order.version, items=items
    )


def _unsaved_quote(order, fingerprint: str) -> Quote:  # type: ignore[no-untyped-def]
    return Quote(
        order=order,
        payload={"items": []},
        fingerprint=fingerprint,
        response_body="{}",
        due_now=Decimal("12.30"),
        per_month=Decimal("4.50"),
        per_year=Decimal("54.00"),
        is_valid=True,
    )


def _quote(order):  # type: ignore[no-untyped-def]
    with instantly_keys.instantly_client_for(workspace=order.workspace) as client:
        return quotes.quote_for_order(order=order, client=client, reuse_seconds=0)


def _inserts(captured: CaptureQueriesContext) -> list[str]:
    """The quote INSERTs among what ran (the in-process sandbox writes its own rows)."""
    table = f"INSERT INTO {connection.ops.quote_name(Quote._meta.db_table)}"
    return [q["sql"] for q in captured.captured_queries if q["sql"].startswith(table)]


def _stored(pk: int) -> tuple[object, ...]:
    return Quote.objects.filter(pk=pk).values_list(
        "order_id",
        "payload",
        "fingerprint",
        "response_body",
        "due_now",
        "per_month",
        "per_year",
        "discount",
        "is_valid",
        "order_error",
        "created_at",
    )[0]


@pytest.mark.django_db(transaction=True)
def test_a_quote_asked_outside_a_transaction_skips_the_flush_on_postgresql_only(
    remote, workspace, operator
):
    order = _draft(workspace, operator)

    with CaptureQueriesContext(connection) as captured:
        outcome = _quote(order)

    (insert,) = _inserts(captured)
    quote = outcome.quote
    # What the panel shows is what is stored, read back from another query.
    assert _stored(quote.pk) == (
        order.pk,
        quote.payload,
        quote.fingerprint,
        quote.response_body,
        quote.due_now,
        quote.per_month,
        quote.per_year,
        quote.discount,
        quote.is_valid,
        quote.order_error,
        quote.created_at,
    )
    assert quote.due_now > Decimal("0")
    assert quotes.current_quote(order) == quote
    if connection.vendor == "postgresql":
        assert ASYNCHRONOUS in insert
        # For that one transaction: the connection's later commits flush as before.
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            assert cursor.fetchone() == ("on",)
    else:
        assert "set_config" not in insert


@pytest.mark.django_db
def test_inside_a_transaction_the_quote_commits_with_it_as_usual(
    remote, workspace, operator
):
    # Placement stores a drift re-quote inside its transaction: turning the flush off there
    # would turn it off for the order's own writes too.
    order = _draft(workspace, operator)
    quote = _unsaved_quote(order, "f" * 64)
    assert connection.in_atomic_block

    with CaptureQueriesContext(connection) as captured:
        insert_committing_asynchronously(quote)

    (insert,) = _inserts(captured)
    assert "set_config" not in insert
    assert _stored(quote.pk)[4:8] == (
        Decimal("12.30"),
        Decimal("4.50"),
        Decimal("54.00"),
        Decimal("0.00"),
    )


@pytest.mark.django_db(transaction=True)
def test_the_asynchronous_insert_stores_every_field_as_the_orm_does(
    workspace, operator
):
    order = _draft(workspace, operator)
    values = {
        "order": order,
        "payload": {"items": [{"domain": "acme-mail.com", "accounts": []}]},
        "fingerprint": "a" * 64,
        "response_body": '{"order_is_valid": false}',
        "due_now": Decimal("1.05"),
        "per_month": Decimal("3.00"),
        "per_year": Decimal("36.00"),
        "discount": Decimal("0.50"),
        "is_valid": False,
        "order_error": "domain_unavailable",
    }
    by_orm = Quote.objects.create(**values)
    fast = Quote(**values)

    insert_committing_asynchronously(fast)

    assert fast.pk != by_orm.pk
    assert not fast._state.adding
    assert fast.created_at is not None
    assert _stored(fast.pk)[:-1] == _stored(by_orm.pk)[:-1]
    with transaction.atomic():  # a plain transaction afterwards is unaffected
        assert Quote.objects.filter(order=order).count() == 2


@pytest.mark.django_db(transaction=True)
def test_a_transaction_opened_by_hand_also_commits_the_quote_with_it(
    workspace, operator
):
    order = _draft(workspace, operator)
    quote = _unsaved_quote(order, "b" * 64)
    transaction.set_autocommit(False)
    try:
        assert not connection.in_atomic_block
        with CaptureQueriesContext(connection) as captured:
            insert_committing_asynchronously(quote)
        transaction.commit()
    finally:
        transaction.set_autocommit(True)

    (insert,) = _inserts(captured)
    assert "set_config" not in insert
    assert Quote.objects.filter(pk=quote.pk, fingerprint="b" * 64).exists()
