"""The dashboard's tallies (orders/models/tallies.py) follow every move of an order and of its
mailboxes, through the real code paths against the in-process sandbox: after each one they
equal a recount from scratch (`rebuild`), and the mailbox counts equal a scan of every mailbox
of the bought orders, which is what the dashboard read before it had tallies. The generated
history is checked figure by figure against the dashboard's definitions. SQLite by default,
PostgreSQL when DATABASE_URL names one."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.db import transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from orders import (
    cancellation_runs,
    fulfilment,
    instantly_keys,
    lifecycle,
    spend,
    workflow,
)
from orders.history_generator import orders_generate, workspace_team
from orders.lifecycle import (
    ATTENTION_STATUSES,
    BOUGHT_STATUSES,
    BUDGET_STATUSES,
    IN_FLIGHT_STATUSES,
    EventKind,
)
from orders.models import (
    BoughtTally,
    Mailbox,
    MailboxStatus,
    MailboxTally,
    Order,
    OrderStatus,
    PlacedShare,
    SpendTally,
    Workspace,
)
from orders.models.tallies import placement_month, split_cents
from sandbox.models import PreWarmedDomain
from sandbox.services import accounts_cancel
from sandbox.switches import switches_set
from sandbox.testing import in_process_transport
from tests.integration.support import JANE, JOHN, TimeoutAfterSend, submitted_order

pytestmark = pytest.mark.django_db

GOOGLE, AIRMAIL = 1, 2
READY, WAITING = "ready", "waiting"
MIXED = [("acme-mail.com", GOOGLE, [JANE, JOHN]), ("tryacme.org", AIRMAIL, [JANE])]


Mailboxes = dict[tuple[int, str], int]


def running(
    workspace: Workspace,
) -> tuple[Mailboxes, tuple[int, Decimal], set[Any], dict[Any, Decimal]]:
    mailboxes = {
        (provider, state): n
        for provider, state, n in MailboxTally.objects.filter(
            workspace=workspace
        ).values_list("provider", "state", "mailboxes")
        if n
    }
    tally = BoughtTally.objects.filter(workspace=workspace).first()
    bought = (tally.orders, tally.monthly) if tally else (0, Decimal(0))
    shares = set(
        PlacedShare.objects.filter(workspace=workspace).values_list(
            "order_id", "provider", "placed_at", "share", "took"
        )
    )
    spend = {
        (month, provider): Decimal(spent).quantize(Decimal("0.01"))
        for month, provider, spent in SpendTally.objects.filter(
            workspace=workspace
        ).values_list("month", "provider", "spent")
        if spent
    }
    # The spend tally is the shares summed by month and provider.
    summed: dict[tuple[Any, int], Decimal] = defaultdict(Decimal)
    for _order, provider, placed_at, share, _took in shares:
        if share:
            summed[placement_month(placed_at), provider] += share
    assert spend == {key: total for key, total in summed.items() if total}
    return mailboxes, bought, shares, spend


def scanned(workspace: Workspace) -> tuple[Mailboxes, tuple[int, Decimal]]:
    """Every mailbox and every order of the bought orders counted, as the dashboard did per
    view before it had tallies."""
    bought = Order.objects.filter(
        workspace=workspace, status__in=BOUGHT_STATUSES
    ).aggregate(n=Count("pk"), monthly=Sum("approved_quote__per_month"))
    counts: Counter[tuple[int, str]] = Counter()
    rows = (
        Mailbox.objects.filter(
            item__order__workspace=workspace, item__order__status__in=BOUGHT_STATUSES
        )
        .exclude(status=MailboxStatus.CANCELLED)
        .values_list("item__provider", "status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for provider, status, n in rows:
        counts[provider, READY if status == MailboxStatus.READY else WAITING] += n
    return dict(counts), (bought["n"], bought["monthly"] or Decimal(0))


def recounted(workspace: Workspace) -> Mailboxes:
    """The running mailbox tallies, after checking every tally against the scan and the
    rebuild."""
    tallies = running(workspace)
    assert tallies[:2] == scanned(workspace)
    MailboxTally.objects.rebuild(workspace_id=workspace.pk)
    assert running(workspace) == tallies
    return tallies[0]


def poll(workspace: Workspace) -> fulfilment.PollResult:
    with instantly_keys.instantly_client_for(workspace=workspace) as client:
        return fulfilment.fulfilment_poll_workspace(workspace=workspace, client=client)


def shares_of(order: Order) -> dict[int, tuple[Decimal | None, timedelta | None]]:
    return {
        s.provider: (s.share, s.took) for s in PlacedShare.objects.filter(order=order)
    }


def spent(order: Order) -> Decimal:
    return sum((s for s, _ in shares_of(order).values() if s is not None), Decimal(0))


@pytest.fixture
def place(workspace, operator, lead, remote, queue, django_capture_on_commit_callbacks):
    """Submit, approve and place an order through the real code path; returns it placed.
    Mailboxes are provisioned two minutes after the order."""

    def placed(**kwargs: Any) -> Order:
        order = submitted_order(workspace, operator, **kwargs)
        with django_capture_on_commit_callbacks(execute=True):
            workflow.order_approve(order=order, by=lead)
        queue.drain(django_capture_on_commit_callbacks)
        order.refresh_from_db()
        assert order.status == OrderStatus.PLACED
        return order

    switches_set(workspace=remote.sandbox, provisioning_delay_seconds=120)
    return placed


def test_placement_counts_the_mailboxes_and_the_spend_per_provider(place, workspace):
    order = place(items=MIXED)

    assert recounted(workspace) == {(GOOGLE, WAITING): 2, (AIRMAIL, WAITING): 1}
    due_now = order.approved_quote.due_now
    assert shares_of(order) == {
        p: (share, None) for p, share in split_cents(due_now, {1: 1, 2: 1}).items()
    }
    assert spent(order) == due_now


def test_orders_not_yet_bought_count_for_nothing(
    workspace, operator, lead, remote, queue, django_capture_on_commit_callbacks
):
    order = submitted_order(workspace, operator, items=MIXED)
    with django_capture_on_commit_callbacks(execute=True):
        workflow.order_approve(order=order, by=lead)

    assert recounted(workspace) == {}
    assert not PlacedShare.objects.exists()


def test_the_poll_moves_the_mailboxes_to_provisioning_then_ready(
    place, workspace, django_capture_on_commit_callbacks
):
    order = place(items=MIXED)

    poll(workspace)
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PROVISIONING
    assert recounted(workspace) == {(GOOGLE, WAITING): 2, (AIRMAIL, WAITING): 1}
    with (
        time_machine.travel(timezone.now() + timedelta(seconds=121), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        poll(workspace)

    order.refresh_from_db()
    assert order.status == OrderStatus.READY
    assert recounted(workspace) == {(GOOGLE, READY): 2, (AIRMAIL, READY): 1}
    took = order.ready_at - order.placed_at
    assert {took} == {t for _, t in shares_of(order).values()}


def test_a_partial_then_a_full_cancellation(cancellable, lead, workspace):
    assert recounted(workspace) == {(GOOGLE, WAITING): 3}

    cancellation_runs.order_cancel_mailboxes(
        order=cancellable,
        by=lead,
        domains=["tryacme.org"],
        confirmation="cancel 1 mailbox",
    )
    cancellable.refresh_from_db()
    assert cancellable.status == OrderStatus.PARTIALLY_CANCELLED
    assert recounted(workspace) == {(GOOGLE, WAITING): 2}

    cancellation_runs.order_cancel_mailboxes(
        order=cancellable,
        by=lead,
        domains=["acme-mail.com"],
        confirmation="cancel 2 mailboxes",
    )
    cancellable.refresh_from_db()
    assert cancellable.status == OrderStatus.CANCELLED
    assert recounted(workspace) == {}
    # What a cancelled order cost stays spent.
    assert spent(cancellable) == cancellable.approved_quote.due_now


def test_a_queued_cancellation_run_counts_like_a_direct_one(
    cancellable, lead, workspace, monkeypatch, django_capture_on_commit_callbacks
):
    from orders import tasks
    from tests.task_capture import recorded

    sent = recorded(monkeypatch, "orders.cancel_mailboxes")
    with django_capture_on_commit_callbacks(execute=True):
        cancellation_runs.cancellation_request(
            order=cancellable,
            by=lead,
            domains=["acme-mail.com"],
            confirmation="cancel 2 mailboxes",
        )
    tasks.cancel_mailboxes_task(**sent.pop(0))

    assert Order.objects.get(pk=cancellable.pk).status == (
        OrderStatus.PARTIALLY_CANCELLED
    )
    assert recounted(workspace) == {(GOOGLE, WAITING): 1}


def test_a_cancellation_counts_the_statuses_the_poll_left_during_its_call(
    cancellable,
    lead,
    workspace,
    remote,
    monkeypatch,
    django_capture_on_commit_callbacks,
):
    """The poll makes the mailboxes ready while the cancel call is out: the cancelled one
    leaves the ready count, not the waiting one its preview saw."""
    switches_set(workspace=remote.sandbox, provisioning_delay_seconds=0)
    with instantly_keys.instantly_client_for(workspace=workspace) as client:
        send = client.cancel_accounts

        def poll_first(emails: list[str]) -> Any:
            with django_capture_on_commit_callbacks(execute=True):
                poll(workspace)
            return send(emails)

        monkeypatch.setattr(client, "cancel_accounts", poll_first)
        cancellation_runs.order_cancel_mailboxes(
            order=cancellable,
            by=lead,
            domains=["tryacme.org"],
            confirmation="cancel 1 mailbox",
            client=client,
        )

    cancellable.refresh_from_db()
    assert cancellable.status == OrderStatus.PARTIALLY_CANCELLED
    assert recounted(workspace) == {(GOOGLE, READY): 2}


def test_a_cancellation_made_at_instantly_reaches_the_tallies_through_the_poll(
    place, workspace, remote
):
    order = place()
    accounts_cancel(
        workspace=remote.sandbox, emails=["jane@acme-mail.com", "john@acme-mail.com"]
    )

    poll(workspace)

    assert Order.objects.get(pk=order.pk).status == OrderStatus.CANCELLED
    assert recounted(workspace) == {}


def test_an_order_leaving_the_bought_statuses_takes_its_live_mailboxes(
    place, workspace
):
    """No code path cancels an order with live mailboxes today, but the table allows it: the
    lifecycle takes them out of the tallies whatever moved the order."""
    order = place(items=MIXED)

    with transaction.atomic():
        lifecycle.order_transition(
            order, OrderStatus.CANCELLED, kind=EventKind.CANCELLED
        )

    assert recounted(workspace) == {}


def test_mailboxes_learnt_from_instantly_count_as_they_arrive(place, workspace):
    PreWarmedDomain.objects.create(
        domain="warm-acme.com", account_type=1, mailbox_count=3
    )
    place(items=[("warm-acme.com", GOOGLE, [])], order_type="pre_warmed_up")
    assert recounted(workspace) == {}

    poll(workspace)

    assert recounted(workspace) == {(GOOGLE, WAITING): 3}


def test_an_unknown_outcome_counts_once_reconciled_to_placed(
    workspace, operator, lead, remote, queue, django_capture_on_commit_callbacks
):
    order = submitted_order(workspace, operator, items=MIXED)
    with django_capture_on_commit_callbacks(execute=True):
        workflow.order_approve(order=order, by=lead)
    queue.sent.clear()
    client = instantly_keys.instantly_client_for(
        workspace=workspace, transport=TimeoutAfterSend(in_process_transport())
    )
    with django_capture_on_commit_callbacks(execute=True):
        workflow.order_place(order=order, client=client)
    assert Order.objects.get(pk=order.pk).status == OrderStatus.UNKNOWN
    assert recounted(workspace) == {}

    queue.drain(django_capture_on_commit_callbacks)

    order.refresh_from_db()
    assert order.status == OrderStatus.PLACED
    assert "reconciled_placed" in order.events.values_list("kind", flat=True)
    assert recounted(workspace) == {(GOOGLE, WAITING): 2, (AIRMAIL, WAITING): 1}
    assert len(shares_of(order)) == 2


def test_a_placement_recorded_again_keeps_one_share_per_provider(place, workspace):
    order = place(items=MIXED)
    before = shares_of(order)

    # What the fault matrix does to test reconciliation: the status is set back by hand, then
    # the placement is learnt again. The shares are replaced, never doubled (nor refused).
    with transaction.atomic():
        MailboxTally.objects.orders_moved([order.pk], bought=True)

    assert shares_of(order) == before
    assert PlacedShare.objects.filter(order=order).count() == 2


def from_scratch(
    workspace: Workspace, now: datetime
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The dashboard's spend, speeds and mailboxes by their definitions (spend.py's
    docstring), read order by order."""
    months = spend.month_starts(now)
    since = datetime.combine(
        months[0], datetime.min.time(), tzinfo=timezone.get_current_timezone()
    )
    by_month: dict[date, defaultdict[int, Decimal]] = {
        m: defaultdict(Decimal) for m in months
    }
    durations: dict[int, list[timedelta]] = defaultdict(list)
    placed = (
        Order.objects.filter(workspace=workspace, placed_at__gte=since)
        .select_related("approved_quote")
        .prefetch_related("items")
    )
    for order in placed:
        domains = Counter(item.provider for item in order.items.all())
        month = timezone.localtime(order.placed_at).date().replace(day=1)
        if order.approved_quote and domains:
            for provider, share in split_cents(
                order.approved_quote.due_now, domains
            ).items():
                by_month[month][provider] += share
        if order.ready_at and domains:
            for provider in domains:
                durations[provider].append(order.ready_at - order.placed_at)
    mailboxes, _ = scanned(workspace)
    return (
        [(m, {p: by_month[m][p] for p in (1, 2, 3)}) for m in months],
        [
            (p, len(durations[p]), spend.median_duration(durations[p]))
            for p in (1, 2, 3)
            if durations[p]
        ],
        [
            (p, mailboxes.get((p, READY), 0), mailboxes.get((p, WAITING), 0))
            for p in (1, 2, 3)
        ],
    )


def test_the_generated_history_shows_the_figures_of_its_definitions(workspace):
    requesters, approvers = workspace_team(workspace)
    now = timezone.now()
    result = orders_generate(
        workspace=workspace,
        requesters=requesters,
        approvers=approvers,
        orders=120,
        mailboxes=900,
        seed=5,
        every_status=True,
        now=now,
    )
    assert result.orders == 120

    tallies = recounted(workspace)
    figures = spend.workspace_dashboard(workspace=workspace, now=now)

    old_totals = Order.objects.filter(workspace=workspace).aggregate(
        pending=Count("pk", filter=Q(status=OrderStatus.PENDING_APPROVAL)),
        in_flight=Count("pk", filter=Q(status__in=IN_FLIGHT_STATUSES)),
        attention=Count("pk", filter=Q(status__in=ATTENTION_STATUSES)),
        stuck=Count("pk", filter=spend.stuck_q(now)),
        active_orders=Count("pk", filter=Q(status__in=BOUGHT_STATUSES)),
        active_monthly=Sum(
            "approved_quote__per_month", filter=Q(status__in=BOUGHT_STATUSES)
        ),
        committed_monthly=Sum(
            "approved_quote__per_month", filter=Q(status__in=BUDGET_STATUSES)
        ),
    )
    assert {
        "pending": figures.pending_count,
        "in_flight": figures.in_flight_count,
        "attention": figures.attention_count,
        "stuck": figures.stuck_count,
        "active_orders": figures.active_orders,
        "active_monthly": figures.active_monthly,
        "committed_monthly": figures.committed_monthly,
    } == old_totals
    months, speeds, mailboxes = from_scratch(workspace, now)
    assert [(m.month, m.by_provider) for m in figures.months] == months
    assert [(s.provider, s.orders, s.median) for s in figures.speeds] == speeds
    assert [(m.provider, m.ready, m.provisioning) for m in figures.mailboxes] == (
        mailboxes
    )
    # Every state and provider of a varied history is there, and some of it was cancelled.
    assert {state for _, state in tallies} == {READY, WAITING}
    assert len(speeds) == 3
    assert Mailbox.objects.filter(status=MailboxStatus.CANCELLED).exists()
