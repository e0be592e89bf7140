"""The dashboard's replacement rate (reads only): per provider and order type, the domains
marked burned out of the domains delivered (docs/planning.md, "Burn-and-replace").

"Delivered" is every domain of an order that became ready (whatever happened to it since:
a burned domain's order is often cancelled afterwards) or is partly cancelled. The burns are
few and counted on every view (one grouped query through the burn's workspace index). The
delivered domains are not: counting them groups every bought item of the workspace, which
the dashboard must not do per view (issue 14, docs/performance.md). They only change when
an order becomes ready or leaves the bought statuses, and each of those moves the running
tallies the dashboard reads anyway, so the count is kept in the cache under a stamp of those
tallies, as the renewal tile keeps its base (orders/renewals.py `dashboard_forecast`).
Nothing is read when no domain was ever marked burned.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from django.core.cache import cache
from django.db.models import Count, Q

from orders.lifecycle import OrderStatus
from orders.models import DomainBurn, OrderItem, OrderType, Provider, Workspace
from orders.quotes import CACHE_ERRORS

logger = logging.getLogger(__name__)

# A stamp that two moves left exactly as it was keeps a stale count at most this long.
DELIVERED_SECONDS: Final = 3600
DELIVERED: Final = Q(order__ready_at__isnull=False) | Q(
    order__status=OrderStatus.PARTIALLY_CANCELLED
)
TENTH: Final = Decimal("0.1")

Key = tuple[int, str]  # (provider, order type)


@dataclass(frozen=True)
class ReplacementRate:
    provider: Provider
    order_type: OrderType
    delivered: int
    burned: int

    @property
    def percent(self) -> Decimal:
        if not self.delivered:
            return Decimal(0)
        return (Decimal(self.burned * 100) / self.delivered).quantize(TENTH)


def burned_counts(workspace: Workspace) -> dict[Key, int]:
    rows = (
        DomainBurn.objects.in_workspace(workspace)
        .values_list("item__provider", "item__order__order_type")
        .annotate(burned=Count("pk"))
        .order_by()
    )
    return {(provider, order_type): n for provider, order_type, n in rows}


def delivered_counts(workspace: Workspace) -> dict[Key, int]:
    rows = (
        OrderItem.objects.filter(DELIVERED, order__workspace=workspace)
        .values_list("provider", "order__order_type")
        .annotate(domains=Count("pk"))
        .order_by()
    )
    return {(provider, order_type): n for provider, order_type, n in rows}


def _delivered_kept(workspace: Workspace, stamp: object) -> dict[Key, int]:
    # The workspace's creation time too: ids come back after a rolled-back test.
    text = repr((workspace.created_at.isoformat(), stamp))
    digest = hashlib.sha256(text.encode()).hexdigest()[:32]
    key = f"dfy:burn-delivered:{workspace.pk}:{digest}"
    try:
        kept: dict[Key, int] | None = cache.get(key)
    except CACHE_ERRORS:
        kept = None
    if kept is None:
        kept = delivered_counts(workspace)
        try:
            cache.set(key, kept, timeout=DELIVERED_SECONDS)
        except CACHE_ERRORS:
            logger.warning("replacement rate: the cache did not answer")
    return kept


def replacement_rates(*, workspace: Workspace, stamp: object) -> list[ReplacementRate]:
    """One row per provider and order type with a delivered domain, once any domain was
    marked burned; none before. `stamp`: the running tallies the dashboard read (bought
    orders, mailboxes by provider and state)."""
    burned = burned_counts(workspace)
    if not burned:
        return []
    delivered = _delivered_kept(workspace, stamp)
    return [
        ReplacementRate(
            provider=Provider(provider),
            order_type=OrderType(order_type),
            # A burn the stale count does not know yet still counts as delivered.
            delivered=max(delivered.get((provider, order_type), 0), n_burned),
            burned=n_burned,
        )
        for provider, order_type in sorted(set(delivered) | set(burned))
        for n_burned in [burned.get((provider, order_type), 0)]
    ]
