"""Mailbox health after delivery: what Instantly's accounts list says about each delivered
mailbox, folded into what a person acts on, per mailbox and per order (docs/health.md).

One poll of a workspace reads the pages of `GET /api/v2/accounts?filter=ACC_FILTER_DFY`
(the workspace's DFY mailboxes, 100 a page) until every followed address was seen, then
writes the mailboxes in bulk and moves each order's health through
`lifecycle.orders_health_set`. Health never changes an order's status: the status is the
purchase, and a bought order must never become re-submittable.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Protocol, cast

from django.core.cache import cache
from django.db import connection, models, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from orders import instantly, instantly_keys, lifecycle
from orders.lifecycle import UNHEALTHY_MAILBOX, MailboxHealth, OrderHealth
from orders.models import Mailbox, MailboxStatus, Order, OrderStatus, Workspace

logger = logging.getLogger(__name__)

# Orders per transaction and rows per statement: bounded locks, memory and SQL parameters.
BATCH_SIZE: Final = 500
PAGE_SIZE: Final = instantly.MAX_PAGE_SIZE
# The accounts list's filter for the workspace's Done-For-You mailboxes (docs/instantly.md).
DFY_FILTER: Final = "ACC_FILTER_DFY"
# Health a person must act on: the order goes to attention and its requester is told.
UNHEALTHY: Final = UNHEALTHY_MAILBOX
# How many addresses an event's sentence names before "and N more".
NAMED: Final = 5

# Instantly's Account codes (the schema's `status` and `warmup_status`, docs/instantly.md).
STATUS_PAUSED: Final = 2
STATUS_CONNECTION_ERROR: Final = -1
STATUS_ERRORS: Final = frozenset({-2, -3})  # soft bounce error, sending error
WARMUP_ACTIVE: Final = 1
# Banned and permanently suspended: warmup cannot go on without a person.
WARMUP_ERRORS: Final = frozenset({-1, -3})


class AccountState(Protocol):
    """What the fold reads of one `instantly.SendingAccount`."""

    @property
    def email(self) -> str: ...
    @property
    def status(self) -> int: ...
    @property
    def warmup_status(self) -> int: ...
    @property
    def setup_pending(self) -> bool: ...
    @property
    def stat_warmup_score(self) -> float | None: ...
    @property
    def daily_limit(self) -> int | None: ...


def mailbox_health_fold(account: AccountState) -> MailboxHealth:
    """One account's codes as the one word a person acts on. Errors first (a disconnected
    mailbox that is also still "setting up" needs a person now); status 3, Instantly's own
    short maintenance pause that resumes by itself, reads as connected."""
    if account.status == STATUS_CONNECTION_ERROR:
        return MailboxHealth.DISCONNECTED
    if account.status in STATUS_ERRORS or account.warmup_status in WARMUP_ERRORS:
        return MailboxHealth.ERROR
    if account.setup_pending:
        return MailboxHealth.SETUP_PENDING
    if account.status == STATUS_PAUSED:
        return MailboxHealth.PAUSED
    return MailboxHealth.CONNECTED


def order_health_fold(
    mailboxes: Iterable[tuple[str, int | None]], *, current: str
) -> OrderHealth:
    """An order's health from (health, warmup status) of each of its mailboxes that is not
    cancelled: attention if any is disconnected or erroring; setting up while any is still
    pending or not read yet; live once every one is connected and warming. An order that was
    live stays live when a person pauses a mailbox or its warmup later (its row says so)."""
    rows = list(mailboxes)
    if not rows:
        return OrderHealth(current)
    healths = {health for health, _warmup in rows}
    if healths & UNHEALTHY:
        return OrderHealth.ATTENTION
    if healths & {MailboxHealth.SETUP_PENDING, MailboxHealth.UNKNOWN}:
        return OrderHealth.SETTING_UP
    if all(
        health == MailboxHealth.CONNECTED and warmup == WARMUP_ACTIVE
        for health, warmup in rows
    ):
        return OrderHealth.LIVE
    return OrderHealth.LIVE if current == OrderHealth.LIVE else OrderHealth.SETTING_UP


@dataclass(frozen=True)
class HealthPollResult:
    orders: int
    mailboxes_seen: int
    mailboxes_changed: int
    orders_changed: int
    api_calls: int
    skipped: bool = False


def _followed(workspace: Workspace | None = None) -> Q:
    """Delivered orders: ready, or partly cancelled with ready mailboxes left."""
    ready = Mailbox.objects.filter(
        item__order=OuterRef("pk"), status=MailboxStatus.READY
    )
    query = Q(status=OrderStatus.READY) | Q(
        Exists(ready), status=OrderStatus.PARTIALLY_CANCELLED
    )
    if workspace is not None:
        query &= Q(workspace=workspace)
    return query


def workspaces_to_follow() -> list[int]:
    return list(
        Order.objects.filter(_followed())
        .values_list("workspace_id", flat=True)
        .distinct()
        .order_by("workspace_id")
    )


def health_poll_workspace(
    *,
    workspace: Workspace,
    client: instantly.InstantlyClient | None = None,
    now: datetime | None = None,
) -> HealthPollResult:
    """One health poll: read the DFY accounts list page by page until every ready mailbox of
    the followed orders was seen (or to its end), then write what changed. Idempotent.

    Raises transient errors for the caller to retry. A second poll of the same workspace
    while one runs is skipped (a cache lock, shared by every process on Redis)."""
    order_ids = list(
        Order.objects.filter(_followed(workspace))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if not order_ids:
        return HealthPollResult(0, 0, 0, 0, 0)
    lock = f"dfy:health:{workspace.pk}"
    if not cache.add(lock, "1", timeout=600):
        logger.info("health: workspace %s is already being polled", workspace.slug)
        return HealthPollResult(len(order_ids), 0, 0, 0, 0, skipped=True)
    try:
        wanted = _followed_addresses(order_ids)
        if client is None:
            with instantly_keys.instantly_client_for(workspace=workspace) as built:
                accounts, calls = accounts_read(client=built, wanted=wanted)
        else:
            accounts, calls = accounts_read(client=client, wanted=wanted)
        changed_mailboxes, changed_orders = health_apply(
            order_ids=order_ids, accounts=accounts, now=now or timezone.now()
        )
    finally:
        cache.delete(lock)
    logger.info(
        "health: workspace %s, %s orders, %s of %s mailboxes listed, %s changed, "
        "%s orders changed health, %s API calls",
        workspace.slug,
        len(order_ids),
        len(accounts),
        len(wanted),
        changed_mailboxes,
        changed_orders,
        calls,
    )
    return HealthPollResult(
        orders=len(order_ids),
        mailboxes_seen=len(accounts),
        mailboxes_changed=changed_mailboxes,
        orders_changed=changed_orders,
        api_calls=calls,
    )


def _chunks(values: Sequence[int], size: int = BATCH_SIZE) -> Iterable[Sequence[int]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _followed_addresses(order_ids: Sequence[int]) -> set[str]:
    wanted: set[str] = set()
    for chunk in _chunks(order_ids):
        rows = Mailbox.objects.filter(
            item__order_id__in=chunk, status=MailboxStatus.READY
        ).values_list("email_prefix", "item__domain")
        wanted.update(f"{prefix}@{domain}".lower() for prefix, domain in rows)
    return wanted


def accounts_read(
    *, client: instantly.InstantlyClient, wanted: set[str]
) -> tuple[dict[str, AccountState], int]:
    """The followed addresses' accounts (by lower-case address) and the calls it took.

    Pages of the DFY filter, not one call per mailbox. Stopping once every followed address
    was seen is safe: each row is the account as it is now, whatever page it is on, and the
    rows after it are mailboxes this poll does not follow."""
    before = client.request_count
    found: dict[str, AccountState] = {}
    waiting = set(wanted)
    if waiting:
        for page in client.sending_account_pages(
            page_size=PAGE_SIZE, filter=DFY_FILTER
        ):
            for account in page.items:
                email = account.email.lower()
                if email in wanted:
                    found[email] = account
                    waiting.discard(email)
            if not waiting:
                break
    return found, client.request_count - before


# The columns a reading writes, in the order of the executemany rows below.
HEALTH_COLUMNS: Final = (
    "health",
    "account_status",
    "setup_pending",
    "warmup_status",
    "warmup_score",
    "daily_limit",
    "health_checked_at",
)


def health_apply(
    *, order_ids: Sequence[int], accounts: Mapping[str, AccountState], now: datetime
) -> tuple[int, int]:
    """Write the readings onto the orders' mailboxes and fold each order. Database only,
    one transaction per chunk of orders (locked first, as every writer of orders does).
    Returns (mailboxes changed, orders whose health changed)."""
    mailboxes_changed = orders_changed = 0
    for chunk in _chunks(order_ids):
        with transaction.atomic():
            locked = lifecycle.orders_lock_many(
                Order.objects.select_for_update()
                .filter(_followed(), pk__in=chunk)
                .only("pk", "status", "health")
            )
            changed, moves = _orders_apply(locked, accounts, now)
            mailboxes_changed += changed
            orders_changed += lifecycle.orders_health_set(moves, chunk=BATCH_SIZE)
    return mailboxes_changed, orders_changed


def _orders_apply(
    locked: Sequence[Order], accounts: Mapping[str, AccountState], now: datetime
) -> tuple[int, list[tuple[Order, OrderHealth, str]]]:
    ids = [order.pk for order in locked]
    rows = (
        Mailbox.objects.filter(item__order_id__in=ids)
        .exclude(status=MailboxStatus.CANCELLED)
        .values_list(
            "pk",
            "item__order_id",
            "email_prefix",
            "item__domain",
            "status",
            *HEALTH_COLUMNS[:-1],
        )
        .order_by("item__order_id", "item__position", "position", "pk")
    )
    changed: list[list[Any]] = []
    seen: list[int] = []
    folded: dict[int, list[tuple[str, int | None]]] = defaultdict(list)
    named: dict[int, list[tuple[str, str, str]]] = defaultdict(list)
    for pk, order_id, prefix, domain, status, *stored in rows.iterator(
        chunk_size=BATCH_SIZE * 4
    ):
        email = f"{prefix}@{domain}"
        account = accounts.get(email.lower()) if status == MailboxStatus.READY else None
        if account is None:
            reading = list(stored)
        else:
            reading = [
                mailbox_health_fold(account),
                account.status,
                account.setup_pending,
                account.warmup_status,
                account.stat_warmup_score,
                account.daily_limit,
            ]
            if reading != list(stored):
                changed.append([*reading, now, pk])
            else:
                seen.append(pk)
        folded[order_id].append((reading[0], reading[3]))
        named[order_id].append((email, stored[0], reading[0]))
    _mailboxes_write(changed)
    for part in _chunks(seen, BATCH_SIZE * 4):
        Mailbox.objects.filter(pk__in=part).update(health_checked_at=now)
    Order.objects.filter(pk__in=ids).update(health_checked_at=now)
    moves = []
    for order in locked:
        to = order_health_fold(folded.get(order.pk, ()), current=order.health)
        if to != order.health:
            moves.append((order, to, health_summary(named[order.pk], to=to)))
    return len(changed), moves


def _mailboxes_write(changed: Sequence[Sequence[Any]]) -> None:
    """One parameterised UPDATE run for many rows (executemany), as the fulfilment poll
    writes mailboxes: bulk_update's CASE per row and field costs seconds at 20,000 rows."""
    if not changed:
        return
    fields = [
        cast("models.Field[Any, Any]", Mailbox._meta.get_field(name))
        for name in HEALTH_COLUMNS
    ]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(f.column)} = %s" for f in fields)
    sql = (
        f"UPDATE {quote(Mailbox._meta.db_table)} SET {assignments} "  # noqa: S608 - names from the model
        f"WHERE {quote(Mailbox._meta.pk.column)} = %s"
    )
    params = [
        [
            f.get_db_prep_save(value, connection)
            for f, value in zip(fields, row[:-1], strict=True)
        ]
        + [row[-1]]
        for row in changed
    ]
    with connection.cursor() as cursor:
        for start in range(0, len(params), BATCH_SIZE * 4):
            cursor.executemany(sql, params[start : start + BATCH_SIZE * 4])


def _names(emails: Sequence[str]) -> str:
    shown = ", ".join(emails[:NAMED])
    more = len(emails) - NAMED
    return f"{shown} and {more} more" if more > 0 else shown


def health_summary(
    mailboxes: Sequence[tuple[str, str, str]], *, to: OrderHealth
) -> str:
    """The event's sentence for people (and the notice's words): which mailboxes, never a
    secret. (address, health before, health now) of each mailbox that is not cancelled."""
    labels = dict(MailboxHealth.choices)
    total = len(mailboxes)
    if to == OrderHealth.ATTENTION:
        broken = [
            f"{email} ({str(labels[now]).lower()})"
            for email, _before, now in mailboxes
            if now in UNHEALTHY
        ]
        return (
            f"{len(broken)} of {total} mailbox{'es' if total != 1 else ''} "
            f"need{'s' if len(broken) == 1 else ''} attention at Instantly: "
            f"{_names(broken)}."
        )
    recovered = [e for e, before, now in mailboxes if before in UNHEALTHY]
    state = (
        "set up and warming"
        if to == OrderHealth.LIVE
        else "connected or still being set up"
    )
    every = f"All {total} mailboxes are" if total != 1 else "The mailbox is"
    sentence = f"{every} {state} at Instantly."
    if recovered:
        sentence += f" Recovered: {_names(recovered)}."
    return sentence
