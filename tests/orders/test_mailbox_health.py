"""Mailbox health after delivery without the remote: the folds (one account → a mailbox's
health, an order's mailboxes → its health) and the writes of a reading, with accounts made
here; the lifecycle's one health move (events, one notice per episode, status untouched)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone

from orders import lifecycle, mailbox_health
from orders.lifecycle import EventKind, IllegalTransition, MailboxHealth, OrderHealth
from orders.mailbox_health import mailbox_health_fold, order_health_fold
from orders.models import Mailbox, Order, OrderStatus
from tests.orders.history_data import make_order

pytestmark = pytest.mark.django_db

H = MailboxHealth


@dataclass(frozen=True)
class Account:
    email: str = "anna@alpha.com"
    status: int = 1
    warmup_status: int = 1
    setup_pending: bool = False
    stat_warmup_score: float | None = 52.0
    daily_limit: int | None = 30


@pytest.mark.parametrize(
    ("fields", "health"),
    [
        ({}, H.CONNECTED),
        ({"status": 3}, H.CONNECTED),  # Instantly's short maintenance pause
        ({"warmup_status": 0}, H.CONNECTED),
        ({"warmup_status": -2}, H.CONNECTED),
        ({"setup_pending": True, "warmup_status": 0}, H.SETUP_PENDING),
        ({"status": 2}, H.PAUSED),
        ({"status": -1}, H.DISCONNECTED),
        ({"status": -1, "setup_pending": True}, H.DISCONNECTED),
        ({"status": -2}, H.ERROR),
        ({"status": -3}, H.ERROR),
        ({"warmup_status": -1}, H.ERROR),
        ({"warmup_status": -3}, H.ERROR),
        ({"status": 2, "warmup_status": -3}, H.ERROR),
        ({"status": 2, "setup_pending": True}, H.SETUP_PENDING),
    ],
)
def test_one_account_folds_into_one_word(fields, health):
    assert mailbox_health_fold(Account(**fields)) == health


@pytest.mark.parametrize(
    ("rows", "current", "health"),
    [
        ([], "", OrderHealth.UNKNOWN),
        ([], "live", OrderHealth.LIVE),
        ([(H.CONNECTED, 1), (H.CONNECTED, 1)], "", OrderHealth.LIVE),
        ([(H.CONNECTED, 1), (H.SETUP_PENDING, 0)], "", OrderHealth.SETTING_UP),
        ([(H.CONNECTED, 1), (H.UNKNOWN, None)], "live", OrderHealth.SETTING_UP),
        ([(H.CONNECTED, 1), (H.DISCONNECTED, 1)], "live", OrderHealth.ATTENTION),
        ([(H.SETUP_PENDING, 0), (H.ERROR, -1)], "", OrderHealth.ATTENTION),
        # Set up but not warming: not live yet; once live, a person's pause keeps it live.
        ([(H.CONNECTED, 1), (H.CONNECTED, 0)], "", OrderHealth.SETTING_UP),
        ([(H.CONNECTED, 1), (H.PAUSED, 1)], "setting_up", OrderHealth.SETTING_UP),
        ([(H.CONNECTED, 1), (H.PAUSED, 1)], "live", OrderHealth.LIVE),
        ([(H.CONNECTED, 1), (H.CONNECTED, 0)], "live", OrderHealth.LIVE),
        ([(H.CONNECTED, 1), (H.PAUSED, 1)], "attention", OrderHealth.SETTING_UP),
        ([(H.CONNECTED, 1)], "attention", OrderHealth.LIVE),
    ],
)
def test_an_orders_mailboxes_fold_into_its_health(rows, current, health):
    assert order_health_fold(rows, current=current) == health


def test_summaries_name_the_mailboxes_and_count_the_rest():
    broken = [(f"m{n}@alpha.com", "connected", "disconnected") for n in range(7)]
    one = [("anna@alpha.com", "connected", "error"), ("ben@alpha.com", "", "connected")]

    assert mailbox_health.health_summary(broken, to=OrderHealth.ATTENTION) == (
        "7 of 7 mailboxes need attention at Instantly: m0@alpha.com (disconnected), "
        "m1@alpha.com (disconnected), m2@alpha.com (disconnected), m3@alpha.com "
        "(disconnected), m4@alpha.com (disconnected) and 2 more."
    )
    assert mailbox_health.health_summary(one, to=OrderHealth.ATTENTION) == (
        "1 of 2 mailboxes needs attention at Instantly: anna@alpha.com (error)."
    )
    assert mailbox_health.health_summary(
        [("anna@alpha.com", "error", "connected")], to=OrderHealth.LIVE
    ) == ("The mailbox is set up and warming at Instantly. Recovered: anna@alpha.com.")
    assert mailbox_health.health_summary(
        [("a@x.com", "", "setup_pending"), ("b@x.com", "", "connected")],
        to=OrderHealth.SETTING_UP,
    ) == ("All 2 mailboxes are connected or still being set up at Instantly.")


# --- a reading written onto an order's mailboxes -------------------------------------------


@pytest.fixture
def delivered(workspace, operator):
    return make_order(
        workspace,
        operator,
        status="ready",
        mailbox_status="ready",
        items=[("alpha.com", 1, ["anna", "ben"])],
    )


def reading(**overrides):
    accounts = {
        "anna@alpha.com": Account(email="anna@alpha.com"),
        "ben@alpha.com": Account(email="Ben@Alpha.com", stat_warmup_score=40.5),
    }
    for email, fields in overrides.items():
        accounts[email] = Account(email=email, **fields)
    return accounts


def apply(order, accounts, now, capture):
    with capture(execute=True):
        return mailbox_health.health_apply(
            order_ids=[order.pk], accounts=accounts, now=now
        )


def kinds(order):
    return list(
        order.events.filter(kind__startswith="health_").values_list("kind", flat=True)
    )


def test_a_reading_makes_the_order_live_then_attention_once_then_recovered(
    delivered, django_capture_on_commit_callbacks
):
    now = timezone.now()
    capture = django_capture_on_commit_callbacks

    first = apply(delivered, reading(), now, capture)
    anna = Mailbox.objects.get(email_prefix="anna")
    delivered.refresh_from_db()
    live = (delivered.health, delivered.health_checked_at, delivered.status)

    broken = reading(**{"ben@alpha.com": {"status": -1}})
    second = apply(delivered, broken, now + timedelta(minutes=15), capture)
    third = apply(delivered, broken, now + timedelta(minutes=30), capture)
    delivered.refresh_from_db()
    attention = (delivered.health, delivered.status, len(mail.outbox))

    fourth = apply(delivered, reading(), now + timedelta(minutes=45), capture)
    delivered.refresh_from_db()

    assert first == (2, 1)
    assert (anna.health, anna.account_status, anna.setup_pending) == (
        "connected",
        1,
        False,
    )
    assert (anna.warmup_status, anna.warmup_score, anna.daily_limit) == (1, 52.0, 30)
    assert anna.health_checked_at == now
    assert live == (OrderHealth.LIVE, now, OrderStatus.READY)
    assert (second, third) == ((1, 1), (0, 0))
    assert attention == (OrderHealth.ATTENTION, OrderStatus.READY, 1)
    assert mail.outbox[0].subject == f"Mailbox trouble: {delivered}"
    assert "1 of 2 mailboxes needs attention at Instantly: ben@alpha.com" in (
        mail.outbox[0].body
    )
    assert fourth == (1, 1)
    assert delivered.health == OrderHealth.LIVE
    assert delivered.status == OrderStatus.READY
    assert kinds(delivered) == [
        EventKind.HEALTH_LIVE,
        EventKind.HEALTH_ATTENTION,
        EventKind.HEALTH_RECOVERED,
    ]
    recovered = delivered.events.get(kind=EventKind.HEALTH_RECOVERED)
    assert recovered.detail == {
        "from": "attention",
        "to": "live",
        "summary": "All 2 mailboxes are set up and warming at Instantly. "
        "Recovered: ben@alpha.com.",
    }
    assert (recovered.from_status, recovered.to_status) == ("ready", "ready")
    assert len(mail.outbox) == 1


def test_an_unchanged_reading_only_moves_the_read_time(
    delivered, django_capture_on_commit_callbacks
):
    now = timezone.now()
    apply(delivered, reading(), now, django_capture_on_commit_callbacks)
    later = now + timedelta(minutes=15)

    again = apply(delivered, reading(), later, django_capture_on_commit_callbacks)

    delivered.refresh_from_db()
    assert again == (0, 0)
    assert set(
        Mailbox.objects.filter(item__order=delivered).values_list(
            "health_checked_at", flat=True
        )
    ) == {later}
    assert delivered.health_checked_at == later


def test_a_mailbox_not_listed_keeps_what_was_read_and_when(
    delivered, django_capture_on_commit_callbacks
):
    now = timezone.now()
    apply(delivered, reading(), now, django_capture_on_commit_callbacks)
    only_anna = {"anna@alpha.com": Account(status=2)}

    apply(
        delivered,
        only_anna,
        now + timedelta(minutes=15),
        django_capture_on_commit_callbacks,
    )

    ben = Mailbox.objects.get(email_prefix="ben")
    anna = Mailbox.objects.get(email_prefix="anna")
    delivered.refresh_from_db()
    assert (ben.health, ben.health_checked_at) == ("connected", now)
    assert anna.health == "paused"
    # Live once, so a person's pause leaves it live; the row says "paused".
    assert delivered.health == OrderHealth.LIVE


def test_unready_and_cancelled_mailboxes_of_a_partly_cancelled_order(
    workspace, operator, django_capture_on_commit_callbacks
):
    order = make_order(
        workspace,
        operator,
        status="partially_cancelled",
        mailbox_status="ready",
        items=[("alpha.com", 1, ["anna", "ben", "cleo"])],
    )
    Mailbox.objects.filter(email_prefix="ben").update(status="cancelled")
    Mailbox.objects.filter(email_prefix="cleo").update(status="provisioning")
    accounts = reading(**{"cleo@alpha.com": {}, "ben@alpha.com": {"status": -1}})

    changed = apply(order, accounts, timezone.now(), django_capture_on_commit_callbacks)

    order.refresh_from_db()
    healths = dict(
        Mailbox.objects.filter(item__order=order).values_list("email_prefix", "health")
    )
    # Cleo is not set up yet (no health read); Ben is cancelled, his trouble not ours.
    assert healths == {"anna": "connected", "ben": "", "cleo": ""}
    assert changed == (1, 1)
    assert order.health == OrderHealth.SETTING_UP
    assert kinds(order) == []
    assert mail.outbox == []


def test_orders_no_longer_delivered_are_left_alone(
    workspace, operator, django_capture_on_commit_callbacks
):
    order = make_order(workspace, operator, status="cancelled", mailbox_status="ready")

    changed = apply(
        order, reading(), timezone.now(), django_capture_on_commit_callbacks
    )

    assert changed == (0, 0)
    assert Mailbox.objects.filter(item__order=order, health="").count() == 2


def test_the_health_move_needs_the_lock(delivered):
    with pytest.raises(IllegalTransition), transaction.atomic():
        lifecycle.orders_health_set([(delivered, OrderHealth.LIVE, "")], chunk=10)


def test_staying_in_a_health_records_nothing(delivered):
    with transaction.atomic():
        locked = lifecycle.orders_lock_many(
            Order.objects.select_for_update().filter(pk=delivered.pk)
        )
        moved = lifecycle.orders_health_set(
            [(locked[0], OrderHealth.UNKNOWN, "")], chunk=10
        )

    assert moved == 0
    assert kinds(delivered) == []


def test_setting_up_records_nothing_and_writes_in_chunks(
    workspace, operator, django_capture_on_commit_callbacks
):
    orders = [
        make_order(workspace, operator, items=[(f"d{n}.com", 1, ["a"])])
        for n in range(3)
    ]
    with transaction.atomic():
        locked = lifecycle.orders_lock_many(
            Order.objects.select_for_update().filter(pk__in=[o.pk for o in orders])
        )
        moved = lifecycle.orders_health_set(
            [(o, OrderHealth.SETTING_UP, "") for o in locked], chunk=2
        )

    assert moved == 3
    assert set(
        Order.objects.filter(pk__in=[o.pk for o in orders]).values_list(
            "health", flat=True
        )
    ) == {OrderHealth.SETTING_UP}
    assert not any(kinds(o) for o in orders)


class FakeClient:
    """Pages of accounts; counts one request per page read."""

    def __init__(self, pages):
        self.pages = pages
        self.request_count = 0
        self.asked = []

    def sending_account_pages(self, *, page_size, filter):  # noqa: A002 - the client's name
        self.asked.append((page_size, filter))
        for items in self.pages:
            self.request_count += 1
            yield type("Page", (), {"items": tuple(items)})


def read_with(client: FakeClient, wanted: set[str]):  # type: ignore[no-untyped-def]
    return mailbox_health.accounts_read(client=cast(Any, client), wanted=wanted)


def test_reading_stops_once_all_were_seen_else_reads_to_the_end():
    other, anna, ben = (
        Account(email=e) for e in ("x@else.com", "ANNA@alpha.com", "ben@alpha.com")
    )
    pages = [[other, anna], [ben], [other]]

    early = FakeClient(pages)
    found, calls = read_with(early, {"anna@alpha.com", "ben@alpha.com"})
    missing = FakeClient(pages)
    _found, all_calls = read_with(missing, {"anna@alpha.com", "gone@alpha.com"})
    idle = FakeClient(pages)
    nothing = read_with(idle, set())

    assert found == {"anna@alpha.com": anna, "ben@alpha.com": ben}
    assert calls == 2
    assert early.asked == [(100, "ACC_FILTER_DFY")]
    # An address Instantly no longer lists: the list is read to its end, once.
    assert all_calls == 3
    assert nothing == ({}, 0)
    assert idle.asked == []
