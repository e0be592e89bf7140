"""Every order whose outcome is unknown ends with a person told, and every status that is not
final has a bound (docs/lifecycle-bounds.md). Against the in-process sandbox; beat's sweeper
and the tasks it enqueues are run by hand through simulated time."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from orders import instantly_keys, tasks, workflow
from orders.models import Order, OrderStatus
from orders.ratelimit import Reservation
from sandbox.switches import switches_set
from sandbox.testing import in_process_transport
from tests.integration.support import submitted_order

pytestmark = pytest.mark.django_db

LIST_PATHS = ("/dfy-email-account-orders", "/dfy-email-account-orders/accounts")
READ_ATTEMPTS_PER_CHECK = 5  # the client's first try and its 4 read retries


def is_real_post(request: httpx.Request) -> bool:
    return (
        request.method == "POST"
        and b'"simulation":false' in request.content.replace(b" ", b"")
    )


class ListsUnavailable(httpx.BaseTransport):
    """Instantly's list endpoints answer 503; everything else reaches the sandbox."""

    def __init__(self, inner: httpx.BaseTransport, calls: list[str]) -> None:
        self.inner = inner
        self.calls = calls

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET" and request.url.path.endswith(LIST_PATHS):
            self.calls.append(request.url.path)
            return httpx.Response(
                503,
                json={"statusCode": 503, "error": "Service Unavailable", "message": ""},
            )
        return self.inner.handle_request(request)


class RateLimitedRealPost(httpx.BaseTransport):
    """Answers 429 to the real order POST. With `record`, the sandbox received and recorded
    the order first (Instantly does not promise a 429 was never processed)."""

    def __init__(self, inner: httpx.BaseTransport, *, record: bool) -> None:
        self.inner = inner
        self.record = record
        self.real_posts = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if not is_real_post(request):
            return self.inner.handle_request(request)
        self.real_posts += 1
        if self.record:
            self.inner.handle_request(request).read()
        return httpx.Response(
            429,
            headers={"Retry-After": "1"},
            json={"statusCode": 429, "error": "Too Many Requests", "message": ""},
        )


@pytest.fixture
def approved(
    workspace, operator, lead, remote, queue, django_capture_on_commit_callbacks
):
    order = submitted_order(workspace, operator)
    with django_capture_on_commit_callbacks(execute=True):
        workflow.order_approve(order=order, by=lead)
    queue.sent.clear()
    mail.outbox.clear()
    order.refresh_from_db()
    return order


def attention_mails() -> list[str]:
    return [m.subject for m in mail.outbox if m.subject.startswith("Needs attention")]


def kinds(order: Order) -> list[str]:
    return list(order.events.values_list("kind", flat=True))


def beat(queue, capture) -> None:  # type: ignore[no-untyped-def]
    """One sweep as beat runs it, then every task it enqueued (and what those enqueue)."""
    with capture(execute=True):
        workflow.orders_sweep()
    queue.drain(capture)


def test_list_endpoints_failing_for_a_day_end_with_a_person_told_once_within_the_bound(
    approved, remote, queue, monkeypatch, django_capture_on_commit_callbacks
):
    # The real POST's answer is lost (the sandbox did not record it): outcome unknown.
    switches_set(
        workspace=remote.sandbox,
        timeout_without_record=True,
        timeout_after_record_seconds=0,
    )
    with django_capture_on_commit_callbacks(execute=True):
        tasks.place_order_task(order_id=approved.pk)
    approved.refresh_from_db()
    assert approved.status == OrderStatus.UNKNOWN
    started = approved.attempt_started_at

    calls: list[str] = []
    sandbox_client = instantly_keys.instantly_client_for

    def lists_down(*, workspace, **overrides):  # type: ignore[no-untyped-def]
        overrides.setdefault(
            "transport", ListsUnavailable(in_process_transport(), calls)
        )
        return sandbox_client(workspace=workspace, **overrides)

    monkeypatch.setattr(instantly_keys, "instantly_client_for", lists_down)

    told_at = None
    with time_machine.travel(timezone.now(), tick=False) as clock:
        queue.drain(
            django_capture_on_commit_callbacks
        )  # the check enqueued with unknown
        end = timezone.now() + timedelta(days=1)
        while timezone.now() < end:  # a day of beat: one sweep a minute until told
            clock.shift(timedelta(minutes=1 if told_at is None else 10))
            beat(queue, django_capture_on_commit_callbacks)
            if told_at is None and attention_mails():
                told_at = timezone.now()

    approved.refresh_from_db()
    checks = approved.events.filter(kind="reconcile_check")
    assert approved.status == OrderStatus.NEEDS_ATTENTION
    assert told_at is not None
    assert told_at - started <= timedelta(
        seconds=workflow.reconcile_max_age_seconds() + 60
    )
    assert attention_mails() == ["Needs attention: Q3"]
    # Every check counted and recorded, with the failure as evidence.
    assert 1 < approved.reconcile_checks <= workflow.reconcile_max_checks()
    assert checks.count() == approved.reconcile_checks
    assert {c.detail["result"] for c in checks} == {"error"}
    assert "503" in checks.last().detail["error"]
    assert approved.reconcile_evidence["tally"] == {"error": approved.reconcile_checks}
    # Backoff: the list calls stay within the checks' bound, not one check per sweep.
    assert 0 < len(calls) <= workflow.reconcile_max_checks() * READ_ATTEMPTS_PER_CHECK
    assert len(calls) == approved.reconcile_checks * READ_ATTEMPTS_PER_CHECK
    assert approved.attention_reason.startswith(
        f"Instantly's list endpoints failed {approved.reconcile_checks} times since "
    )
    assert remote.real_posts() == 1


def test_checks_back_off_exponentially_with_bounded_jitter(settings, monkeypatch):
    settings.DFY_RECONCILE_BACKOFF_SECONDS = 60
    settings.DFY_RECONCILE_BACKOFF_CAP_SECONDS = 900
    monkeypatch.setattr("random.uniform", lambda low, high: low)
    low = [workflow.reconcile_backoff(n).total_seconds() for n in range(1, 8)]
    monkeypatch.setattr("random.uniform", lambda low, high: high)
    high = [workflow.reconcile_backoff(n).total_seconds() for n in range(1, 8)]

    assert high == [60, 120, 240, 480, 900, 900, 900]
    assert low == [30, 60, 120, 240, 450, 450, 450]


def test_a_429_to_the_real_post_that_was_recorded_is_reconciled_to_placed(
    approved, remote, workspace, queue, django_capture_on_commit_callbacks
):
    transport = RateLimitedRealPost(in_process_transport(), record=True)
    client = instantly_keys.instantly_client_for(
        workspace=workspace, transport=transport
    )

    with django_capture_on_commit_callbacks(execute=True):
        unknown = workflow.order_place(order=approved, client=client)
    assert unknown.status == OrderStatus.UNKNOWN
    assert queue.names() == ["reconcile_order_task"]
    queue.drain(django_capture_on_commit_callbacks)

    approved.refresh_from_db()
    assert approved.status == OrderStatus.PLACED
    assert approved.reconcile_evidence["found"] == ["acme-mail.com"]
    assert approved.reconcile_evidence["result"] == "found"
    assert transport.real_posts == 1
    assert remote.real_posts() == 1
    assert kinds(approved)[-3:] == [
        "place_request",
        "outcome_unknown",
        "reconciled_placed",
    ]


def test_a_429_to_the_real_post_never_recorded_posts_again_only_after_a_person_resubmits(
    approved,
    remote,
    workspace,
    ws_admin,
    queue,
    settings,
    django_capture_on_commit_callbacks,
):
    settings.DFY_RECONCILE_MAX_CHECKS = 3
    transport = RateLimitedRealPost(in_process_transport(), record=False)
    client = instantly_keys.instantly_client_for(
        workspace=workspace, transport=transport
    )
    with django_capture_on_commit_callbacks(execute=True):
        workflow.order_place(order=approved, client=client)

    with time_machine.travel(timezone.now(), tick=False) as clock:
        queue.drain(django_capture_on_commit_callbacks)
        for _ in range(60):
            clock.shift(timedelta(minutes=1))
            beat(queue, django_capture_on_commit_callbacks)
    approved.refresh_from_db()

    assert approved.status == OrderStatus.NEEDS_ATTENTION
    assert approved.reconcile_checks == 3
    assert approved.reconcile_evidence["tally"] == {"not_found": 3}
    assert "show 0 of 1 domains" in approved.attention_reason
    assert transport.real_posts == 1
    assert remote.real_posts() == 0
    assert attention_mails() == ["Needs attention: Q3"]

    with django_capture_on_commit_callbacks(execute=True):
        workflow.order_resubmit(order=approved, by=ws_admin, comment="Not billed")
    queue.drain(django_capture_on_commit_callbacks)

    approved.refresh_from_db()
    assert approved.status == OrderStatus.PLACED
    assert transport.real_posts + remote.real_posts() == 2


class GrantOnce:
    """A rate limiter that lets the re-quote through, then makes the POST wait too long."""

    def __init__(self) -> None:
        self.granted = 0

    def try_acquire(self, bucket: str, kind: str) -> Reservation:
        self.granted += 1
        if self.granted == 1:
            return Reservation(granted=True, wait=0, reason="", at=0)
        return Reservation(granted=False, wait=3600, reason="the test's limiter", at=0)


def test_a_limiter_wait_that_never_sent_the_post_gives_the_claim_back(
    approved, remote, workspace
):
    client = instantly_keys.instantly_client_for(
        workspace=workspace, limiter=GrantOnce()
    )

    released = workflow.order_place(order=approved, client=client)

    assert released.status == OrderStatus.APPROVED
    assert released.placement_tries == 1
    assert kinds(released)[-1] == "claim_released"
    assert remote.real_posts() == 0


def test_a_stale_approval_goes_to_a_person_once(
    approved, queue, django_capture_on_commit_callbacks
):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        clock.shift(timedelta(seconds=workflow.approved_max_seconds() - 60))
        with django_capture_on_commit_callbacks(execute=True):
            early = workflow.orders_sweep()
        queue.sent.clear()
        clock.shift(timedelta(minutes=2))
        with django_capture_on_commit_callbacks(execute=True):
            late = workflow.orders_sweep()
        clock.shift(timedelta(hours=5))
        with django_capture_on_commit_callbacks(execute=True):
            later = workflow.orders_sweep()

    approved.refresh_from_db()
    assert (early["overdue"], late["overdue"], later["overdue"]) == (0, 1, 0)
    assert approved.status == OrderStatus.NEEDS_ATTENTION
    assert "no worker started placing it" in approved.attention_reason
    assert approved.reconcile_evidence["nothing_sent"] is True
    assert queue.sent == []  # not re-enqueued once a person owns it
    assert attention_mails() == ["Needs attention: Q3"]


def test_an_unknown_outcome_whose_checks_never_ran_goes_to_a_person_at_the_max_age(
    approved, remote, workspace, queue, django_capture_on_commit_callbacks
):
    """A dead worker: the sweeper enqueues checks nobody runs, and still tells a person."""
    transport = RateLimitedRealPost(in_process_transport(), record=False)
    client = instantly_keys.instantly_client_for(
        workspace=workspace, transport=transport
    )
    with django_capture_on_commit_callbacks(execute=True):
        workflow.order_place(order=approved, client=client)

    with time_machine.travel(timezone.now(), tick=False) as clock:
        clock.shift(timedelta(seconds=workflow.reconcile_max_age_seconds() - 60))
        with django_capture_on_commit_callbacks(execute=True):
            before = workflow.orders_sweep()
        clock.shift(timedelta(minutes=2))
        with django_capture_on_commit_callbacks(execute=True):
            after = workflow.orders_sweep()

    approved.refresh_from_db()
    assert (before["overdue"], after["overdue"]) == (0, 1)
    assert approved.status == OrderStatus.NEEDS_ATTENTION
    assert approved.attention_reason.startswith(
        "No check of Instantly's lists could run"
    )
    assert attention_mails() == ["Needs attention: Q3"]
    assert transport.real_posts == 1


@pytest.mark.parametrize(
    ("status", "subject"),
    [
        (OrderStatus.PENDING_APPROVAL, "Approval needed: Q3"),
        (OrderStatus.NEEDS_REAPPROVAL, "Price changed, approve again: Q3"),
    ],
)
def test_an_undecided_approval_reminds_the_approvers_once_and_keeps_its_status(
    workspace,
    operator,
    lead,
    ws_admin,
    remote,
    status,
    subject,
    django_capture_on_commit_callbacks,
):
    order = submitted_order(workspace, operator)
    if status == OrderStatus.NEEDS_REAPPROVAL:
        Order.objects.filter(pk=order.pk).update(status=status)
        order.events.create(
            kind="requote_drift", from_status="approved", to_status=status
        )
    mail.outbox.clear()
    bound = timedelta(days=3)

    with time_machine.travel(timezone.now(), tick=False) as clock:
        clock.shift(bound - timedelta(minutes=1))
        with django_capture_on_commit_callbacks(execute=True):
            early = workflow.orders_flag_overdue()
        clock.shift(timedelta(minutes=2))
        with django_capture_on_commit_callbacks(execute=True):
            due = workflow.orders_flag_overdue()
        clock.shift(timedelta(days=4))
        with django_capture_on_commit_callbacks(execute=True):
            again = workflow.orders_flag_overdue()

    order.refresh_from_db()
    assert (early, due, again) == (0, 1, 0)
    assert order.status == status
    assert kinds(order)[-1] == "approval_reminder"
    assert sorted(m.to[0] for m in mail.outbox) == [
        "ada@example.test",
        "leo@example.test",
    ]
    assert {m.subject for m in mail.outbox} == {subject}


def test_the_order_page_lists_the_reconciliation_checks(
    approved, remote, workspace, lead, client, queue, django_capture_on_commit_callbacks
):
    transport = RateLimitedRealPost(in_process_transport(), record=False)
    placing = instantly_keys.instantly_client_for(
        workspace=workspace, transport=transport
    )
    with django_capture_on_commit_callbacks(execute=True):
        workflow.order_place(order=approved, client=placing)
    queue.drain(django_capture_on_commit_callbacks)  # one check: not found
    remote.sandbox.keys.update(revoked_at=timezone.now())
    with time_machine.travel(timezone.now() + timedelta(minutes=5), tick=False):
        tasks.reconcile_order_task(order_id=approved.pk)  # one check: refused (401)
    client.force_login(lead)

    html = client.get(
        reverse("orders:detail", args=[workspace.slug, approved.pk])
    ).content.decode()

    assert 'id="reconcile-attempts"' in html
    assert html.count('class="reconcile-not_found"') == 1
    assert html.count('class="reconcile-refused"') == 1
    assert "Instantly&#x27;s lists could not be read: 401" in html
    assert "next check after" in html


def test_a_partly_cancelled_order_still_waiting_for_mailboxes_can_be_stuck(
    workspace, operator, django_capture_on_commit_callbacks
):
    from orders import conf, fulfilment
    from orders.models import Mailbox, MailboxStatus, OrderItem

    order = Order.objects.create(
        workspace=workspace,
        requester=operator,
        status=OrderStatus.PARTIALLY_CANCELLED,
        placed_at=timezone.now(),
        last_progress_at=timezone.now(),
    )
    item = OrderItem.objects.create(order=order, domain="acme-mail.com")
    Mailbox.objects.create(
        item=item,
        email_prefix="jane",
        first_name="J",
        last_name="R",
        status=MailboxStatus.CANCELLED,
    )
    Mailbox.objects.create(
        item=item,
        email_prefix="john",
        first_name="J",
        last_name="R",
        status=MailboxStatus.PROVISIONING,
    )

    with (
        time_machine.travel(timezone.now() + conf.stuck_after() + timedelta(minutes=1)),
        django_capture_on_commit_callbacks(execute=True),
    ):
        flagged = fulfilment.orders_flag_stuck()
        again = fulfilment.orders_flag_stuck()

    order.refresh_from_db()
    assert (flagged, again) == (1, 0)
    assert order.stuck_at is not None
    assert [m.subject for m in mail.outbox] == [f"No progress: {order}"]
