"""The lifecycle module itself: the table refuses what it does not list, a move writes one event
and only its own fields, the lock is its own, and the names agree with their other homes."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction

from orders import lifecycle, notifications
from orders.lifecycle import (
    TRANSITIONS,
    EventKind,
    IllegalTransition,
    Notice,
    OrderStatus,
)
from orders.models import NotificationChannel, Order, OrderType
from tests.task_capture import recorded

pytestmark = pytest.mark.django_db


@pytest.fixture
def draft(workspace, operator) -> Order:  # type: ignore[no-untyped-def]
    return Order.objects.create(
        workspace=workspace, requester=operator, order_type=OrderType.DFY
    )


def test_every_status_is_reachable_from_a_draft_and_only_cancelled_is_final() -> None:
    seen = {OrderStatus.DRAFT}
    frontier = [OrderStatus.DRAFT]
    while frontier:
        for nxt in TRANSITIONS.get(frontier.pop(), frozenset()):
            if nxt not in seen:
                seen.add(nxt)
                frontier.append(nxt)
    assert seen == set(OrderStatus)
    assert {s for s in OrderStatus if not TRANSITIONS.get(s)} == {OrderStatus.CANCELLED}


def test_notices_and_channels_agree_with_the_notification_module() -> None:
    assert set(notifications.EVENTS) == set(Notice.values)
    assert set(lifecycle.NOTICE_CHANNELS) == set(NotificationChannel.values)


def test_a_move_records_one_event_writes_status_and_changes_and_queues_its_notice(
    draft, operator, monkeypatch, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    sent = recorded(monkeypatch, "orders.deliver_notification")
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        moved = lifecycle.order_transition(
            draft,
            OrderStatus.PENDING_APPROVAL,
            kind=EventKind.SUBMITTED,
            by=operator,
            changes={"title": "Q3 domains"},
            notify=Notice.APPROVAL_REQUESTED,
            quote_id=7,
        )
    stored = Order.objects.get(pk=draft.pk)
    assert (moved.status, stored.status, stored.title) == (
        OrderStatus.PENDING_APPROVAL,
        OrderStatus.PENDING_APPROVAL,
        "Q3 domains",
    )
    event = stored.events.get()
    assert (event.kind, event.from_status, event.to_status, event.actor) == (
        "submitted",
        "draft",
        "pending_approval",
        operator,
    )
    assert event.detail == {"quote_id": 7}
    assert event.label == "Submitted for approval"
    assert sorted(m["channel"] for m in sent) == ["email", "webhook"]
    assert {m["event"] for m in sent} == {"approval_requested"}
    assert len({m["event_id"] for m in sent}) == 1


def test_a_move_the_table_does_not_list_writes_nothing(draft) -> None:  # type: ignore[no-untyped-def]
    with (
        pytest.raises(IllegalTransition, match="draft → placed"),
        transaction.atomic(),
    ):
        lifecycle.order_transition(draft, OrderStatus.PLACED, kind=EventKind.PLACED)
    draft.refresh_from_db()
    assert draft.status == OrderStatus.DRAFT
    assert not draft.events.exists()


def test_a_move_saves_only_its_own_fields(draft) -> None:  # type: ignore[no-untyped-def]
    with transaction.atomic():
        locked = lifecycle.order_lock(draft)
        # Another writer's field, changed after the row was read: the move must not undo it.
        Order.objects.filter(pk=draft.pk).update(title="theirs")
        lifecycle.order_transition(
            locked, OrderStatus.PENDING_APPROVAL, kind=EventKind.SUBMITTED
        )
    draft.refresh_from_db()
    assert (draft.status, draft.title) == (OrderStatus.PENDING_APPROVAL, "theirs")


def test_a_row_locked_here_is_not_locked_again(
    draft, django_assert_num_queries
) -> None:  # type: ignore[no-untyped-def]
    with transaction.atomic():
        locked = lifecycle.order_lock(draft)
        # One INSERT of the event, one UPDATE of the order.
        with django_assert_num_queries(2) as ctx:
            lifecycle.order_transition(
                locked, OrderStatus.PENDING_APPROVAL, kind=EventKind.SUBMITTED
            )
    assert not [q for q in ctx.captured_queries if "FOR UPDATE" in q["sql"]]


@pytest.mark.django_db(transaction=True)
def test_an_instance_locked_in_an_earlier_transaction_is_locked_again(
    draft,
) -> None:  # type: ignore[no-untyped-def]
    with transaction.atomic():
        stale = lifecycle.order_lock(draft)
    assert not lifecycle._holds_lock(stale)
    with transaction.atomic():
        lifecycle.order_transition(
            stale, OrderStatus.PENDING_APPROVAL, kind=EventKind.SUBMITTED
        )
    draft.refresh_from_db()
    assert draft.status == OrderStatus.PENDING_APPROVAL


def test_lock_helpers_want_a_locking_queryset(draft) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(IllegalTransition, match="select_for_update"):
        lifecycle.order_lock_first(Order.objects.filter(pk=draft.pk))
    with pytest.raises(IllegalTransition, match="select_for_update"):
        lifecycle.orders_lock_many(Order.objects.filter(pk=draft.pk))
    with transaction.atomic():
        assert (
            lifecycle.order_lock_first(Order.objects.select_for_update().filter(pk=-1))
            is None
        )


@pytest.mark.django_db(transaction=True)
def test_a_claim_is_won_once(draft) -> None:  # type: ignore[no-untyped-def]
    Order.objects.filter(pk=draft.pk).update(status=OrderStatus.APPROVED)
    args: dict[str, Any] = {
        "from_status": OrderStatus.APPROVED,
        "to": OrderStatus.SUBMITTING,
        "kind": EventKind.CLAIMED,
        "changes": {"placement_tries": 0},
    }
    with transaction.atomic():
        assert lifecycle.order_claim(draft, attempt_id="a", **args) is True
    with transaction.atomic():
        assert lifecycle.order_claim(draft, attempt_id="b", **args) is False
    assert [e.detail for e in draft.events.all()] == [{"attempt_id": "a"}]
    with pytest.raises(IllegalTransition, match="inside a transaction"):
        lifecycle.order_claim(draft, **args)


def test_grouped_moves_need_locked_rows_and_allowed_moves(draft) -> None:  # type: ignore[no-untyped-def]
    Order.objects.filter(pk=draft.pk).update(status=OrderStatus.PLACED)
    draft.refresh_from_db()
    with pytest.raises(IllegalTransition, match="not locked"), transaction.atomic():
        lifecycle.orders_transition_grouped(
            [(draft, OrderStatus.READY, {})], changes_for={}, notify={}, chunk=10
        )
    with transaction.atomic():
        [locked] = lifecycle.orders_lock_many(
            Order.objects.select_for_update().filter(pk=draft.pk)
        )
        with pytest.raises(IllegalTransition, match="placed → draft"):
            lifecycle.orders_transition_grouped(
                [(locked, OrderStatus.DRAFT, {})], changes_for={}, notify={}, chunk=10
            )
        moved = lifecycle.orders_transition_grouped(
            [(locked, OrderStatus.READY, {"ready": 1})],
            changes_for={OrderStatus.READY: {"title": "done"}},
            notify={},
            chunk=10,
        )
    draft.refresh_from_db()
    assert (moved, draft.status, draft.title) == (1, OrderStatus.READY, "done")
    assert [(e.kind, e.detail) for e in draft.events.all()] == [("ready", {"ready": 1})]


def test_unknown_kinds_and_notices_are_refused(draft) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="made_up"):
        lifecycle.order_event_record(order=draft, by=None, kind="made_up")
    with pytest.raises(ValueError, match="unknown notification"):
        lifecycle.order_notify(order_id=draft.pk, notice="made_up")
    assert not draft.events.exists()
