"""The workspace's mirror of what Instantly reports as ordered: domains and mailboxes.

Filled by paging through the two list endpoints (API calls grow with pages, not with orders)
and upserting in batches. The mailbox password is read only to learn whether it is non-empty;
it is never stored or logged.

Two ways to fill it: `remote_mirror_refresh` reads both lists whole (when someone asks, e.g.
the owned-domains panel); `remote_mirror_follow`, the fulfilment poll's, reads only from the
page of the oldest item still awaited, so its cost follows what is in flight, not the history.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import TYPE_CHECKING, Protocol, TypeVar

from django.core.cache import cache
from django.utils import timezone

from orders import instantly, instantly_keys
from orders.models import RemoteAccount, RemoteDomain, Workspace
from orders.models.remote import PollCursor

if TYPE_CHECKING:
    from orders.instantly.client import ListPage

logger = logging.getLogger(__name__)

# Rows per upsert statement: large enough to keep 20,000 mailboxes to a few dozen statements,
# small enough to stay far below SQLite's 32,766 bound-parameter limit (12 columns a row).
UPSERT_BATCH_SIZE = 500
# Rows asked for per list request: the most Instantly gives, so calls grow slowest.
PAGE_SIZE = instantly.MAX_PAGE_SIZE
# How long the cache remembers a requested or finished refresh.
REFRESH_STATE_SECONDS = 600

T = TypeVar("T")


class _Listed(Protocol):
    @property
    def timestamp_created(self) -> datetime: ...


L = TypeVar("L", bound=_Listed)


@dataclass(frozen=True)
class RefreshState:
    running: bool
    done_at: datetime | None


def _keys(workspace: Workspace) -> tuple[str, str]:
    return f"mirror:{workspace.pk}:requested", f"mirror:{workspace.pk}:done"


def refresh_requested(*, workspace: Workspace) -> None:
    """Note that someone asked for a refresh (in the shared cache, so every process sees it)."""
    cache.set(_keys(workspace)[0], timezone.now(), REFRESH_STATE_SECONDS)


def refresh_finished(*, workspace: Workspace) -> None:
    cache.set(_keys(workspace)[1], timezone.now(), REFRESH_STATE_SECONDS)


def refresh_state(*, workspace: Workspace) -> RefreshState:
    """Running while the newest request is younger than the newest finished refresh; a request
    older than the state's lifetime counts as finished, so a lost task cannot spin forever."""
    requested_key, done_key = _keys(workspace)
    found = cache.get_many([requested_key, done_key])
    requested, done = found.get(requested_key), found.get(done_key)
    return RefreshState(
        running=requested is not None and (done is None or requested > done),
        done_at=done,
    )


@dataclass(frozen=True)
class MirrorResult:
    domains: int
    accounts: int
    requests: int


def _batches(rows: Iterable[T], size: int = UPSERT_BATCH_SIZE) -> Iterator[list[T]]:
    iterator = iter(rows)
    while batch := list(islice(iterator, size)):
        yield batch


def _known_mode(order: instantly.RemoteOrder) -> str:
    # Only the two published modes fit the column; anything newer reads as "not known".
    mode = order.forwarding_mode or ""
    return (
        mode if order.forwarding_domain and mode in instantly.FORWARDING_MODES else ""
    )


def remote_mirror_refresh(
    *, workspace: Workspace, client: instantly.InstantlyClient
) -> MirrorResult:
    """Upsert every ordered domain and mailbox Instantly lists for this workspace.

    Idempotent; no transaction is held across HTTP calls (each batch commits on its own).
    """
    before = client.request_count
    domains = 0
    for batch in _batches(client.iter_orders(page_size=PAGE_SIZE)):
        _domains_store(workspace, batch)
        domains += len(batch)
    accounts = 0
    providers: dict[str, int] = {}
    for chunk in _batches(
        client.iter_accounts(page_size=PAGE_SIZE, with_passwords=True)
    ):
        _accounts_store(workspace, chunk, providers)
        accounts += len(chunk)
    _providers_store(workspace, providers)
    refresh_finished(workspace=workspace)
    return MirrorResult(
        domains=domains, accounts=accounts, requests=client.request_count - before
    )


def _domains_store(workspace: Workspace, batch: list[instantly.RemoteOrder]) -> None:
    RemoteDomain.objects.bulk_create(
        [
            RemoteDomain(
                workspace=workspace,
                domain=o.domain,
                forwarding_domain=o.forwarding_domain or "",
                forwarding_mode=_known_mode(o),
                is_pre_warmed_up=bool(o.is_pre_warmed_up),
                created_remote_at=o.timestamp_created,
                cancelled_remote_at=o.timestamp_cancelled,
                seen_at=timezone.now(),
            )
            for o in batch
        ],
        update_conflicts=True,
        unique_fields=["workspace", "domain"],
        update_fields=[
            "forwarding_domain",
            "forwarding_mode",
            "is_pre_warmed_up",
            "created_remote_at",
            "cancelled_remote_at",
            "seen_at",
        ],
    )


def _accounts_store(
    workspace: Workspace,
    chunk: list[instantly.RemoteAccount],
    providers: dict[str, int],
) -> None:
    """Upsert mailboxes; note each domain's provider (from its live mailboxes) in `providers`."""
    RemoteAccount.objects.bulk_create(
        [
            RemoteAccount(
                workspace=workspace,
                remote_id=a.id,
                email=a.email.lower(),
                domain=a.domain.lower(),
                provider=a.email_provider,
                first_name=a.first_name[:100],
                last_name=a.last_name[:100],
                is_pre_warmed_up=a.is_pre_warmed_up,
                is_ready=a.is_ready,
                created_remote_at=a.timestamp_created,
                cancelled_remote_at=a.timestamp_cancelled,
                seen_at=timezone.now(),
            )
            for a in chunk
        ],
        update_conflicts=True,
        unique_fields=["workspace", "remote_id"],
        update_fields=[
            "email",
            "domain",
            "provider",
            "first_name",
            "last_name",
            "is_pre_warmed_up",
            "is_ready",
            "created_remote_at",
            "cancelled_remote_at",
            "seen_at",
        ],
    )
    for a in chunk:
        if not a.is_cancelled:
            providers.setdefault(a.domain.lower(), a.email_provider)


def _providers_store(workspace: Workspace, providers: Mapping[str, int]) -> None:
    for provider in {1, 2, 3}:
        names = [d for d, p in providers.items() if p == provider]
        for part in _batches(names):
            RemoteDomain.objects.filter(workspace=workspace, domain__in=part).update(
                provider=provider
            )


# --- The fulfilment poll's read: resume each list where the oldest awaited item is ---------


@dataclass(frozen=True)
class Watch:
    """What the fulfilment poll waits to see listed: domains and addresses (lower case), each
    with the earliest creation time that counts (an older row of the same name belongs to an
    earlier order), None for any. With `whole_accounts` a domain's mailboxes are learnt from
    Instantly (pre-warmed), so nobody knows how many to wait for: that list is read to its end.
    """

    domains: Mapping[str, datetime | None] = field(default_factory=dict)
    emails: Mapping[str, datetime | None] = field(default_factory=dict)
    whole_accounts: bool = False


def remote_mirror_follow(
    *, workspace: Workspace, client: instantly.InstantlyClient, watch: Watch
) -> MirrorResult:
    """Read each list from where the previous poll left it until everything watched was seen
    (or to its end), upsert what was read, and remember where the next poll starts.

    Both lists run oldest first and new rows land at their end, so a list is resumed at the
    page holding the oldest item still awaited: for domains, a watched one; for mailboxes, any
    Instantly still provisions (also one of an order placed while this poll ran, which the
    watch does not know yet). With nothing awaited the next poll starts at the first page not
    read, or at the last page read: whatever is ordered later is listed after it. The first
    poll of a workspace starts at the beginning, and so does a poll whose cursor Instantly
    refuses (once, logged). Rows before the cursors are history this poll no longer reads;
    `remote_mirror_refresh` still reads them when someone asks.
    """
    before = client.request_count
    orders_after, accounts_after = _cursors(workspace, client)
    domains = accounts = 0
    providers: dict[str, int] = {}
    if watch.domains:
        orders_after, domains = _follow(
            _resumed(
                lambda after: client.order_pages(
                    page_size=PAGE_SIZE, starting_after=after
                ),
                orders_after,
                workspace=workspace,
                what="orders",
            ),
            store=lambda batch: _domains_store(workspace, batch),
            key=lambda o: o.domain.lower(),
            watched=watch.domains,
            holds=lambda o: _awaited(watch.domains, o.domain.lower(), o),
        )
    if watch.emails or watch.whole_accounts:
        accounts_after, accounts = _follow(
            _resumed(
                lambda after: client.account_pages(
                    page_size=PAGE_SIZE, with_passwords=True, starting_after=after
                ),
                accounts_after,
                workspace=workspace,
                what="accounts",
            ),
            store=lambda chunk: _accounts_store(workspace, chunk, providers),
            key=lambda a: a.email.lower(),
            watched=watch.emails,
            holds=lambda a: not a.is_cancelled and not a.is_ready,
            endless=watch.whole_accounts,
        )
    _providers_store(workspace, providers)
    _cursors_save(workspace, client, orders_after, accounts_after)
    return MirrorResult(
        domains=domains, accounts=accounts, requests=client.request_count - before
    )


def _awaited(watched: Mapping[str, datetime | None], name: str, item: _Listed) -> bool:
    if name not in watched:
        return False
    since = watched[name]
    return since is None or item.timestamp_created >= since


def _follow(
    pages: Iterator[ListPage[L]],
    *,
    store: Callable[[list[L]], None],
    key: Callable[[L], str],
    watched: Mapping[str, datetime | None],
    holds: Callable[[L], bool],
    endless: bool = False,
) -> tuple[str | None, int]:
    """Store every page read; return where the next poll starts this list, and the rows read.

    The next poll starts at the cursor of the first page holding an item to read again
    (`holds`); else of the first page not read; else (the end was reached) of the last page,
    since later rows land after it. Stops once every watched name was seen, unless `endless`.
    """
    waiting = dict(watched)
    resume: str | None = None
    pinned = False
    batch: list[L] = []
    read = 0
    last: ListPage[L] | None = None
    for page in pages:
        last = page
        read += len(page.items)
        batch.extend(page.items)
        if len(batch) >= UPSERT_BATCH_SIZE:
            store(batch)
            batch = []
        if not pinned and any(holds(item) for item in page.items):
            resume, pinned = page.starting_after, True
        for item in page.items:
            if _awaited(waiting, key(item), item):
                del waiting[key(item)]
        if not waiting and not endless:
            break
    if batch:
        store(batch)
    if pinned or last is None:
        return resume, read
    return last.next_starting_after or last.starting_after, read


def _resumed(
    pages_after: Callable[[str | None], Iterator[ListPage[L]]],
    after: str | None,
    *,
    workspace: Workspace,
    what: str,
) -> Iterator[ListPage[L]]:
    """The list's pages from `after`; from the start, once, when Instantly refuses the cursor
    (400 on its first page: the row it named is gone, or the cursor is stale)."""
    pages = pages_after(after)
    try:
        first = next(pages, None)
    except instantly.InstantlyValidationError as exc:
        if after is None:
            raise
        logger.warning(
            "poll: workspace %s: Instantly refused the %s cursor (%s); reading the whole list",
            workspace.slug,
            what,
            exc,
        )
        pages = pages_after(None)
        first = next(pages, None)
    if first is None:
        return
    yield first
    yield from pages


def _cursors(
    workspace: Workspace, client: instantly.InstantlyClient
) -> tuple[str | None, str | None]:
    row = PollCursor.objects.filter(workspace=workspace).first()
    if row is None:
        return None, None
    if row.issued_to != client.limiter_bucket:
        logger.info(
            "poll: workspace %s has another key; reading both lists from the start",
            workspace.slug,
        )
        return None, None
    return row.orders_after or None, row.accounts_after or None


def _cursors_save(
    workspace: Workspace,
    client: instantly.InstantlyClient,
    orders_after: str | None,
    accounts_after: str | None,
) -> None:
    PollCursor.objects.update_or_create(
        workspace=workspace,
        defaults={
            "issued_to": client.limiter_bucket,
            "orders_after": orders_after or "",
            "accounts_after": accounts_after or "",
        },
    )


def workspace_mirror_refresh(*, workspace: Workspace) -> None:
    """Refresh the mirror with the workspace's own key (the worker's side of the owned-domains
    panel). Whatever happens the panel stops waiting, except on a transient failure, which is
    raised for the task to retry while the panel keeps waiting: no key, or a refusal that
    retrying will not change, ends the refresh and says so in the log."""
    try:
        with instantly_keys.instantly_client_for(workspace=workspace) as client:
            remote_mirror_refresh(workspace=workspace, client=client)
    except instantly_keys.InstantlyKeyMissing:
        logger.info("refresh_remote_mirror: workspace %s has no key", workspace.slug)
        refresh_finished(workspace=workspace)
    except instantly.InstantlyTransientError:
        raise
    except instantly.InstantlyError as exc:
        logger.warning("refresh_remote_mirror: %s refused: %s", workspace.slug, exc)
        refresh_finished(workspace=workspace)
