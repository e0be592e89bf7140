"""The workspace's mirror of what Instantly reports as ordered: domains and mailboxes.

Filled by paging through the two list endpoints (API calls grow with pages, not with orders)
and upserting in batches. The mailbox password is read only to learn whether it is non-empty;
it is never stored or logged.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import TypeVar

from django.core.cache import cache
from django.utils import timezone

from orders import instantly, instantly_keys
from orders.models import RemoteAccount, RemoteDomain, Workspace

logger = logging.getLogger(__name__)

# Rows per upsert statement: large enough to keep 20,000 mailboxes to a few dozen statements,
# small enough to stay far below SQLite's 32,766 bound-parameter limit (12 columns a row).
UPSERT_BATCH_SIZE = 500
# How long the cache remembers a requested or finished refresh.
REFRESH_STATE_SECONDS = 600

T = TypeVar("T")


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
    for batch in _batches(client.iter_orders(page_size=100)):
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
        domains += len(batch)
    accounts = 0
    providers: dict[str, int] = {}
    for chunk in _batches(client.iter_accounts(page_size=100, with_passwords=True)):
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
        accounts += len(chunk)
    for provider in {1, 2, 3}:
        names = [d for d, p in providers.items() if p == provider]
        for part in _batches(names):
            RemoteDomain.objects.filter(workspace=workspace, domain__in=part).update(
                provider=provider
            )
    refresh_finished(workspace=workspace)
    return MirrorResult(
        domains=domains, accounts=accounts, requests=client.request_count - before
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
