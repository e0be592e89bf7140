"""Following placed orders until every mailbox is ready (the fulfilment poll), and flagging
orders that stopped moving.

One poll of a workspace pages through Instantly's two list endpoints into the remote mirror,
from the page of the oldest item it still waits for to the newest (API calls grow with the
pages of what is in flight, not with orders or the workspace's history: see
`mirror.remote_mirror_follow`), then maps mirror rows onto the portal's mailboxes in the
database: `requested → provisioning` when Instantly lists the mailbox,
`→ ready` when its password is non-empty (the only readiness signal; the password itself is
never stored or logged). Orders follow: `placed → provisioning → ready`.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from django.core.cache import cache
from django.db import connection, models, transaction
from django.db.models import Count, Exists, OuterRef, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from orders import conf, instantly, instantly_keys, lifecycle, mirror
from orders.lifecycle import BOUGHT_STATUSES, EventKind, Notice
from orders.models import (
    FULFILMENT_STATUSES,
    Mailbox,
    MailboxStatus,
    MailboxTally,
    Order,
    OrderItem,
    OrderStatus,
    PlacedShare,
    RemoteAccount,
    Workspace,
)

logger = logging.getLogger(__name__)

# Orders / domains per query and rows per bulk write: bounded memory and SQL parameters.
BATCH_SIZE = 500
UNREADY = (MailboxStatus.REQUESTED, MailboxStatus.PROVISIONING)


@dataclass(frozen=True)
class PollResult:
    orders: int
    mailboxes_changed: int
    orders_changed: int
    api_calls: int
    skipped: bool = False


def _followed(workspace: Workspace | None = None) -> Q:
    """Orders the poll follows: placed or provisioning, and partially cancelled ones whose
    remaining mailboxes are not ready yet."""
    unready = Mailbox.objects.filter(item__order=OuterRef("pk"), status__in=UNREADY)
    query = Q(status__in=FULFILMENT_STATUSES) | Q(
        Exists(unready), status=OrderStatus.PARTIALLY_CANCELLED
    )
    if workspace is not None:
        query &= Q(workspace=workspace)
    return query


def workspaces_to_poll() -> list[int]:
    return list(
        Order.objects.filter(_followed())
        .values_list("workspace_id", flat=True)
        .distinct()
        .order_by("workspace_id")
    )


def fulfilment_poll_workspace(
    *, workspace: Workspace, client: instantly.InstantlyClient | None = None
) -> PollResult:
    """One poll cycle: read what the followed orders wait for into the remote mirror (the
    pages of both lists from the oldest awaited item on), then move the followed orders'
    mailboxes and the orders themselves. Reads only; idempotent.

    Raises transient errors for the caller to retry. A second poll of the same workspace
    while one runs is skipped (a cache lock; per process without a shared cache).
    """
    order_ids = list(
        Order.objects.filter(_followed(workspace)).values_list("pk", flat=True)
    )
    if not order_ids:
        return PollResult(orders=0, mailboxes_changed=0, orders_changed=0, api_calls=0)
    lock = f"dfy:poll:{workspace.pk}"
    if not cache.add(lock, "1", timeout=600):
        logger.info("poll: workspace %s is already being polled", workspace.slug)
        return PollResult(
            orders=len(order_ids),
            mailboxes_changed=0,
            orders_changed=0,
            api_calls=0,
            skipped=True,
        )
    try:
        watch = _watch(order_ids)
        if client is None:
            with instantly_keys.instantly_client_for(workspace=workspace) as built:
                refreshed = mirror.remote_mirror_follow(
                    workspace=workspace, client=built, watch=watch
                )
        else:
            refreshed = mirror.remote_mirror_follow(
                workspace=workspace, client=client, watch=watch
            )
        changed_mailboxes, changed_orders = fulfilment_apply(
            workspace=workspace, order_ids=order_ids
        )
    finally:
        cache.delete(lock)
    logger.info(
        "poll: workspace %s, %s orders, %s mailboxes changed, %s orders moved, %s API calls",
        workspace.slug,
        len(order_ids),
        changed_mailboxes,
        changed_orders,
        refreshed.requests,
    )
    return PollResult(
        orders=len(order_ids),
        mailboxes_changed=changed_mailboxes,
        orders_changed=changed_orders,
        api_calls=refreshed.requests,
    )


def _watch(order_ids: Sequence[int]) -> mirror.Watch:
    """What the poll waits to see listed: the address of every unready mailbox and the domain
    it is on, each from its order's attempt on; an item without mailboxes (pre-warmed, learnt
    from Instantly) makes the mailbox list be read to its end."""
    domains: dict[str, datetime | None] = {}
    emails: dict[str, datetime | None] = {}
    whole_accounts = False
    for chunk in _chunks(list(order_ids)):
        since = {
            o.pk: _since(o)
            for o in Order.objects.filter(pk__in=chunk).only(
                "pk", "attempt_started_at", "placed_at"
            )
        }
        unready = Mailbox.objects.filter(
            item__order_id__in=chunk, status__in=UNREADY
        ).values_list("item__order_id", "item__domain", "email_prefix")
        for order_id, domain, prefix in unready.iterator(chunk_size=BATCH_SIZE * 4):
            name = domain.lower()
            _watch_add(domains, name, since[order_id])
            _watch_add(emails, f"{prefix}@{name}".lower(), since[order_id])
        bare = OrderItem.objects.filter(
            order_id__in=chunk, mailboxes__isnull=True
        ).values_list("order_id", "domain")
        for order_id, domain in bare:
            _watch_add(domains, domain.lower(), since[order_id])
            whole_accounts = True
    return mirror.Watch(domains=domains, emails=emails, whole_accounts=whole_accounts)


def _watch_add(
    watched: dict[str, datetime | None], name: str, since: datetime | None
) -> None:
    """Two orders awaiting one name (an address reused after a cancellation) wait for the
    newer one's row."""
    if name in watched:
        current = watched[name]
        if since is None or (current is not None and current >= since):
            return
    watched[name] = since


def _chunks(values: Sequence[int], size: int = BATCH_SIZE) -> Iterable[Sequence[int]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def fulfilment_apply(
    *, workspace: Workspace, order_ids: Sequence[int]
) -> tuple[int, int]:
    """Map the mirror onto the orders' mailboxes, then move the orders. Database only.
    Returns (mailboxes changed, orders changed)."""
    now = timezone.now()
    mailboxes_changed = 0
    orders_changed = 0
    for chunk in _chunks(list(order_ids)):
        with transaction.atomic():
            # The orders first, then their mailboxes and the dashboard's tallies of them,
            # then the orders' moves: the order in which cancellations take their locks too,
            # so the tallies' deltas are computed from the statuses as they are
            # (orders/models/tallies.py). An order cancelled since it was listed is left.
            locked = lifecycle.orders_lock_many(
                Order.objects.select_for_update()
                .filter(pk__in=chunk, status__in=BOUGHT_STATUSES)
                .only("status")
            )
            touched, moved = _mailboxes_apply(workspace, [o.pk for o in locked], now)
            MailboxTally.objects.mailboxes_moved(workspace_id=workspace.pk, moves=moved)
            mailboxes_changed += sum(touched.values())
            orders_changed += _orders_apply(locked, touched, now)
    return mailboxes_changed, orders_changed


def _remote_by_email(
    workspace: Workspace, domains: set[str]
) -> dict[str, RemoteAccount]:
    """Mirror rows on these domains by address; a live account wins over a cancelled one, then
    the newest (an address can be reused after a cancellation)."""
    best: dict[str, RemoteAccount] = {}
    names = sorted(domains)
    for start in range(0, len(names), BATCH_SIZE):
        rows = RemoteAccount.objects.filter(
            workspace=workspace, domain__in=names[start : start + BATCH_SIZE]
        ).only(
            "remote_id",
            "email",
            "domain",
            "first_name",
            "last_name",
            "is_ready",
            "created_remote_at",
            "cancelled_remote_at",
        )
        for row in rows:
            current = best.get(row.email)
            if current is None or _better(row, current):
                best[row.email] = row
    return best


def _better(row: RemoteAccount, current: RemoteAccount) -> bool:
    if (row.cancelled_remote_at is None) != (current.cancelled_remote_at is None):
        return row.cancelled_remote_at is None
    oldest = datetime.min.replace(tzinfo=UTC)
    return (row.created_remote_at or oldest) > (current.created_remote_at or oldest)


def _since(order: Order) -> datetime | None:
    """Only accounts created since the order's attempt belong to it (with clock tolerance)."""
    started = order.attempt_started_at or order.placed_at
    if started is None:
        return None
    return started - conf.reconcile_clock_skew()


def _mailboxes_apply(
    workspace: Workspace, order_ids: Sequence[int], now: datetime
) -> tuple[dict[int, int], list[tuple[int, str | None, str]]]:
    """Move unready mailboxes of these (locked) orders; returns {order id: mailboxes
    changed} and each move as (provider, status before or None when new, status after)."""
    orders = {
        o.pk: o
        for o in Order.objects.filter(pk__in=order_ids).only(
            "pk", "order_type", "attempt_started_at", "placed_at"
        )
    }
    items = list(
        OrderItem.objects.filter(order_id__in=order_ids).annotate(
            mailbox_count=Count("mailboxes")
        )
    )
    remote = _remote_by_email(workspace, {i.domain.lower() for i in items})
    by_domain: dict[str, list[RemoteAccount]] = defaultdict(list)
    for account in remote.values():
        by_domain[account.domain].append(account)

    touched: dict[int, int] = defaultdict(int)
    # Pre-warmed domains come with their mailboxes: the portal learns them from Instantly.
    created: list[Mailbox] = []
    for item in items:
        if item.mailbox_count:
            continue
        since = _since(orders[item.order_id])
        accounts = sorted(
            (
                a
                for a in by_domain.get(item.domain.lower(), [])
                if since is None
                or (a.created_remote_at and a.created_remote_at >= since)
            ),
            key=lambda a: a.email,
        )
        for position, account in enumerate(accounts):
            created.append(
                Mailbox(
                    item=item,
                    email_prefix=account.email.split("@", 1)[0],
                    first_name=account.first_name,
                    last_name=account.last_name,
                    position=position,
                )
            )
        touched[item.order_id] += len(accounts)
    Mailbox.objects.bulk_create(created, batch_size=BATCH_SIZE)
    moved: list[tuple[int, str | None, str]] = [
        (m.item.provider, None, m.status) for m in created
    ]

    changed: list[Mailbox] = []
    for mailbox in Mailbox.objects.filter(
        item__order_id__in=order_ids, status__in=UNREADY
    ).select_related("item"):
        order = orders[mailbox.item.order_id]
        found = remote.get(mailbox.email.lower())
        since = _since(order)
        if found is None or (
            since is not None
            and found.created_remote_at is not None
            and found.created_remote_at < since
        ):
            continue
        before = mailbox.status
        if _mailbox_move(mailbox, found, now):
            changed.append(mailbox)
            touched[order.pk] += 1
            moved.append((mailbox.item.provider, before, mailbox.status))
    _mailboxes_write(changed)
    return touched, moved


MAILBOX_COLUMNS = ("status", "remote_id", "provisioning_at", "ready_at", "cancelled_at")


def _mailboxes_write(changed: Sequence[Mailbox]) -> None:
    """One parameterised UPDATE run for many rows (executemany). Django's bulk_update builds a
    CASE expression per row and field, which costs seconds for 20,000 mailboxes."""
    if not changed:
        return
    fields = [
        cast("models.Field[Any, Any]", Mailbox._meta.get_field(name))
        for name in MAILBOX_COLUMNS
    ]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(f.column)} = %s" for f in fields)
    sql = (
        f"UPDATE {quote(Mailbox._meta.db_table)} SET {assignments} "  # noqa: S608 - names from the model
        f"WHERE {quote(Mailbox._meta.pk.column)} = %s"
    )
    rows = [
        [f.get_db_prep_save(getattr(m, f.attname), connection) for f in fields] + [m.pk]
        for m in changed
    ]
    with connection.cursor() as cursor:
        for start in range(0, len(rows), BATCH_SIZE * 4):
            cursor.executemany(sql, rows[start : start + BATCH_SIZE * 4])


def _mailbox_move(mailbox: Mailbox, account: RemoteAccount, now: datetime) -> bool:
    before = (mailbox.status, mailbox.remote_id)
    mailbox.remote_id = account.remote_id
    if account.cancelled_remote_at is not None:
        mailbox.status = MailboxStatus.CANCELLED
        mailbox.cancelled_at = account.cancelled_remote_at
    elif account.is_ready:
        mailbox.status = MailboxStatus.READY
        mailbox.provisioning_at = mailbox.provisioning_at or now
        mailbox.ready_at = now
    else:
        mailbox.status = MailboxStatus.PROVISIONING
        mailbox.provisioning_at = mailbox.provisioning_at or now
    return (mailbox.status, mailbox.remote_id) != before


def _orders_apply(
    locked: Sequence[Order], touched: dict[int, int], now: datetime
) -> int:
    """Move orders from their mailbox counts (one aggregate query); record each move. Orders
    are written in groups (one UPDATE per kind of move), never one by one."""
    order_ids = [order.pk for order in locked]
    counts = {
        row["item__order"]: row
        for row in Mailbox.objects.filter(item__order_id__in=order_ids)
        .values("item__order")
        .annotate(
            total=Count("pk"),
            ready=Count("pk", filter=Q(status=MailboxStatus.READY)),
            cancelled=Count("pk", filter=Q(status=MailboxStatus.CANCELLED)),
            started=Count(
                "pk",
                filter=Q(status__in=[MailboxStatus.PROVISIONING, MailboxStatus.READY]),
            ),
        )
    }
    moves: list[tuple[Order, OrderStatus, dict[str, Any]]] = []
    progressed: list[int] = []
    for order in locked:
        if touched.get(order.pk, 0) > 0:
            progressed.append(order.pk)
        row = counts.get(order.pk)
        target = _order_target(order, row)
        if row is None or target is None or target == order.status:
            continue
        detail = {
            "mailboxes": row["total"],
            "ready": row["ready"],
            "cancelled": row["cancelled"],
        }
        moves.append((order, target, detail))
    for part in _chunks(progressed):
        Order.objects.filter(pk__in=part).update(
            last_progress_at=now, stuck_at=None, updated_at=now
        )
    started = Coalesce("provisioning_at", Value(now))
    changed = lifecycle.orders_transition_grouped(
        moves,
        changes_for={
            OrderStatus.PROVISIONING: {"updated_at": now, "provisioning_at": started},
            OrderStatus.PARTIALLY_CANCELLED: {
                "updated_at": now,
                "provisioning_at": started,
            },
            OrderStatus.READY: {
                "updated_at": now,
                "provisioning_at": started,
                "ready_at": now,
                "finished_at": now,
            },
            OrderStatus.CANCELLED: {"updated_at": now, "finished_at": now},
        },
        notify={OrderStatus.READY: Notice.READY},
        chunk=BATCH_SIZE,
    )
    ready = [order.pk for order, to, _ in moves if to == OrderStatus.READY]
    PlacedShare.objects.ready(ready, ready_at=now)
    return changed


def _order_target(order: Order, row: dict[str, int] | None) -> OrderStatus | None:
    if order.status not in FULFILMENT_STATUSES or row is None or not row["total"]:
        return None
    live = row["total"] - row["cancelled"]
    if live == 0:
        return OrderStatus.CANCELLED
    if row["ready"] == live:
        return (
            OrderStatus.READY
            if not row["cancelled"]
            else OrderStatus.PARTIALLY_CANCELLED
        )
    if row["started"]:
        return OrderStatus.PROVISIONING
    return None


def orders_flag_stuck(*, now: datetime | None = None) -> int:
    """Flag (once) orders being fulfilled with no progress for `conf.stuck_after()`; tell the
    requester. Progress clears the flag (see the poll). This is the bound of placed,
    provisioning and partly cancelled orders still waiting for mailboxes; the other statuses'
    bounds live in orders/workflow/bounds.py (docs/lifecycle-bounds.md)."""
    now = now or timezone.now()
    limit = now - conf.stuck_after()
    flagged = 0
    candidates = (
        Order.objects.filter(_followed())
        .filter(stuck_at__isnull=True)
        .annotate(progress=Coalesce("last_progress_at", "placed_at", "updated_at"))
        .filter(progress__lt=limit)
        .values_list("pk", flat=True)[:BATCH_SIZE]
    )
    for pk in list(candidates):
        flagged += _flag_stuck(pk, now)
    return flagged


@transaction.atomic
def _flag_stuck(pk: int, now: datetime) -> int:
    order = (
        Order.objects.select_for_update().filter(pk=pk, stuck_at__isnull=True).first()
    )
    if order is None or not Order.objects.filter(_followed(), pk=pk).exists():
        return 0
    since = order.last_progress_at or order.placed_at
    lifecycle.order_event_record(
        order=order,
        by=None,
        kind=EventKind.STUCK,
        from_status=order.status,
        to_status=order.status,
        no_progress_since=since.isoformat() if since else None,
        hours=round(conf.stuck_after().total_seconds() / 3600, 1),
    )
    order.stuck_at = now
    order.save(update_fields=["stuck_at", "updated_at"])
    lifecycle.order_notify(order_id=order.pk, notice=Notice.STUCK)
    return 1
