"""The fulfilment poll resumes Instantly's two lists at the page of the oldest item it still
waits for, stops once it saw every awaited item, and falls back to the whole list once when
Instantly refuses its cursor. Calls are counted where they arrive: the sandbox's request log.
Pages hold 2 rows here (mirror.PAGE_SIZE), so a few rows make many pages."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from orders import fulfilment, instantly_keys, mirror, workflow
from orders.models import Mailbox, MailboxStatus, Order, OrderStatus
from orders.models.remote import PollCursor
from sandbox.models import DfyAccount, DomainOrder, RequestLog
from sandbox.switches import switches_set
from sandbox.timestamps import now_ms
from tests.integration.support import JANE, submitted_order

pytestmark = pytest.mark.django_db

ORDERS_LIST = "/dfy-email-account-orders"
ACCOUNTS_LIST = "/dfy-email-account-orders/accounts"


@pytest.fixture(autouse=True)
def small_pages(monkeypatch):
    monkeypatch.setattr(mirror, "PAGE_SIZE", 2)


@pytest.fixture
def place(workspace, operator, lead, remote, queue, django_capture_on_commit_callbacks):
    """Submit, approve and place an order through the real code path; returns it placed."""

    def placed(**kwargs):
        order = submitted_order(workspace, operator, **kwargs)
        with django_capture_on_commit_callbacks(execute=True):
            workflow.order_approve(order=order, by=lead)
        queue.drain(django_capture_on_commit_callbacks)
        order.refresh_from_db()
        assert order.status == OrderStatus.PLACED
        return order

    switches_set(workspace=remote.sandbox, provisioning_delay_seconds=120)
    return placed


def delivered(remote, *, domains: int, created: datetime, name: str = "old") -> None:
    """Domains with two ready mailboxes each, listed at the sandbox as ordered at `created`
    (straight into its tables: the lists only page through them)."""
    rows = DomainOrder.objects.bulk_create(
        DomainOrder(
            workspace=remote.sandbox,
            domain=f"{name}-{n}.com",
            email_provider=1,
            timestamp_created=created,
        )
        for n in range(domains)
    )
    DfyAccount.objects.bulk_create(
        DfyAccount(
            workspace=remote.sandbox,
            order=row,
            domain=row.domain,
            email=f"m{m}@{row.domain}",
            email_provider=1,
            first_name="Old",
            last_name="Box",
            password="delivered-secret",
            timestamp_created=created,
        )
        for row in rows
        for m in range(2)
    )


def calls(remote, path: str = "", status: int | None = None) -> int:
    """List requests the sandbox received (GETs only), on one list when `path` is given."""
    logs = RequestLog.objects.filter(workspace=remote.sandbox, method="GET")
    if path:
        logs = logs.filter(path__endswith=path)
    if status is not None:
        logs = logs.filter(status_code=status)
    return logs.count()


def poll(workspace):
    with instantly_keys.instantly_client_for(workspace=workspace) as client:
        return fulfilment.fulfilment_poll_workspace(workspace=workspace, client=client)


def statuses(order):
    return sorted(
        Mailbox.objects.filter(item__order=order).values_list("status", flat=True)
    )


def later(seconds: int = 121):
    return time_machine.travel(timezone.now() + timedelta(seconds=seconds), tick=False)


@pytest.fixture
def history(remote):
    """Four delivered domains (eight ready mailboxes) ordered a month ago: two pages of
    domains and four of mailboxes before anything the portal now follows."""
    delivered(remote, domains=4, created=now_ms() - timedelta(days=30))


def test_the_first_poll_reads_everything_and_the_next_only_what_is_in_flight(
    history, place, workspace, remote, django_capture_on_commit_callbacks
):
    order = place()

    first = poll(workspace)
    before = calls(remote)
    with later(), django_capture_on_commit_callbacks(execute=True):
        second = poll(workspace)

    order.refresh_from_db()
    # Domains: 4 old + 1 → 3 pages; mailboxes: 8 old + 2 → 5 pages.
    assert (first.api_calls, before) == (8, 8)
    # Each list resumes at the page of the order's rows: one page each.
    assert (second.api_calls, calls(remote) - before) == (2, 2)
    assert order.status == OrderStatus.READY
    assert statuses(order) == ["ready", "ready"]


def test_the_walk_stops_once_every_awaited_item_was_seen(
    place, workspace, remote, django_capture_on_commit_callbacks
):
    order = place()
    # Delivered since (orders placed outside the portal): listed after the order's rows.
    delivered(remote, domains=4, created=now_ms() + timedelta(seconds=1), name="new")

    first = poll(workspace)
    with later(), django_capture_on_commit_callbacks(execute=True):
        second = poll(workspace)

    order.refresh_from_db()
    # The order's domain and both mailboxes are on the first page of each list.
    assert (first.api_calls, second.api_calls) == (2, 2)
    assert calls(remote) == 4
    assert order.status == OrderStatus.READY


def test_a_refused_cursor_falls_back_to_the_whole_list_once_and_says_so(
    history, place, workspace, remote, caplog, django_capture_on_commit_callbacks
):
    order = place()
    poll(workspace)
    stale = f"{uuid.uuid4()}:2020-01-01T00:00:00.000Z"
    PollCursor.objects.filter(workspace=workspace).update(accounts_after=stale)
    before = calls(remote, ACCOUNTS_LIST)
    caplog.set_level(logging.WARNING, logger="orders.mirror")

    with later(), django_capture_on_commit_callbacks(execute=True):
        result = poll(workspace)

    order.refresh_from_db()
    # One refusal, then the five pages from the start: no second fallback, no loop.
    assert calls(remote, ACCOUNTS_LIST) - before == 6
    assert calls(remote, ACCOUNTS_LIST, status=400) == 1
    assert result.api_calls == 1 + 6
    assert "refused the accounts cursor" in caplog.text
    assert order.status == OrderStatus.READY
    # The cursor now is one Instantly issued: the next order is read from there.
    assert PollCursor.objects.get(workspace=workspace).accounts_after not in {"", stale}
    nxt = place(items=[("brand-b.com", 1, [JANE])], title="Next")
    before = calls(remote)
    poll(workspace)
    assert calls(remote) - before == 1 + 2  # [acme, brand-b]; [acme, acme], [brand-b]
    assert calls(remote, status=400) == 1
    assert statuses(nxt) == ["provisioning"]


def test_an_order_placed_later_is_read_after_the_cursor(
    history, place, workspace, remote, django_capture_on_commit_callbacks
):
    first = place()
    poll(workspace)
    with later(), django_capture_on_commit_callbacks(execute=True):
        poll(workspace)  # the first order is ready: nothing is in flight

    second = place(items=[("brand-b.com", 1, [JANE])], title="Next")
    before = calls(remote)
    result = poll(workspace)

    assert Order.objects.get(pk=first.pk).status == OrderStatus.READY
    assert statuses(second) == ["provisioning"]
    assert result.api_calls == calls(remote) - before <= 3


def test_mailboxes_listed_late_are_still_found(
    history, place, workspace, remote, django_capture_on_commit_callbacks
):
    order = place()
    # Instantly has the domain but lists its mailboxes only later.
    listed = list(DfyAccount.objects.filter(domain="acme-mail.com"))
    DfyAccount.objects.filter(domain="acme-mail.com").delete()

    missing = poll(workspace)
    waiting = statuses(order)
    late = now_ms() + timedelta(seconds=1)
    for account in listed:
        account.pk = uuid.uuid4()
        account.timestamp_created = late
    DfyAccount.objects.bulk_create(listed)
    before = calls(remote)
    found = poll(workspace)

    assert missing.api_calls == 3 + 4  # every page: the awaited mailboxes were not seen
    assert waiting == ["requested", "requested"]
    # Domains resume at their page; mailboxes at the last page read, before the new rows.
    assert found.api_calls == calls(remote) - before == 1 + 2
    assert statuses(order) == ["provisioning", "provisioning"]


def test_a_mailbox_still_provisioning_holds_the_cursor_even_if_nobody_awaits_it(
    place, workspace, remote, django_capture_on_commit_callbacks
):
    """An order placed while a poll runs is listed before the portal follows it: its
    mailboxes, still provisioning at Instantly, keep the cursor before them."""
    switches_set(workspace=remote.sandbox, provisioning_delay_seconds=0)
    first = place(items=[("acme-mail.com", 1, [JANE])])
    racing = place(items=[("brand-b.com", 1, [JANE])], title="Racing")
    DfyAccount.objects.filter(domain="brand-b.com").update(password="")
    delivered(remote, domains=2, created=now_ms() + timedelta(seconds=1), name="new")
    # Its placement has not committed yet when the poll runs.
    Order.objects.filter(pk=racing.pk).update(status=OrderStatus.SUBMITTING)

    with django_capture_on_commit_callbacks(execute=True):
        poll(workspace)  # mailboxes: [acme, brand-b] then stops
    Order.objects.filter(pk=racing.pk).update(status=OrderStatus.PLACED)
    poll(workspace)
    provisioning = statuses(racing)
    DfyAccount.objects.filter(domain="brand-b.com").update(password="now-ready-secret")
    with django_capture_on_commit_callbacks(execute=True):
        poll(workspace)

    assert Order.objects.get(pk=first.pk).status == OrderStatus.READY
    assert provisioning == ["provisioning"]
    # Read again because it was still provisioning, though no order awaited it then.
    assert statuses(racing) == ["ready"]


def test_the_explicit_refresh_still_reads_everything_and_leaves_the_cursors(
    history, place, workspace, remote
):
    place()
    poll(workspace)
    cursors = PollCursor.objects.values_list("orders_after", "accounts_after").get()
    before = calls(remote)

    with instantly_keys.instantly_client_for(workspace=workspace) as client:
        result = mirror.remote_mirror_refresh(workspace=workspace, client=client)

    assert result.requests == calls(remote) - before == 3 + 5
    assert (result.domains, result.accounts) == (5, 10)
    assert (
        PollCursor.objects.values_list("orders_after", "accounts_after").get()
        == cursors
    )


def test_cursors_issued_to_another_key_are_not_used(history, place, workspace, remote):
    place()
    poll(workspace)
    PollCursor.objects.filter(workspace=workspace).update(issued_to="k-another-key")
    before = calls(remote)

    result = poll(workspace)

    assert result.api_calls == calls(remote) - before == 3 + 5
    assert calls(remote, status=400) == 0
    assert MailboxStatus.PROVISIONING in statuses(Order.objects.get())


def test_an_older_mailbox_of_the_same_address_does_not_end_the_walk(
    history, place, workspace, remote
):
    """Addresses are reused after a cancellation: only a row listed since the order's
    attempt counts as the awaited one."""
    old = DomainOrder.objects.filter(workspace=remote.sandbox).first()
    month_ago = now_ms() - timedelta(days=30)
    DfyAccount.objects.bulk_create(
        DfyAccount(
            workspace=remote.sandbox,
            order=old,
            domain="acme-mail.com",
            email=f"{prefix}@acme-mail.com",
            email_provider=1,
            first_name="Gone",
            last_name="Box",
            timestamp_created=month_ago,
            timestamp_cancelled=month_ago + timedelta(days=1),
        )
        for prefix in ("jane", "john")
    )
    order = place()

    result = poll(workspace)

    assert result.api_calls == 3 + 6  # past the old rows, to the order's own
    assert statuses(order) == ["provisioning", "provisioning"]
