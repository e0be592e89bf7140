"""Reconciliation to the letter (orders/workflow/reconciliation.py): the evidence a check
stores and the audit row it leaves, the backoff to the second, when the checks end with a
person told, the words a lead reads when a resolution is refused, the fields a resolution
writes, and what the sweeper finds and enqueues."""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, cast

import pytest
import time_machine
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orders import crypto, enqueue, fulfilment, instantly_keys, lifecycle
from orders.instantly import (
    InstantlyAuthError,
    InstantlyClient,
    InstantlyPlanError,
    InstantlyTransientError,
    RateLimited,
)
from orders.lifecycle import order_event_record
from orders.models import (
    Mailbox,
    Order,
    OrderEdit,
    OrderEvent,
    OrderItem,
    OrderStatus,
    Quote,
    Workspace,
)
from orders.workflow import bounds, common, reconciliation
from tests.factories import MembershipFactory, OrderFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)
MINUTE = timedelta(minutes=1)
DAY = timedelta(days=1)
STARTED = NOW - 10 * MINUTE  # the attempt whose outcome is unknown
SINCE = STARTED - 300 * SECOND  # minus the clock skew
HINT = bounds.RESOLVE_HINT


@pytest.fixture(autouse=True)
def bounds_set(settings: Any) -> None:
    settings.DFY_RECONCILE_BACKOFF_SECONDS = 60
    settings.DFY_RECONCILE_BACKOFF_CAP_SECONDS = 900
    settings.DFY_RECONCILE_MAX_CHECKS = 12
    settings.DFY_RECONCILE_MAX_AGE_SECONDS = 7200
    settings.DFY_RECONCILE_CLOCK_SKEW_SECONDS = 300
    settings.DFY_SUBMITTING_STALE_SECONDS = 300
    settings.DFY_APPROVED_STALE_SECONDS = 120
    settings.DFY_APPROVED_MAX_SECONDS = 1800


@pytest.fixture(autouse=True)
def frozen() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture(autouse=True)
def whole_jitter(monkeypatch: pytest.MonkeyPatch) -> list[tuple[float, float]]:
    """The jitter at its upper end (the whole wait), its arguments recorded."""
    asked: list[tuple[float, float]] = []

    def uniform(low: float, high: float) -> float:
        asked.append((low, high))
        return high

    monkeypatch.setattr(random, "uniform", uniform)
    return asked


@pytest.fixture(autouse=True)
def told(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, str]]:
    """(order id, notification event) for every notification asked for."""
    calls: list[tuple[int, str]] = []

    def notify(*, order_id: int, notice: str) -> None:
        calls.append((order_id, notice))

    monkeypatch.setattr(lifecycle, "order_notify", notify)
    return calls


@pytest.fixture(autouse=True)
def queued(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[dict[str, Any]]]:
    """Task messages recorded (their keyword arguments) instead of sent."""
    sent: dict[str, list[dict[str, Any]]] = {"place": [], "reconcile": []}
    monkeypatch.setattr(
        enqueue, "place_order", lambda **kwargs: sent["place"].append(kwargs)
    )
    monkeypatch.setattr(
        enqueue, "reconcile_order", lambda **kwargs: sent["reconcile"].append(kwargs)
    )
    return sent


def meanwhile_after_the_audit_row(
    monkeypatch: pytest.MonkeyPatch, **fields: object
) -> None:
    """Another writer changes `fields` of the order right after this module records its audit
    row, i.e. after the row was read and before it is saved: a save that writes more than
    its own fields would put the old values back."""

    def record(*, order: Order, **kwargs: Any) -> OrderEvent:
        event = order_event_record(order=order, **kwargs)
        Order.objects.filter(pk=order.pk).update(**fields)
        return event

    monkeypatch.setattr(lifecycle, "order_event_record", record)


# --- the backoff ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("checks", "seconds"),
    [(0, 60), (1, 60), (2, 120), (3, 240), (4, 480), (5, 900), (9, 900)],
)
def test_the_wait_doubles_from_the_base_up_to_the_cap(checks, seconds, whole_jitter):
    assert reconciliation.reconcile_backoff(checks) == timedelta(seconds=seconds)
    assert whole_jitter == [(0.5, 1.0)]


@pytest.mark.parametrize(
    ("checks", "seconds"), [(0, 30), (1, 30), (2, 60), (4, 240), (6, 450)]
)
def test_the_jitter_at_its_lower_end_halves_the_wait(checks, seconds, monkeypatch):
    monkeypatch.setattr(random, "uniform", lambda low, high: low)
    assert reconciliation.reconcile_backoff(checks) == timedelta(seconds=seconds)


def test_the_wait_follows_the_configured_base_and_cap(settings):
    settings.DFY_RECONCILE_BACKOFF_SECONDS = 7
    settings.DFY_RECONCILE_BACKOFF_CAP_SECONDS = 50
    assert [reconciliation.reconcile_backoff(n).total_seconds() for n in range(6)] == [
        7,
        7,
        14,
        28,
        50,
        50,
    ]


# --- one check: what it reads ----------------------------------------------------------------


class Lists:
    """Instantly's two list endpoints as reconciliation reads them. `meanwhile` runs when a
    list is first read (another worker acting while the lists are read)."""

    def __init__(
        self,
        *,
        orders: Iterable[SimpleNamespace] = (),
        accounts: Iterable[SimpleNamespace] = (),
        error: Exception | None = None,
        meanwhile: Callable[[], object] | None = None,
    ) -> None:
        self.orders = list(orders)
        self.accounts = list(accounts)
        self.error = error
        self.meanwhile = meanwhile
        self.read: list[str] = []

    def _read(self, endpoint: str, rows: list[SimpleNamespace]) -> Iterator[Any]:
        self.read.append(endpoint)
        if self.meanwhile is not None:
            self.meanwhile()
        if self.error is not None:
            raise self.error
        yield from rows

    def iter_orders(self) -> Iterator[Any]:
        return self._read("orders", self.orders)

    def iter_accounts(self) -> Iterator[Any]:
        return self._read("accounts", self.accounts)


def ordered(domain: str, at: datetime) -> SimpleNamespace:
    return SimpleNamespace(domain=domain, timestamp_created=at, is_cancelled=False)


def account(email: str, at: datetime) -> SimpleNamespace:
    return SimpleNamespace(email=email, timestamp_created=at, is_cancelled=False)


def unknown_order(
    *,
    domains: Iterable[str] = ("a.com",),
    prefixes: Iterable[str] = (),
    checks: int = 0,
    evidence: object = None,
    started: datetime | None = STARTED,
    **fields: Any,
) -> Order:
    fields.setdefault("submission_attempt_id", uuid.uuid4())
    fields.setdefault("status", OrderStatus.UNKNOWN)
    order = cast(
        Order,
        OrderFactory(
            attempt_started_at=started,
            reconcile_checks=checks,
            reconcile_evidence={} if evidence is None else evidence,
            **fields,
        ),
    )
    for position, domain in enumerate(domains):
        item = OrderItem.objects.create(order=order, domain=domain, position=position)
        for number, prefix in enumerate(prefixes):
            Mailbox.objects.create(
                item=item,
                email_prefix=prefix,
                first_name=prefix,
                last_name="Roe",
                position=number,
            )
    return order


def check(order: Order, lists: Lists, **kwargs: Any) -> Order:
    return reconciliation.order_reconcile(
        order=order, client=cast(InstantlyClient, lists), **kwargs
    )


def events(order: Order) -> list[OrderEvent]:
    return list(OrderEvent.objects.filter(order=order).order_by("pk"))


def test_a_partial_read_stores_what_was_found_and_plans_the_next_check(told):
    order = unknown_order(domains=["b.com", "A.com", "c.com"])
    lists = Lists(
        orders=[
            ordered("a.COM", SINCE),  # created at the very start of the window: counts
            ordered("B.com", SINCE - SECOND),  # one second before it: an older order
            ordered("zzz.com", NOW),  # not this order's
        ]
    )

    checked = check(order, lists)

    assert lists.read == ["orders"]
    checked.refresh_from_db()
    evidence = {
        "endpoint": "orders",
        "checks": 1,
        "since": SINCE.isoformat(),
        "checked_at": NOW.isoformat(),
        "result": "partial",
        "tally": {"partial": 1},
        "found": ["a.com"],
        "missing": ["b.com", "c.com"],
        "read_at": NOW.isoformat(),
    }
    assert checked.reconcile_evidence == evidence
    assert checked.status == OrderStatus.UNKNOWN
    assert checked.reconcile_checks == 1
    assert checked.last_reconciled_at == NOW
    assert checked.next_reconcile_at == NOW + 60 * SECOND
    [event] = events(checked)
    assert (event.kind, event.actor, event.from_status, event.to_status) == (
        "reconcile_check",
        None,
        OrderStatus.UNKNOWN,
        OrderStatus.UNKNOWN,
    )
    assert event.detail == {
        "attempt_id": str(order.submission_attempt_id),
        "check": 1,
        "checked_at": NOW.isoformat(),
        "result": "partial",
        "found_count": 1,
        "missing_count": 2,
        "error": "",
        "next_at": (NOW + 60 * SECOND).isoformat(),
    }
    assert told == []


def test_nothing_found_when_only_older_or_other_orders_are_listed():
    order = unknown_order(domains=["a.com"])
    lists = Lists(orders=[ordered("a.com", SINCE - SECOND), ordered("b.com", NOW)])

    checked = check(order, lists)

    checked.refresh_from_db()
    assert checked.reconcile_evidence["result"] == "not_found"
    assert checked.reconcile_evidence["found"] == []
    assert checked.reconcile_evidence["missing"] == ["a.com"]
    assert checked.reconcile_evidence["tally"] == {"not_found": 1}
    assert events(checked)[0].detail["found_count"] == 0
    assert events(checked)[0].detail["missing_count"] == 1


@pytest.mark.parametrize(("earlier", "result"), [(0, "found"), (1, "not_found")])
@pytest.mark.parametrize("endpoint", ["orders", "accounts"])
def test_an_entry_counts_from_the_attempt_start_minus_the_skew_to_the_second(
    endpoint, earlier, result
):
    created = SINCE - earlier * SECOND
    if endpoint == "orders":
        order = unknown_order(domains=["a.com"])
        lists = Lists(orders=[ordered("a.com", created)])
    else:
        order = unknown_order(
            domains=["a.com"], prefixes=["jane"], order_type="extra_accounts"
        )
        lists = Lists(accounts=[account("jane@a.com", created)])

    checked = check(order, lists)

    assert lists.read == [endpoint]
    checked.refresh_from_db()
    assert checked.reconcile_evidence["result"] == result
    assert checked.reconcile_evidence["endpoint"] == endpoint


def test_the_skew_is_the_configured_one(settings):
    settings.DFY_RECONCILE_CLOCK_SKEW_SECONDS = 30
    order = unknown_order(domains=["a.com"])
    checked = check(order, Lists(orders=[ordered("a.com", SINCE)]))
    checked.refresh_from_db()
    assert checked.reconcile_evidence["since"] == (STARTED - 30 * SECOND).isoformat()
    assert checked.reconcile_evidence["result"] == "not_found"


def test_extra_mailboxes_are_looked_for_by_address_in_lower_case():
    order = unknown_order(
        domains=["Acme-Mail.com"],
        prefixes=["Jane", "john"],
        order_type="extra_accounts",
    )
    lists = Lists(
        orders=[ordered("acme-mail.com", NOW)],  # the domain existed before: not proof
        accounts=[
            account("JANE@ACME-MAIL.COM", NOW),
            account("other@acme-mail.com", NOW),
        ],
    )

    checked = check(order, lists)

    assert lists.read == ["accounts"]
    checked.refresh_from_db()
    assert checked.reconcile_evidence["endpoint"] == "accounts"
    assert checked.reconcile_evidence["result"] == "partial"
    assert checked.reconcile_evidence["found"] == ["jane@acme-mail.com"]
    assert checked.reconcile_evidence["missing"] == ["john@acme-mail.com"]


def test_an_order_without_items_is_never_found():
    order = unknown_order(domains=[])
    lists = Lists(orders=[ordered("a.com", NOW)])

    checked = check(order, lists)

    assert lists.read == ["orders"]
    checked.refresh_from_db()
    assert checked.status == OrderStatus.UNKNOWN
    evidence = checked.reconcile_evidence
    assert (evidence["result"], evidence["found"], evidence["missing"]) == (
        "not_found",
        [],
        [],
    )
    detail = events(checked)[0].detail
    assert (detail["found_count"], detail["missing_count"]) == (0, 0)


# --- one check: everything found ----------------------------------------------------------


def test_everything_found_places_the_order_with_the_evidence(told):
    order = unknown_order(
        domains=["a.com", "B.com"],
        checks=1,
        evidence={"tally": {"not_found": 1}, "found": [], "missing": ["a.com"]},
        next_reconcile_at=NOW - MINUTE,
        attention_reason="The worker stopped.",
    )
    lists = Lists(orders=[ordered("b.com", NOW), ordered("A.COM", SINCE)])

    check(order, lists)

    placed = Order.objects.get(pk=order.pk)
    evidence = {
        "endpoint": "orders",
        "checks": 2,
        "since": SINCE.isoformat(),
        "checked_at": NOW.isoformat(),
        "result": "found",
        "tally": {"not_found": 1, "found": 1},
        "found": ["a.com", "b.com"],
        "missing": [],
        "read_at": NOW.isoformat(),
    }
    assert placed.status == OrderStatus.PLACED
    assert placed.reconcile_evidence == evidence
    assert placed.reconcile_checks == 2
    assert placed.last_reconciled_at == NOW
    assert placed.next_reconcile_at is None
    assert (placed.placed_at, placed.last_progress_at) == (NOW, NOW)
    assert placed.attention_reason == ""
    [event] = events(placed)
    assert (event.kind, event.actor, event.from_status, event.to_status) == (
        "reconciled_placed",
        None,
        OrderStatus.UNKNOWN,
        OrderStatus.PLACED,
    )
    assert event.detail == {"attempt_id": str(order.submission_attempt_id), **evidence}
    assert told == [(order.pk, "placed")]


# --- one check: a failed or refused read knows nothing new ----------------------------------

EARLIER = NOW - 5 * MINUTE
LAST_READ = {
    "endpoint": "orders",
    "checks": 2,
    "since": SINCE.isoformat(),
    "checked_at": EARLIER.isoformat(),
    "result": "error",
    "tally": {"partial": 1, "error": 1},
    "found": ["a.com"],
    "missing": ["b.com"],
    "read_at": (EARLIER - MINUTE).isoformat(),
    "error": "Instantly's lists failed: HTTP 502",
}


def test_a_failed_read_keeps_what_the_last_read_showed():
    order = unknown_order(domains=["a.com", "b.com"], checks=2, evidence=LAST_READ)
    lists = Lists(
        orders=[ordered("a.com", NOW)], error=InstantlyTransientError("HTTP 503")
    )

    checked = check(order, lists)

    checked.refresh_from_db()
    assert checked.reconcile_evidence == {
        "endpoint": "orders",
        "checks": 3,
        "since": SINCE.isoformat(),
        "checked_at": NOW.isoformat(),
        "result": "error",
        "tally": {"partial": 1, "error": 2},
        "found": ["a.com"],
        "missing": ["b.com"],
        "read_at": (EARLIER - MINUTE).isoformat(),
        "error": "Instantly's lists failed: HTTP 503",
    }
    assert checked.reconcile_checks == 3
    assert checked.last_reconciled_at == NOW
    assert checked.next_reconcile_at == NOW + 240 * SECOND
    [event] = events(checked)
    assert event.detail == {
        "attempt_id": str(order.submission_attempt_id),
        "check": 3,
        "checked_at": NOW.isoformat(),
        "result": "error",
        "found_count": None,
        "missing_count": None,
        "error": "Instantly's lists failed: HTTP 503",
        "next_at": (NOW + 240 * SECOND).isoformat(),
    }


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (InstantlyAuthError("Key revoked"), "Key revoked"),
        (InstantlyPlanError("No active plan"), "No active plan"),
        (instantly_keys.InstantlyKeyMissing("No key yet"), "No key yet"),
        (crypto.SecretUnreadable("Unreadable key"), "Unreadable key"),
    ],
)
def test_a_refused_read_without_an_earlier_read_shows_nothing_found(error, words):
    order = unknown_order(domains=["a.com"])

    checked = check(order, Lists(orders=[ordered("a.com", NOW)], error=error))

    checked.refresh_from_db()
    message = f"Instantly's lists could not be read: {words}"
    assert checked.reconcile_evidence == {
        "endpoint": "orders",
        "checks": 1,
        "since": SINCE.isoformat(),
        "checked_at": NOW.isoformat(),
        "result": "refused",
        "tally": {"refused": 1},
        "found": [],
        "missing": [],
        "read_at": None,
        "error": message,
    }
    detail = events(checked)[0].detail
    assert (detail["found_count"], detail["missing_count"], detail["error"]) == (
        None,
        None,
        message,
    )


def test_a_rate_limited_read_is_a_failure_not_a_refusal():
    order = unknown_order(domains=["a.com"])
    checked = check(order, Lists(error=RateLimited("HTTP 429")))
    checked.refresh_from_db()
    assert checked.reconcile_evidence["result"] == "error"
    assert checked.reconcile_evidence["error"] == "Instantly's lists failed: HTTP 429"


def test_evidence_that_is_not_a_mapping_counts_from_nothing():
    order = unknown_order(domains=["a.com"], checks=1, evidence=["junk"])
    checked = check(order, Lists(error=InstantlyTransientError("HTTP 503")))
    checked.refresh_from_db()
    evidence = checked.reconcile_evidence
    assert evidence["tally"] == {"error": 1}
    assert (evidence["found"], evidence["missing"], evidence["read_at"]) == (
        [],
        [],
        None,
    )


def test_a_read_after_a_failure_replaces_the_error():
    order = unknown_order(domains=["a.com", "b.com"], checks=2, evidence=LAST_READ)
    checked = check(order, Lists(orders=[ordered("b.com", NOW)]))
    checked.refresh_from_db()
    evidence = checked.reconcile_evidence
    assert "error" not in evidence
    assert (evidence["found"], evidence["missing"]) == (["b.com"], ["a.com"])
    assert evidence["tally"] == {"partial": 2, "error": 1}


def queries_for(domains: list[str]) -> int:
    order = unknown_order(
        domains=domains, prefixes=["jane", "john"], order_type="extra_accounts"
    )
    with CaptureQueriesContext(connection) as queries:
        check(order, Lists())
    return len(queries.captured_queries)


def test_a_check_reads_the_mailboxes_of_all_items_at_once():
    assert queries_for(["a.com"]) == queries_for(["a.com", "b.com", "c.com"])


# --- the workspace's own client ---------------------------------------------------------------


class Built(Lists):
    """A client the workspace's factory built: used as a context manager."""

    def __enter__(self) -> Built:
        self.read.append("opened")
        return self

    def __exit__(self, *exc: object) -> None:
        self.read.append("closed")


def test_without_a_client_the_workspaces_own_is_built_and_closed(monkeypatch):
    order = unknown_order(
        domains=["a.com"], prefixes=["jane"], order_type="extra_accounts"
    )
    built = Built(accounts=[account("jane@a.com", NOW)])
    asked: list[object] = []

    def factory(*, workspace: object) -> Built:
        asked.append(workspace)
        return built

    monkeypatch.setattr(instantly_keys, "instantly_client_for", factory)

    reconciliation.order_reconcile(order=order)

    assert asked == [order.workspace]
    assert built.read == ["opened", "accounts", "closed"]
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PLACED


def test_a_workspace_without_a_key_is_a_refused_read(monkeypatch):
    order = unknown_order(domains=["a.com"])

    def factory(*, workspace: object) -> Built:
        raise instantly_keys.InstantlyKeyMissing(
            "The workspace has no Instantly API key."
        )

    monkeypatch.setattr(instantly_keys, "instantly_client_for", factory)

    reconciliation.order_reconcile(order=order)

    evidence = Order.objects.get(pk=order.pk).reconcile_evidence
    assert evidence["result"] == "refused"
    assert evidence["error"] == (
        "Instantly's lists could not be read: The workspace has no Instantly API key."
    )


# --- the checks end: a person is told --------------------------------------------------------


def test_the_last_allowed_check_sends_the_order_to_a_person(settings, told):
    settings.DFY_RECONCILE_MAX_CHECKS = 3
    order = unknown_order(
        domains=["a.com"],
        checks=2,
        evidence={"tally": {"not_found": 2}, "found": [], "missing": ["a.com"]},
        next_reconcile_at=NOW,
    )

    check(order, Lists())

    stuck = Order.objects.get(pk=order.pk)
    reason = (
        "Instantly's lists were read 3 times since 2026-03-10 11:50 UTC and show 0 of 1 "
        f"domains of this order. {HINT}"
    )
    evidence = {
        "endpoint": "orders",
        "checks": 3,
        "since": SINCE.isoformat(),
        "checked_at": NOW.isoformat(),
        "result": "not_found",
        "tally": {"not_found": 3},
        "found": [],
        "missing": ["a.com"],
        "read_at": NOW.isoformat(),
    }
    assert stuck.status == OrderStatus.NEEDS_ATTENTION
    assert stuck.attention_reason == reason
    assert stuck.reconcile_evidence == evidence
    assert stuck.reconcile_checks == 3
    assert stuck.last_reconciled_at == NOW
    assert stuck.next_reconcile_at is None
    assert stuck.overdue_notified_at == NOW
    checked, attention = events(stuck)
    assert checked.kind == "reconcile_check"
    assert checked.detail["next_at"] is None
    assert (attention.kind, attention.actor, attention.from_status) == (
        "needs_attention",
        None,
        OrderStatus.UNKNOWN,
    )
    assert attention.to_status == OrderStatus.NEEDS_ATTENTION
    assert attention.detail == {
        "reason": reason,
        "attempt_id": str(order.submission_attempt_id),
        "bound": "unknown_max_checks",
        **evidence,
    }
    assert told == [(order.pk, "needs_attention")]


def test_the_check_before_the_last_plans_another(settings, told):
    settings.DFY_RECONCILE_MAX_CHECKS = 3
    order = unknown_order(domains=["a.com"], checks=1)

    checked = check(order, Lists())

    checked.refresh_from_db()
    assert checked.status == OrderStatus.UNKNOWN
    assert checked.next_reconcile_at == NOW + 120 * SECOND
    assert [e.kind for e in events(checked)] == ["reconcile_check"]
    assert told == []


def test_a_check_at_the_max_age_sends_the_order_to_a_person(told):
    started = NOW - 7200 * SECOND
    order = unknown_order(
        domains=["a.com", "b.com"],
        checks=4,
        evidence={"tally": {"error": 4}, "found": [], "missing": []},
        started=started,
    )

    check(order, Lists(orders=[ordered("a.com", NOW)]))

    stuck = Order.objects.get(pk=order.pk)
    reason = (
        "Instantly's lists were read once since 2026-03-10 10:00 UTC and show 1 of 2 "
        f"domains of this order; 4 other checks failed. {HINT}"
    )
    assert stuck.status == OrderStatus.NEEDS_ATTENTION
    assert stuck.attention_reason == reason
    assert stuck.overdue_notified_at == NOW
    checked, attention = events(stuck)
    assert checked.detail["next_at"] is None
    assert attention.detail == {
        "reason": reason,
        "attempt_id": str(order.submission_attempt_id),
        "bound": "unknown_max_age",
        "endpoint": "orders",
        "checks": 5,
        "since": (started - 300 * SECOND).isoformat(),
        "checked_at": NOW.isoformat(),
        "result": "partial",
        "tally": {"error": 4, "partial": 1},
        "found": ["a.com"],
        "missing": ["b.com"],
        "read_at": NOW.isoformat(),
    }
    assert told == [(order.pk, "needs_attention")]


def test_a_refusal_at_the_last_check_is_kept_in_the_persons_reason(settings):
    settings.DFY_RECONCILE_MAX_CHECKS = 1
    order = unknown_order(domains=["a.com"])

    check(order, Lists(error=InstantlyAuthError("Key revoked")))

    stuck = Order.objects.get(pk=order.pk)
    words = "Instantly's lists could not be read: Key revoked"
    assert stuck.attention_reason == (
        f"{words}. Instantly's list endpoints failed once since 2026-03-10 11:50 UTC. "
        f"{HINT}"
    )
    attention = events(stuck)[1]
    assert attention.detail["error"] == words
    assert attention.detail["bound"] == "unknown_max_checks"


def test_the_next_check_is_never_planned_past_the_max_age():
    order = unknown_order(domains=["a.com"], started=NOW - 7199 * SECOND)

    checked = check(order, Lists())

    checked.refresh_from_db()
    assert checked.status == OrderStatus.UNKNOWN
    assert checked.next_reconcile_at == NOW + SECOND
    assert events(checked)[0].detail["next_at"] == (NOW + SECOND).isoformat()


def test_the_max_age_is_the_configured_one(settings):
    settings.DFY_RECONCILE_MAX_AGE_SECONDS = 630
    order = unknown_order(domains=["a.com"])  # started 600 s ago

    checked = check(order, Lists())

    checked.refresh_from_db()
    assert checked.next_reconcile_at == NOW + 30 * SECOND


# --- only when due, and only this attempt --------------------------------------------------


def test_a_check_not_due_yet_reads_and_writes_nothing():
    order = unknown_order(domains=["a.com"], next_reconcile_at=NOW + SECOND)
    Order.objects.filter(pk=order.pk).update(
        reconcile_checks=4
    )  # the page read earlier
    lists = Lists(orders=[ordered("a.com", NOW)])

    returned = check(order, lists, only_if_due=True)

    assert lists.read == []
    assert returned.reconcile_checks == 4  # as stored now
    stored = Order.objects.get(pk=order.pk)
    assert stored.status == OrderStatus.UNKNOWN
    assert stored.next_reconcile_at == NOW + SECOND
    assert stored.last_reconciled_at is None
    assert events(stored) == []


@pytest.mark.parametrize("due", [NOW, NOW - SECOND, None])
def test_a_due_check_holds_the_order_while_it_reads(due):
    order = unknown_order(domains=["a.com"], next_reconcile_at=due)
    held: list[datetime | None] = []
    lists = Lists(
        meanwhile=lambda: held.append(Order.objects.get(pk=order.pk).next_reconcile_at)
    )

    checked = check(order, lists, only_if_due=True)

    assert lists.read == ["orders"]
    assert held == [NOW + 600 * SECOND]
    checked.refresh_from_db()
    assert checked.reconcile_checks == 1
    assert checked.next_reconcile_at == NOW + 60 * SECOND


def test_a_check_asked_for_directly_runs_even_when_not_due():
    order = unknown_order(domains=["a.com"], next_reconcile_at=NOW + MINUTE)
    lists = Lists()

    checked = check(order, lists)

    assert lists.read == ["orders"]
    checked.refresh_from_db()
    assert checked.reconcile_checks == 1


@pytest.mark.parametrize(
    "change",
    [
        {"status": OrderStatus.PLACED},
        {"submission_attempt_id": uuid.UUID(int=7)},
    ],
)
def test_a_due_check_of_an_order_that_moved_on_does_nothing(change):
    order = unknown_order(domains=["a.com"])
    Order.objects.filter(pk=order.pk).update(**change)  # `order` is the task's old copy
    lists = Lists()

    returned = check(order, lists, only_if_due=True)

    assert lists.read == []
    stored = Order.objects.get(pk=order.pk)
    assert stored.next_reconcile_at is None
    assert stored.reconcile_checks == 0
    assert events(stored) == []
    assert returned.status == stored.status
    assert returned.submission_attempt_id == stored.submission_attempt_id


def test_the_hold_is_on_this_order_only():
    attempt = uuid.uuid4()  # a copied row carrying the same attempt
    order = unknown_order(domains=["a.com"], submission_attempt_id=attempt)
    other = unknown_order(domains=["a.com"], submission_attempt_id=attempt)

    check(order, Lists(), only_if_due=True)

    assert Order.objects.get(pk=other.pk).next_reconcile_at is None


@pytest.mark.parametrize(
    "fields",
    [
        {"status": OrderStatus.PLACED},
        {"status": OrderStatus.NEEDS_ATTENTION},
        {"started": None},
        {"submission_attempt_id": None},
    ],
)
@pytest.mark.parametrize("only_if_due", [False, True])
def test_an_order_without_an_unknown_attempt_is_left_alone(fields, only_if_due):
    order = unknown_order(domains=["a.com"], **fields)
    lists = Lists(orders=[ordered("a.com", NOW)])

    returned = check(order, lists, only_if_due=only_if_due)

    assert returned is order
    assert lists.read == []
    stored = Order.objects.get(pk=order.pk)
    assert (stored.status, stored.reconcile_checks) == (order.status, 0)
    assert stored.next_reconcile_at is None
    assert events(stored) == []


@pytest.mark.parametrize(
    "change",
    [
        {"status": OrderStatus.PLACED},
        {"submission_attempt_id": uuid.UUID(int=7)},
    ],
)
def test_a_check_whose_order_moved_on_while_reading_records_nothing(change, told):
    order = unknown_order(domains=["a.com"])
    lists = Lists(
        orders=[ordered("a.com", NOW)],
        meanwhile=lambda: Order.objects.filter(pk=order.pk).update(**change),
    )

    returned = check(order, lists)

    assert lists.read == ["orders"]
    stored = Order.objects.get(pk=order.pk)
    assert stored.reconcile_checks == 0
    assert stored.reconcile_evidence == {}
    assert events(stored) == []
    assert (returned.status, returned.submission_attempt_id) == (
        stored.status,
        stored.submission_attempt_id,
    )
    assert told == []


def test_a_check_writes_only_its_own_fields(monkeypatch):
    order = unknown_order(domains=["a.com"])
    meanwhile_after_the_audit_row(monkeypatch, decision_comment="written meanwhile")

    check(order, Lists())

    stored = Order.objects.get(pk=order.pk)
    assert stored.decision_comment == "written meanwhile"
    assert stored.reconcile_checks == 1


# --- the checks as the order page lists them ------------------------------------------------


def recorded(order: Order, kind: str, at: datetime, detail: object) -> OrderEvent:
    event = OrderEvent.objects.create(order=order, kind=kind, detail=detail)
    OrderEvent.objects.filter(pk=event.pk).update(created_at=at)
    event.refresh_from_db()
    return event


@pytest.mark.parametrize(
    ("result", "label"),
    [
        ("found", "Found: placed"),
        ("partial", "Partly found"),
        ("not_found", "Not found"),
        ("refused", "Refused"),
        ("error", "Failed"),
        ("timed_out_twice", "Timed out twice"),
        ("", ""),
    ],
)
def test_each_result_has_its_label(result, label):
    order = cast(Order, OrderFactory())
    recorded(order, "reconcile_check", NOW, {"result": result})
    [attempt] = reconciliation.reconcile_attempts(order)
    assert (attempt.result, attempt.label) == (result, label)


def test_the_checks_are_listed_newest_first_with_their_counts():
    order = cast(Order, OrderFactory())
    read = recorded(
        order,
        "reconcile_check",
        NOW - 3 * MINUTE,
        {"result": "partial", "found_count": 1, "missing_count": 2, "error": ""},
    )
    failed = recorded(
        order,
        "reconcile_check",
        NOW - 2 * MINUTE,
        {
            "result": "error",
            "found_count": None,
            "missing_count": None,
            "error": "Instantly's lists failed: HTTP 503",
        },
    )
    placed = recorded(
        order,
        "reconciled_placed",
        NOW - MINUTE,
        {"result": "found", "found": ["a.com", "b.com"], "missing": []},
    )
    recorded(order, "needs_attention", NOW, {"result": "found"})  # not a check
    recorded(order, "stranded", NOW, {})

    assert reconciliation.reconcile_attempts(order) == [
        reconciliation.ReconcileAttempt(
            at=placed.created_at,
            result="found",
            label="Found: placed",
            found=2,
            missing=0,
            error="",
        ),
        reconciliation.ReconcileAttempt(
            at=failed.created_at,
            result="error",
            label="Failed",
            found=None,
            missing=None,
            error="Instantly's lists failed: HTTP 503",
        ),
        reconciliation.ReconcileAttempt(
            at=read.created_at,
            result="partial",
            label="Partly found",
            found=1,
            missing=2,
            error="",
        ),
    ]


def test_a_check_counts_its_lists_when_it_has_no_counts():
    order = cast(Order, OrderFactory())
    recorded(
        order,
        "reconcile_check",
        NOW,
        {"result": "partial", "found": ["a.com"], "missing": ["b.com", "c.com"]},
    )
    recorded(
        order,
        "reconcile_check",
        NOW - MINUTE,
        {"result": "partial", "found": None, "missing": None, "error": None},
    )
    first, second = reconciliation.reconcile_attempts(order)
    assert (first.found, first.missing) == (1, 2)
    assert (second.found, second.missing, second.error) == (0, 0, "")


def test_counts_that_are_not_numbers_are_not_shown():
    order = cast(Order, OrderFactory())
    recorded(
        order,
        "reconcile_check",
        NOW,
        {"result": "partial", "found_count": "2", "missing_count": [1]},
    )
    [attempt] = reconciliation.reconcile_attempts(order)
    assert (attempt.found, attempt.missing) == (None, None)


def test_a_placement_found_by_reconciliation_reads_found_by_default():
    order = cast(Order, OrderFactory())
    recorded(order, "reconciled_placed", NOW, {"attempt_id": "x"})
    recorded(order, "reconcile_check", NOW - MINUTE, {"attempt_id": "x"})
    placed, checked = reconciliation.reconcile_attempts(order)
    assert (placed.result, placed.label, placed.found, placed.missing) == (
        "found",
        "Found: placed",
        0,
        0,
    )
    assert (checked.result, checked.label) == ("", "")


@pytest.mark.parametrize(
    ("kind", "result", "label"),
    [("reconcile_check", "", ""), ("reconciled_placed", "found", "Found: placed")],
)
def test_a_detail_that_is_not_a_mapping_reads_as_empty(kind, result, label):
    order = cast(Order, OrderFactory())
    event = recorded(order, kind, NOW, ["not", "a", "mapping"])
    assert reconciliation.reconcile_attempts(order) == [
        reconciliation.ReconcileAttempt(
            at=event.created_at,
            result=result,
            label=label,
            found=0,
            missing=0,
            error="",
        )
    ]


def test_checks_at_the_same_time_are_listed_latest_written_first():
    order = cast(Order, OrderFactory())
    for result in ("partial", "error", "not_found"):
        recorded(order, "reconcile_check", NOW, {"result": result})
    assert [a.result for a in reconciliation.reconcile_attempts(order)] == [
        "not_found",
        "error",
        "partial",
    ]


def test_the_time_orders_the_checks_before_the_writing_order():
    order = cast(Order, OrderFactory())
    recorded(order, "reconcile_check", NOW, {"result": "partial"})
    recorded(order, "reconcile_check", NOW - MINUTE, {"result": "error"})
    assert [a.result for a in reconciliation.reconcile_attempts(order)] == [
        "partial",
        "error",
    ]


def test_the_page_lists_the_latest_fifty_checks_unless_told_otherwise():
    order = cast(Order, OrderFactory())
    for n in range(51):
        recorded(order, "reconcile_check", NOW - (51 - n) * SECOND, {"result": str(n)})
    listed = reconciliation.reconcile_attempts(order)
    assert [a.result for a in listed] == [str(n) for n in range(50, 0, -1)]
    assert [a.result for a in reconciliation.reconcile_attempts(order, limit=2)] == [
        "50",
        "49",
    ]


# --- a lead marks the order placed ----------------------------------------------------------

EVIDENCE = {"result": "not_found", "found": [], "missing": ["a.com"]}


def attention_order(
    workspace: Workspace, status: str = OrderStatus.NEEDS_ATTENTION, **fields: Any
) -> Order:
    fields.setdefault("submission_attempt_id", uuid.uuid4())
    return cast(
        Order,
        OrderFactory(
            workspace=workspace,
            status=status,
            reconcile_evidence=EVIDENCE,
            attention_reason="Instantly's lists were read 12 times.",
            **fields,
        ),
    )


def test_a_lead_marks_an_order_placed_with_the_evidence(workspace, lead, told):
    order = attention_order(workspace)

    placed = reconciliation.order_mark_placed(
        order=order, by=lead, comment="  seen on the billing page  "
    )

    placed.refresh_from_db()
    assert placed.status == OrderStatus.PLACED
    assert (placed.placed_at, placed.last_progress_at) == (NOW, NOW)
    assert placed.attention_reason == ""
    [event] = events(placed)
    assert (event.kind, event.actor, event.from_status, event.to_status) == (
        "marked_placed",
        lead,
        OrderStatus.NEEDS_ATTENTION,
        OrderStatus.PLACED,
    )
    assert event.detail == {"comment": "seen on the billing page", "evidence": EVIDENCE}
    assert told == [(order.pk, "placed")]


def test_marking_placed_without_a_comment_records_an_empty_one(workspace, ws_admin):
    order = attention_order(workspace)
    reconciliation.order_mark_placed(order=order, by=ws_admin)
    assert events(order)[0].detail == {"comment": "", "evidence": EVIDENCE}


def outsider(other_workspace: Workspace) -> User:
    """A lead, but of another workspace."""
    membership = MembershipFactory(
        workspace=other_workspace, role="admin", user=UserFactory(username="oscar")
    )
    return cast(User, membership.user)


@pytest.mark.parametrize("who", ["operator", "outsider"])
def test_only_a_lead_of_the_workspace_marks_placed(
    who, workspace, operator, other_workspace, told
):
    order = attention_order(workspace)
    by = operator if who == "operator" else outsider(other_workspace)
    with pytest.raises(common.ApprovalRefused) as refused:
        reconciliation.order_mark_placed(order=order, by=by)
    assert (
        str(refused.value) == "Only a lead or a workspace admin can resolve this order."
    )
    stored = Order.objects.get(pk=order.pk)
    assert stored.status == OrderStatus.NEEDS_ATTENTION
    assert events(stored) == []
    assert told == []


@pytest.mark.parametrize(
    ("status", "words"),
    [
        (OrderStatus.UNKNOWN, "outcome unknown, reconciling"),
        (OrderStatus.FAILED, "refused by instantly"),
        (OrderStatus.PLACED, "placed"),
    ],
)
def test_only_an_order_needing_attention_is_marked_placed(
    status, words, workspace, lead
):
    order = attention_order(workspace, status)
    with pytest.raises(common.WorkflowError) as refused:
        reconciliation.order_mark_placed(order=order, by=lead)
    assert type(refused.value) is common.WorkflowError
    assert str(refused.value) == (
        f"This order is {words}; only an order that needs attention can be marked placed."
    )
    assert events(order) == []


# --- a lead re-submits the order --------------------------------------------------------------


def with_quote(order: Order, due_now: str) -> Order:
    quote = Quote.objects.create(
        order=order,
        payload={},
        fingerprint="f" * 64,
        response_body="{}",
        due_now=Decimal(due_now),
        per_month=Decimal("40.00"),
        per_year=Decimal("480.00"),
        is_valid=True,
    )
    Order.objects.filter(pk=order.pk).update(approved_quote=quote)
    return Order.objects.get(pk=order.pk)


def failed_before(
    workspace: Workspace, status: str = OrderStatus.NEEDS_ATTENTION, **fields: Any
) -> Order:
    order = attention_order(
        workspace,
        status,
        placement_tries=3,
        refusal={"message": "Instantly refused it."},
        finished_at=NOW - MINUTE,
        decided_at=NOW - 60 * MINUTE,
        **fields,
    )
    return with_quote(order, "120.00")


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (OrderStatus.NEEDS_ATTENTION, "Instantly's lists were read 12 times."),
        (OrderStatus.FAILED, "Instantly's lists were read 12 times."),
        (OrderStatus.AWAITING_CHECKOUT, ""),
    ],
)
def test_a_re_submission_is_a_new_approval_recorded_with_the_last_attempt(
    status, reason, workspace, lead, queued, told
):
    order = failed_before(workspace, status)
    attempt = order.submission_attempt_id

    again = reconciliation.order_resubmit(order=order, by=lead, comment="  try again ")

    assert again.pk == order.pk
    again.refresh_from_db()
    assert again.status == OrderStatus.APPROVED
    assert (again.approver, again.decided_by, again.decided_at) == (lead, lead, NOW)
    assert again.placement_tries == 0
    assert again.refusal == {}
    assert again.finished_at is None
    assert again.attention_reason == reason  # cleared only after a checkout
    assert again.submission_attempt_id == attempt  # the worker's claim gives a new one
    [event] = events(again)
    assert (event.kind, event.actor, event.from_status, event.to_status) == (
        "resubmitted",
        lead,
        status,
        OrderStatus.APPROVED,
    )
    assert event.detail == {
        "previous_attempt_id": str(attempt),
        "comment": "try again",
        "evidence": EVIDENCE,
    }
    assert queued["place"] == [{"order_id": order.pk}]
    assert told == []


def test_a_re_submission_without_an_attempt_or_comment_records_them_empty(
    workspace, lead, queued
):
    order = failed_before(workspace, submission_attempt_id=None)
    reconciliation.order_resubmit(order=order, by=lead)
    assert events(order)[0].detail == {
        "previous_attempt_id": "",
        "comment": "",
        "evidence": EVIDENCE,
    }
    assert queued["place"] == [{"order_id": order.pk}]


def test_an_order_without_a_quote_is_re_submitted_without_a_limit(workspace, lead):
    order = attention_order(workspace)
    assert order.approved_quote is None
    again = reconciliation.order_resubmit(order=order, by=lead)
    assert Order.objects.get(pk=again.pk).status == OrderStatus.APPROVED


def test_an_amount_at_the_limit_may_be_re_submitted(workspace, lead):
    order = with_quote(attention_order(workspace), "500.00")
    reconciliation.order_resubmit(order=order, by=lead)
    assert Order.objects.get(pk=order.pk).status == OrderStatus.APPROVED


def refused_resubmit(order: Order, by: User) -> str:
    with pytest.raises(common.ApprovalRefused) as refused:
        reconciliation.order_resubmit(order=order, by=by)
    return str(refused.value)


def assert_untouched(order: Order, queued: dict[str, list[dict[str, Any]]]) -> None:
    stored = Order.objects.get(pk=order.pk)
    assert stored.status == order.status
    assert stored.placement_tries == order.placement_tries
    assert events(stored) == []
    assert queued["place"] == []


def test_an_amount_above_the_limit_is_refused_in_dollars(workspace, lead, queued):
    order = with_quote(attention_order(workspace), "1234.50")
    assert refused_resubmit(order, lead) == "$1,234.50 is above your approval limit."
    assert_untouched(order, queued)


@pytest.mark.parametrize("who", ["operator", "outsider"])
def test_only_a_lead_of_the_workspace_re_submits(
    who, workspace, operator, other_workspace, queued
):
    order = failed_before(workspace)
    by = operator if who == "operator" else outsider(other_workspace)
    assert refused_resubmit(order, by) == (
        "Only a lead or a workspace admin can re-submit an order."
    )
    assert_untouched(order, queued)


def test_a_lead_who_submitted_and_edited_the_order_may_not_re_submit_it(
    workspace, lead, queued
):
    order = failed_before(workspace, submitted_by=lead, submitted_at=NOW - DAY)
    OrderEdit.objects.create(order=order, editor=lead, version=2)
    assert refused_resubmit(order, lead) == (
        "You submitted this order. You edited this order (version 2). Four-eyes rule: "
        "a lead who neither submitted nor edited it must re-submit it."
    )
    assert_untouched(order, queued)


def test_a_lead_who_only_edited_the_order_may_not_re_submit_it(workspace, lead):
    order = failed_before(workspace)
    OrderEdit.objects.create(order=order, editor=lead, version=3)
    assert refused_resubmit(order, lead) == (
        "You edited this order (version 3). Four-eyes rule: a lead who neither "
        "submitted nor edited it must re-submit it."
    )


def test_a_workspace_allowing_self_approval_lets_the_submitter_re_submit(
    workspace, lead
):
    workspace.allow_self_approval = True
    workspace.save()
    order = failed_before(workspace, submitted_by=lead)
    reconciliation.order_resubmit(order=order, by=lead)
    assert Order.objects.get(pk=order.pk).status == OrderStatus.APPROVED


@pytest.mark.parametrize(
    ("status", "words"),
    [
        (OrderStatus.UNKNOWN, "outcome unknown, reconciling"),
        (OrderStatus.PLACED, "placed"),
        (OrderStatus.APPROVED, "approved, queued"),
    ],
)
def test_only_a_failed_or_unresolved_order_is_re_submitted(
    status, words, workspace, operator, queued
):
    order = failed_before(workspace, status)
    # The status is checked first: even someone who may not re-submit reads why not.
    with pytest.raises(common.WorkflowError) as refused:
        reconciliation.order_resubmit(order=order, by=operator)
    assert type(refused.value) is common.WorkflowError
    assert str(refused.value) == (
        f"This order is {words}; only a failed order, one that needs attention or one "
        "awaiting payment at Instantly can be re-submitted."
    )
    assert_untouched(order, queued)


def test_a_re_submission_saves_only_its_own_fields_after_the_audit_row(
    workspace, lead, monkeypatch
):
    order = failed_before(workspace)
    meanwhile_after_the_audit_row(monkeypatch, reconcile_checks=7, stuck_at=NOW)
    reconciliation.order_resubmit(order=order, by=lead)
    order.refresh_from_db()
    assert (order.reconcile_checks, order.stuck_at) == (7, NOW)
    assert order.status == OrderStatus.APPROVED


# --- the sweeper ----------------------------------------------------------------------------


def sweep_line(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage() for r in caplog.records if r.name == reconciliation.logger.name
    ]


def submitting(started: datetime | None, **fields: Any) -> Order:
    fields.setdefault("submission_attempt_id", uuid.uuid4())
    return cast(
        Order,
        OrderFactory(
            status=OrderStatus.SUBMITTING, attempt_started_at=started, **fields
        ),
    )


def approved(untouched: timedelta) -> Order:
    order = cast(Order, OrderFactory(status=OrderStatus.APPROVED))
    Order.objects.filter(pk=order.pk).update(updated_at=NOW - untouched)
    return order


def waiting(next_at: datetime | None, *, untouched: timedelta = timedelta(0)) -> Order:
    order = cast(
        Order,
        OrderFactory(
            status=OrderStatus.UNKNOWN,
            submission_attempt_id=uuid.uuid4(),
            attempt_started_at=NOW - MINUTE,
            next_reconcile_at=next_at,
        ),
    )
    Order.objects.filter(pk=order.pk).update(updated_at=NOW - untouched)
    return order


STRANDED = (
    "The worker stopped between claiming the order and recording Instantly's answer; "
    "the order may have been placed. Checking Instantly's lists."
)


def test_a_sweep_finds_each_kind_of_leftover_to_the_second(queued, caplog, told):
    stale = submitting(NOW - 301 * SECOND)
    fresh = submitting(NOW - 300 * SECOND)
    lost = approved(121 * SECOND)
    approved(120 * SECOND)
    late = waiting(NOW - 10 * SECOND)
    due = waiting(NOW)
    waiting(NOW + SECOND)
    never = waiting(None)

    with caplog.at_level(logging.INFO, logger=reconciliation.logger.name):
        assert reconciliation.orders_sweep() == {
            "requeued": 1,
            "stranded": 1,
            "reconciling": 4,
            "stuck": 0,
            "overdue": 0,
        }

    assert sweep_line(caplog) == [
        "sweep: 1 re-enqueued, 1 stranded, 4 reconciling, 0 stuck, 0 overdue"
    ]
    assert Order.objects.get(pk=stale.pk).status == OrderStatus.UNKNOWN
    assert Order.objects.get(pk=fresh.pk).status == OrderStatus.SUBMITTING
    assert queued["place"] == [{"order_id": lost.pk}]
    # Never checked first (the stranded one too), then by when the check is due.
    assert queued["reconcile"] == [
        {"order_id": stale.pk},
        {"order_id": never.pk},
        {"order_id": late.pk},
        {"order_id": due.pk},
    ]
    assert told == []


def test_a_stranded_attempt_becomes_unknown_with_the_reason(told):
    started = NOW - 301 * SECOND
    order = submitting(started, reconcile_checks=0, attention_reason="")

    reconciliation.orders_sweep()

    stored = Order.objects.get(pk=order.pk)
    assert stored.status == OrderStatus.UNKNOWN
    assert stored.attention_reason == STRANDED
    assert stored.next_reconcile_at is None
    [event] = events(stored)
    assert (event.kind, event.actor, event.from_status, event.to_status) == (
        "stranded",
        None,
        OrderStatus.SUBMITTING,
        OrderStatus.UNKNOWN,
    )
    assert event.detail == {
        "attempt_id": str(order.submission_attempt_id),
        "started_at": started.isoformat(),
    }
    assert told == []


def test_the_sweep_bounds_are_the_configured_ones(settings, queued):
    settings.DFY_SUBMITTING_STALE_SECONDS = 30
    settings.DFY_APPROVED_STALE_SECONDS = 20
    stale = submitting(NOW - 31 * SECOND)
    lost = approved(21 * SECOND)
    assert reconciliation.orders_sweep()["stranded"] == 1
    assert Order.objects.get(pk=stale.pk).status == OrderStatus.UNKNOWN
    assert queued["place"] == [{"order_id": lost.pk}]


def test_a_sweep_handles_a_batch_per_kind_and_the_rest_next_time(monkeypatch, queued):
    monkeypatch.setattr(reconciliation, "SWEEP_BATCH_SIZE", 2)
    stuck = [submitting(NOW - DAY / 24) for _ in range(3)]
    lost = [approved(10 * MINUTE) for _ in range(3)]

    first = reconciliation.orders_sweep()

    assert (first["stranded"], first["requeued"], first["reconciling"]) == (2, 2, 2)
    assert len(queued["place"]) == 2
    assert {kw["order_id"] for kw in queued["place"]} < {o.pk for o in lost}
    # Of the two now unknown, both are due: the batch is full.
    assert [kw["order_id"] for kw in queued["reconcile"]] == sorted(
        o.pk for o in stuck if Order.objects.get(pk=o.pk).status == OrderStatus.UNKNOWN
    )
    second = reconciliation.orders_sweep()
    assert second["stranded"] == 1
    assert reconciliation.orders_sweep()["stranded"] == 0
    assert all(Order.objects.get(pk=o.pk).status == OrderStatus.UNKNOWN for o in stuck)


def test_due_checks_are_enqueued_never_checked_first_then_by_due_time_then_by_id(
    monkeypatch, queued
):
    monkeypatch.setattr(reconciliation, "SWEEP_BATCH_SIZE", 4)
    # Each order was touched earlier than the one before it, so that rows read in the
    # order of their last update do not come out by id by accident.
    b_late = waiting(NOW - SECOND)
    a_early = waiting(NOW - MINUTE, untouched=MINUTE)
    b_late_too = waiting(NOW - SECOND, untouched=2 * MINUTE)
    never = waiting(None, untouched=3 * MINUTE)
    never_too = waiting(None, untouched=4 * MINUTE)

    assert reconciliation.orders_sweep()["reconciling"] == 4

    assert [kw["order_id"] for kw in queued["reconcile"]] == [
        never.pk,
        never_too.pk,
        a_early.pk,
        b_late.pk,
    ]
    assert b_late_too.pk > b_late.pk


def test_a_sweep_with_nothing_to_do_says_nothing(caplog, queued):
    approved(120 * SECOND)
    submitting(NOW - 300 * SECOND)
    waiting(NOW + SECOND, untouched=DAY)
    for status in (OrderStatus.DRAFT, OrderStatus.REJECTED, OrderStatus.FAILED):
        idle = cast(Order, OrderFactory(status=status, attempt_started_at=NOW - DAY))
        Order.objects.filter(pk=idle.pk).update(updated_at=NOW - DAY)

    with caplog.at_level(logging.INFO, logger=reconciliation.logger.name):
        assert reconciliation.orders_sweep() == {
            "requeued": 0,
            "stranded": 0,
            "reconciling": 0,
            "stuck": 0,
            "overdue": 0,
        }

    assert sweep_line(caplog) == []
    assert queued == {"place": [], "reconcile": []}


@pytest.fixture
def elsewhere(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The overdue and stuck checks (bounds.py, fulfilment.py) replaced: they report the
    counts set here and record the time the sweep gave them."""
    counts: dict[str, Any] = {"overdue": 0, "stuck": 0, "asked": []}

    def flag_overdue(**kwargs: Any) -> int:
        counts["asked"].append(("overdue", kwargs))
        return cast(int, counts["overdue"])

    def flag_stuck(**kwargs: Any) -> int:
        counts["asked"].append(("stuck", kwargs))
        return cast(int, counts["stuck"])

    monkeypatch.setattr(bounds, "orders_flag_overdue", flag_overdue)
    monkeypatch.setattr(fulfilment, "orders_flag_stuck", flag_stuck)
    return counts


def test_the_sweep_gives_the_other_checks_its_own_time(elsewhere):
    reconciliation.orders_sweep()
    assert elsewhere["asked"] == [("overdue", {"now": NOW}), ("stuck", {"now": NOW})]


@pytest.mark.parametrize(
    ("leftover", "line"),
    [
        (
            "requeued",
            "sweep: 1 re-enqueued, 0 stranded, 0 reconciling, 0 stuck, 0 overdue",
        ),
        (
            "stranded",
            "sweep: 0 re-enqueued, 1 stranded, 1 reconciling, 0 stuck, 0 overdue",
        ),
        (
            "reconciling",
            "sweep: 0 re-enqueued, 0 stranded, 1 reconciling, 0 stuck, 0 overdue",
        ),
        (
            "stuck",
            "sweep: 0 re-enqueued, 0 stranded, 0 reconciling, 2 stuck, 0 overdue",
        ),
        (
            "overdue",
            "sweep: 0 re-enqueued, 0 stranded, 0 reconciling, 0 stuck, 3 overdue",
        ),
    ],
)
def test_any_one_kind_of_leftover_is_logged(leftover, line, elsewhere, caplog):
    if leftover == "requeued":
        approved(121 * SECOND)
    elif leftover == "stranded":
        submitting(NOW - 301 * SECOND)
    elif leftover == "reconciling":
        waiting(NOW)
    elif leftover == "stuck":
        elsewhere["stuck"] = 2
    else:
        elsewhere["overdue"] = 3

    with caplog.at_level(logging.INFO, logger=reconciliation.logger.name):
        found = reconciliation.orders_sweep()

    assert sweep_line(caplog) == [line]
    expected = {
        "requeued": 0,
        "stranded": 0,
        "reconciling": 0,
        "stuck": 0,
        "overdue": 0,
    }
    expected.update(
        {
            "requeued": {"requeued": 1},
            "stranded": {"stranded": 1, "reconciling": 1},
            "reconciling": {"reconciling": 1},
            "stuck": {"stuck": 2},
            "overdue": {"overdue": 3},
        }[leftover]
    )
    assert found == expected


def test_marking_stranded_leaves_another_attempt_or_status_alone():
    order = submitting(NOW - DAY)
    attempt = cast(uuid.UUID, order.submission_attempt_id)
    assert reconciliation._mark_stranded(order.pk, uuid.uuid4()) == 0
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.PLACED)
    assert reconciliation._mark_stranded(order.pk, attempt) == 0
    stored = Order.objects.get(pk=order.pk)
    assert stored.status == OrderStatus.PLACED
    assert stored.attention_reason == ""
    assert events(stored) == []


def test_marking_stranded_marks_the_named_order_only():
    attempt = uuid.uuid4()  # a copied row carrying the same attempt
    order = submitting(NOW - DAY, submission_attempt_id=attempt)
    other = submitting(NOW - DAY, submission_attempt_id=attempt)
    assert reconciliation._mark_stranded(order.pk, attempt) == 1
    assert Order.objects.get(pk=order.pk).status == OrderStatus.UNKNOWN
    assert Order.objects.get(pk=other.pk).status == OrderStatus.SUBMITTING


def test_a_stranded_attempt_without_a_start_time_says_so():
    order = submitting(None)
    attempt = cast(uuid.UUID, order.submission_attempt_id)
    assert reconciliation._mark_stranded(order.pk, attempt) == 1
    assert events(order)[0].detail == {"attempt_id": str(attempt), "started_at": None}


def test_marking_stranded_writes_only_its_own_fields(monkeypatch):
    order = submitting(NOW - DAY)
    meanwhile_after_the_audit_row(monkeypatch, reconcile_checks=7)
    assert (
        reconciliation._mark_stranded(
            order.pk, cast(uuid.UUID, order.submission_attempt_id)
        )
        == 1
    )
    stored = Order.objects.get(pk=order.pk)
    assert (stored.status, stored.reconcile_checks) == (OrderStatus.UNKNOWN, 7)
