"""The lifecycle bounds to the letter (docs/lifecycle-bounds.md): which order is told at which
instant, what the person reads, what is stored, and that a sweep which lost a race to a worker
(the order moved between the sweep's query and the row lock) does nothing."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, cast

import pytest
from django.utils import timezone

from orders import lifecycle
from orders.lifecycle import EventKind, order_event_record
from orders.models import Order, OrderEvent, OrderStatus
from orders.workflow import bounds
from tests.factories import OrderFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
HINT = bounds.RESOLVE_HINT
# The audit row that put an order in its status; the bounds read its statuses, not its kind.
MOVED = EventKind.SUBMITTED


@pytest.fixture
def told(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, str]]:
    """(order id, notification event) for every notification the bounds asked for."""
    calls: list[tuple[int, str]] = []

    def notify(*, order_id: int, notice: str) -> None:
        calls.append((order_id, notice))

    monkeypatch.setattr(lifecycle, "order_notify", notify)
    return calls


def moved(order: Order, to: str, at: datetime, *, frm: str = "draft") -> OrderEvent:
    event = order_event_record(
        order=order, by=None, kind=MOVED, from_status=frm, to_status=to
    )
    OrderEvent.objects.filter(pk=event.pk).update(created_at=at)
    return event


def order_in(status: str, entered: datetime, **fields: Any) -> Order:
    """An order that entered `status` at `entered` (by its audit trail) and was last saved
    then."""
    order = cast(Order, OrderFactory(status=status, **fields))
    moved(order, status, entered)
    Order.objects.filter(pk=order.pk).update(updated_at=entered)
    return Order.objects.get(pk=order.pk)


def unknown_order(
    started: datetime | None, *, checks: int = 0, evidence: object = None
) -> Order:
    return order_in(
        OrderStatus.UNKNOWN,
        started or NOW,
        submission_attempt_id=uuid.uuid4(),
        attempt_started_at=started,
        reconcile_checks=checks,
        reconcile_evidence={} if evidence is None else evidence,
        next_reconcile_at=NOW + timedelta(minutes=5),
    )


# --- when an order entered its status -------------------------------------------------------


def test_entered_at_is_the_last_move_into_the_status_ignoring_reminders_and_other_moves():
    order = order_in(OrderStatus.PENDING_APPROVAL, NOW - 5 * DAY)
    moved(order, OrderStatus.PENDING_APPROVAL, NOW - 2 * DAY)  # moved in again, later
    moved(
        order, OrderStatus.PENDING_APPROVAL, NOW - DAY, frm=OrderStatus.PENDING_APPROVAL
    )
    moved(order, OrderStatus.APPROVED, NOW - DAY / 2)  # not its status
    assert bounds.entered_at(order) == NOW - 2 * DAY


def test_entered_at_without_any_event_is_the_last_update():
    order = cast(Order, OrderFactory(status=OrderStatus.PENDING_APPROVAL))
    Order.objects.filter(pk=order.pk).update(updated_at=NOW - DAY)
    order.refresh_from_db()
    assert bounds.entered_at(order) == NOW - DAY


def test_times_are_written_as_local_time_with_the_zone_or_as_unknown(settings):
    assert bounds.clock(None) == "an unknown time"
    assert bounds.clock(NOW) == "2026-03-10 12:00 UTC"
    settings.TIME_ZONE = "Europe/Berlin"
    assert bounds.clock(NOW) == "2026-03-10 13:00 CET"


# --- reminders: the status stays, the approvers (or the requester) are told once -----------


@pytest.mark.parametrize(
    ("status", "bound", "kind", "event", "reason"),
    [
        (
            OrderStatus.PENDING_APPROVAL,
            3 * DAY,
            "approval_reminder",
            "approval_requested",
            "waiting for a decision since 2026-03-07 11:59 UTC",
        ),
        (
            OrderStatus.NEEDS_REAPPROVAL,
            3 * DAY,
            "approval_reminder",
            "needs_reapproval",
            "waiting for a decision since 2026-03-07 11:59 UTC",
        ),
        (
            OrderStatus.AWAITING_CHECKOUT,
            DAY,
            "checkout_reminder",
            "awaiting_checkout",
            "waiting for a payment at Instantly since 2026-03-09 11:59 UTC",
        ),
    ],
)
def test_a_waiting_order_past_its_bound_reminds_once_and_keeps_its_status(
    status, bound, kind, event, reason, told, caplog
):
    entered = NOW - bound - timedelta(minutes=1)
    order = order_in(status, entered)
    with caplog.at_level(logging.INFO, logger="orders.workflow.bounds"):
        assert bounds.orders_flag_overdue(now=NOW) == 1
    assert "bounds: 1 orders past their bound, a person told" in caplog.messages

    order.refresh_from_db()
    assert order.status == status
    assert order.overdue_notified_at == NOW
    assert order.attention_reason == ""
    reminder = order.events.get(kind=kind)
    assert (reminder.from_status, reminder.to_status, reminder.actor) == (
        status,
        status,
        None,
    )
    assert reminder.detail == {
        "waiting_since": entered.isoformat(),
        "bound_hours": round(bound.total_seconds() / 3600, 1),
        "reason": reason,
    }
    assert told == [(order.pk, event)]

    assert bounds.orders_flag_overdue(now=NOW + DAY) == 0  # once per stay
    assert told == [(order.pk, event)]


def test_a_reminder_comes_again_only_after_the_order_re_entered_its_status(told):
    order = order_in(OrderStatus.PENDING_APPROVAL, NOW - 4 * DAY)
    assert bounds.orders_flag_overdue(now=NOW) == 1
    moved(order, OrderStatus.PENDING_APPROVAL, NOW + DAY, frm=OrderStatus.DRAFT)
    assert (
        bounds.orders_flag_overdue(now=NOW + 3 * DAY) == 0
    )  # 2 days into the new stay
    assert bounds.orders_flag_overdue(now=NOW + 4 * DAY + timedelta(seconds=1)) == 1
    assert [e for _, e in told] == ["approval_requested", "approval_requested"]


def test_the_bound_is_exclusive_to_the_second(told):
    order_in(OrderStatus.PENDING_APPROVAL, NOW - 3 * DAY)
    assert bounds.orders_flag_overdue(now=NOW) == 0
    assert bounds.orders_flag_overdue(now=NOW + timedelta(seconds=1)) == 1
    assert len(told) == 1


def test_an_order_without_events_is_timed_from_its_last_update(told):
    order = cast(Order, OrderFactory(status=OrderStatus.PENDING_APPROVAL))
    Order.objects.filter(pk=order.pk).update(updated_at=NOW - 4 * DAY)
    assert bounds.orders_flag_overdue(now=NOW) == 1
    assert told == [(order.pk, "approval_requested")]


def test_a_sweep_tells_at_most_a_batch_per_status_and_the_rest_next_time(
    told, monkeypatch
):
    monkeypatch.setattr(bounds, "SWEEP_BATCH_SIZE", 2)
    waiting = [order_in(OrderStatus.PENDING_APPROVAL, NOW - 4 * DAY) for _ in range(3)]
    lost = [unknown_order(NOW - 3 * timedelta(hours=1)) for _ in range(3)]
    assert bounds.orders_flag_overdue(now=NOW) == 4
    assert [pk for pk, _ in told] == [o.pk for o in waiting[:2] + lost[:2]]
    assert bounds.orders_flag_overdue(now=NOW) == 2
    assert bounds.orders_flag_overdue(now=NOW) == 0


# --- the re-check under the lock: the order moved after the sweep read it --------------------


def test_telling_an_order_that_left_the_status_does_nothing(told):
    order = order_in(OrderStatus.APPROVED, NOW - DAY)
    assert bounds._tell(order.pk, OrderStatus.PENDING_APPROVAL, NOW) == 0
    assert told == []
    assert not order.events.exclude(kind=MOVED).exists()


def test_telling_an_order_that_came_back_into_the_status_recently_does_nothing(told):
    order = order_in(
        OrderStatus.PENDING_APPROVAL, NOW - 3 * DAY
    )  # exactly at the bound
    assert bounds._tell(order.pk, OrderStatus.PENDING_APPROVAL, NOW) == 0
    order.refresh_from_db()
    assert order.overdue_notified_at is None
    assert told == []


@pytest.mark.parametrize(
    ("after", "tells"), [(timedelta(0), 0), (-timedelta(seconds=1), 1)]
)
def test_telling_an_order_already_told_in_this_stay_does_nothing(told, after, tells):
    entered = NOW - 4 * DAY
    order = order_in(OrderStatus.PENDING_APPROVAL, entered)
    Order.objects.filter(pk=order.pk).update(overdue_notified_at=entered + after)
    assert bounds._tell(order.pk, OrderStatus.PENDING_APPROVAL, NOW) == tells
    assert len(told) == tells


# --- machine states past their bound go to a person ------------------------------------------


def test_an_approval_no_worker_picked_up_goes_to_a_person_saying_nothing_was_sent(told):
    entered = NOW - timedelta(minutes=31)
    order = order_in(
        OrderStatus.APPROVED, entered, next_reconcile_at=NOW, reconcile_evidence={}
    )
    assert bounds.orders_flag_overdue(now=NOW) == 1

    order.refresh_from_db()
    reason = (
        "The order was approved at 2026-03-10 11:29 UTC, but no worker started placing "
        "it within 30 minutes. Nothing was sent to Instantly for this approval: check "
        "that the worker is running, then re-submit."
    )
    assert order.status == OrderStatus.NEEDS_ATTENTION
    assert order.attention_reason == reason
    assert order.reconcile_evidence == {"nothing_sent": True, "bound": "approved"}
    assert order.next_reconcile_at is None
    assert order.overdue_notified_at == NOW
    event = order.events.get(kind="needs_attention")
    assert (event.from_status, event.to_status, event.actor) == (
        OrderStatus.APPROVED,
        OrderStatus.NEEDS_ATTENTION,
        None,
    )
    assert event.detail == {
        "reason": reason,
        "bound": "approved",
        "waiting_since": entered.isoformat(),
    }
    assert told == [(order.pk, "needs_attention")]
    assert bounds.orders_flag_overdue(now=NOW + DAY) == 0


def test_an_approval_within_its_bound_is_left_alone(told):
    order_in(OrderStatus.APPROVED, NOW - timedelta(minutes=30))
    assert bounds.orders_flag_overdue(now=NOW) == 0
    assert told == []


def test_an_unknown_outcome_past_the_max_age_goes_to_a_person_with_its_checks(told):
    started = NOW - timedelta(hours=2, seconds=1)
    order = unknown_order(
        started,
        checks=4,
        evidence={"tally": {"none": 4}, "found": [], "missing": ["a.com"]},
    )
    assert bounds.orders_flag_overdue(now=NOW) == 1

    order.refresh_from_db()
    reason = (
        "Instantly's lists were read 4 times since 2026-03-10 09:59 UTC and show 0 of 1 "
        f"domains of this order. {HINT}"
    )
    assert order.status == OrderStatus.NEEDS_ATTENTION
    assert order.attention_reason == reason
    assert order.next_reconcile_at is None
    assert order.overdue_notified_at == NOW
    assert order.reconcile_evidence["missing"] == ["a.com"]  # kept as evidence
    event = order.events.get(kind="needs_attention")
    assert (event.from_status, event.to_status) == (
        OrderStatus.UNKNOWN,
        OrderStatus.NEEDS_ATTENTION,
    )
    assert event.detail == {
        "reason": reason,
        "bound": "unknown_max_age",
        "attempt_id": str(order.submission_attempt_id),
        "checks": 4,
        "tally": {"none": 4},
    }
    assert told == [(order.pk, "needs_attention")]


def test_an_unknown_outcome_at_exactly_the_max_age_waits(told):
    unknown_order(NOW - timedelta(hours=2))
    assert bounds.orders_flag_overdue(now=NOW) == 0
    assert told == []


def test_an_unknown_outcome_with_evidence_that_is_not_a_mapping_has_no_tally(told):
    order = unknown_order(NOW - 3 * timedelta(hours=1), evidence=[])
    assert bounds.orders_flag_overdue(now=NOW) == 1
    event = Order.objects.get(pk=order.pk).events.get(kind="needs_attention")
    assert event.detail["tally"] == {}


def test_an_unknown_outcome_resolved_or_re_attempted_meanwhile_is_left_alone(told):
    old = NOW - 3 * timedelta(hours=1)
    order = unknown_order(old)
    attempt = order.submission_attempt_id
    assert bounds._unknown_overdue(order.pk, uuid.uuid4(), NOW) == 0  # a new attempt
    Order.objects.filter(pk=order.pk).update(
        attempt_started_at=NOW - timedelta(hours=1)
    )
    assert bounds._unknown_overdue(order.pk, attempt, NOW) == 0  # its attempt restarted
    Order.objects.filter(pk=order.pk).update(
        attempt_started_at=old, status=OrderStatus.PLACED
    )
    assert bounds._unknown_overdue(order.pk, attempt, NOW) == 0  # found meanwhile
    assert told == []
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PLACED


# --- why an unknown outcome goes to a person, in words ----------------------------------------

SINCE = "2026-03-10 09:00 UTC"


def reason_for(checks: int, evidence: object, started: datetime | None = None) -> str:
    order = Order(
        attempt_started_at=started or NOW - timedelta(hours=3),
        reconcile_checks=checks,
        reconcile_evidence=evidence,
    )
    return bounds.unknown_reason(order)


@pytest.mark.parametrize(
    ("checks", "evidence", "summary"),
    [
        (
            0,
            {},
            f"No check of Instantly's lists could run since {SINCE}: is the worker running?",
        ),
        (
            3,
            {"tally": {"error": 3}, "result": "error", "error": "HTTP 503"},
            f"Instantly's list endpoints failed 3 times since {SINCE} (last: HTTP 503).",
        ),
        (
            1,
            {"tally": {"error": 1}, "result": "none", "error": "HTTP 503"},
            f"Instantly's list endpoints failed once since {SINCE}.",
        ),
        (
            2,
            {"tally": {"error": 2, "refused": 1}, "result": "error", "error": "x"},
            f"Instantly's list endpoints failed 2 times since {SINCE} (last: x).",
        ),
        (
            1,
            {"found": ["a.com"], "missing": ["b.com", "c.com"]},
            f"Instantly's lists were read once since {SINCE} and show 1 of 3 domains "
            "of this order.",
        ),
        (
            5,
            {
                "tally": {"error": 2, "refused": 1},
                "endpoint": "accounts",
                "found": ["j@a.com", "k@a.com"],
                "missing": [],
            },
            f"Instantly's lists were read 2 times since {SINCE} and show 2 of 2 "
            "mailboxes of this order; 3 other checks failed.",
        ),
        (
            2,
            None,
            f"Instantly's lists were read 2 times since {SINCE} and show 0 of 0 "
            "domains of this order.",
        ),
    ],
)
def test_the_reason_sums_up_the_checks(checks, evidence, summary):
    assert reason_for(checks, evidence) == f"{summary} {HINT}"


def test_a_refusal_leads_the_reason_in_instantlys_words():
    evidence = {"tally": {"refused": 2}, "result": "refused", "error": "Key revoked"}
    assert reason_for(2, evidence) == (
        f"Key revoked. Instantly's list endpoints failed 2 times since {SINCE}. {HINT}"
    )
    quiet = {"tally": {"refused": 2}, "result": "refused", "error": ""}
    assert reason_for(2, quiet) == (
        f"Instantly's list endpoints failed 2 times since {SINCE}. {HINT}"
    )


def test_a_reason_without_a_start_time_says_so():
    order = Order(attempt_started_at=None, reconcile_checks=0, reconcile_evidence={})
    assert bounds.unknown_reason(order) == (
        "No check of Instantly's lists could run since an unknown time: is the worker "
        f"running? {HINT}"
    )


# --- what the sweep's own query must get right, not only the re-check -----------------------


def test_the_latest_move_in_time_counts_whatever_order_the_rows_were_written(
    told, monkeypatch
):
    monkeypatch.setattr(bounds, "SWEEP_BATCH_SIZE", 1)
    # Written first, moved last:
    order = order_in(OrderStatus.PENDING_APPROVAL, NOW - DAY)
    moved(order, OrderStatus.PENDING_APPROVAL, NOW - 5 * DAY)
    due = order_in(OrderStatus.PENDING_APPROVAL, NOW - 4 * DAY)
    assert bounds.entered_at(order) == NOW - DAY
    assert bounds._tell(order.pk, OrderStatus.PENDING_APPROVAL, NOW) == 0
    # Not due, so it does not take the batch's one place from the order that is.
    assert bounds.orders_flag_overdue(now=NOW) == 1
    assert told == [(due.pk, "approval_requested")]


def test_only_the_orders_own_moves_into_its_status_count(told):
    order = order_in(OrderStatus.PENDING_APPROVAL, NOW - 4 * DAY)
    other = order_in(OrderStatus.PENDING_APPROVAL, NOW - timedelta(hours=1))
    moved(order, OrderStatus.APPROVED, NOW - timedelta(hours=2))  # not its status now
    assert bounds.entered_at(order) == NOW - 4 * DAY
    assert bounds.orders_flag_overdue(now=NOW) == 1
    assert told == [(order.pk, "approval_requested")]
    assert bounds._tell(other.pk, OrderStatus.PENDING_APPROVAL, NOW) == 0


def test_orders_within_their_bound_never_take_a_batch_place(told, monkeypatch):
    monkeypatch.setattr(bounds, "SWEEP_BATCH_SIZE", 1)
    order_in(OrderStatus.PENDING_APPROVAL, NOW - DAY)  # lower id, not yet due
    due = order_in(OrderStatus.PENDING_APPROVAL, NOW - 4 * DAY)
    unknown_order(NOW - timedelta(hours=1))  # lower id, not yet due
    lost = unknown_order(NOW - 3 * timedelta(hours=1))
    assert bounds.orders_flag_overdue(now=NOW) == 2
    assert told == [(due.pk, "approval_requested"), (lost.pk, "needs_attention")]


def test_a_reminder_for_a_status_the_order_left_long_ago_is_not_sent(told):
    order = order_in(OrderStatus.APPROVED, NOW - 5 * DAY)
    assert bounds._tell(order.pk, OrderStatus.PENDING_APPROVAL, NOW) == 0
    assert Order.objects.get(pk=order.pk).status == OrderStatus.APPROVED
    assert told == []


def test_bounds_are_reported_in_hours_and_minutes_as_configured(told, settings):
    settings.DFY_PENDING_APPROVAL_REMIND_SECONDS = 4141  # 1.15 hours
    settings.DFY_APPROVED_MAX_SECONDS = 3000
    waiting = order_in(OrderStatus.PENDING_APPROVAL, NOW - DAY)
    approved = order_in(OrderStatus.APPROVED, NOW - DAY)
    assert bounds.orders_flag_overdue(now=NOW) == 2
    assert waiting.events.get(kind="approval_reminder").detail["bound_hours"] == 1.2
    assert "within 50 minutes" in Order.objects.get(pk=approved.pk).attention_reason


def test_telling_writes_only_its_own_fields(told, monkeypatch):
    """Another writer's change between the sweep's read and its save survives."""
    record = order_event_record

    def record_then_interfere(**kwargs: Any) -> OrderEvent:
        Order.objects.filter(pk=kwargs["order"].pk).update(reconcile_checks=7)
        return record(**kwargs)

    monkeypatch.setattr(lifecycle, "order_event_record", record_then_interfere)
    waiting = order_in(OrderStatus.PENDING_APPROVAL, NOW - 4 * DAY)
    lost = unknown_order(NOW - 3 * timedelta(hours=1))
    assert bounds.orders_flag_overdue(now=NOW) == 2
    assert Order.objects.get(pk=waiting.pk).reconcile_checks == 7
    assert Order.objects.get(pk=lost.pk).reconcile_checks == 7


def test_an_unknown_outcome_is_concluded_for_the_named_order_only(told):
    """Attempt ids are random; two rows sharing one (a copied row) still move one by one."""
    first = unknown_order(NOW - 3 * timedelta(hours=1))
    twin = unknown_order(NOW - 3 * timedelta(hours=1))
    Order.objects.filter(pk=twin.pk).update(
        submission_attempt_id=first.submission_attempt_id
    )
    assert bounds._unknown_overdue(first.pk, first.submission_attempt_id, NOW) == 1
    assert Order.objects.get(pk=twin.pk).status == OrderStatus.UNKNOWN


def test_a_refusal_without_words_does_not_lead_the_reason():
    evidence = {"tally": {"refused": 1}, "result": "refused"}
    assert reason_for(1, evidence) == (
        f"Instantly's list endpoints failed once since {SINCE}. {HINT}"
    )


class Nameless(tzinfo):
    """A zone that has no name to show."""

    def utcoffset(self, dt: datetime | None) -> timedelta:
        return timedelta(hours=1)

    def tzname(self, dt: datetime | None) -> None:
        return None

    def dst(self, dt: datetime | None) -> timedelta:
        return timedelta(0)


def test_a_time_in_a_zone_without_a_name_shows_no_name():
    with timezone.override(Nameless()):
        assert bounds.clock(NOW) == "2026-03-10 13:00"
