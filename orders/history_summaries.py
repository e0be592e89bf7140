"""What a history row and a CSV line show about an order's items (domains, providers,
mailbox counts, burned domains), in one grouped query per page or chunk."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db.models import Count, Q

from orders.models import MailboxStatus, OrderItem, Provider


@dataclass
class OrderSummary:
    """What an order row shows about its items: computed per page (or CSV chunk)."""

    domains: list[str] = field(default_factory=list)
    providers: set[int] = field(default_factory=set)
    mailboxes: int = 0
    ready: int = 0
    cancelled: int = 0
    burned: int = 0  # domains marked burned (issue 16)

    @property
    def provider_labels(self) -> list[str]:
        return [Provider(p).label for p in sorted(self.providers)]

    @property
    def first_domain(self) -> str:
        return self.domains[0] if self.domains else ""

    @property
    def more_domains(self) -> int:
        return max(0, len(self.domains) - 1)


def order_summaries(order_ids: Sequence[int]) -> dict[int, OrderSummary]:
    """Domains, providers and mailbox counts of the given orders, in one grouped query."""
    if not order_ids:
        return {}
    # Mailboxes counted by their status, never null, rather than their id: the (item,
    # status) index then holds everything read, and PostgreSQL reads only the index.
    rows = (
        OrderItem.objects.filter(order_id__in=order_ids)
        .values_list("order_id", "domain", "provider")
        .annotate(
            n=Count("mailboxes__status"),
            ready=Count(
                "mailboxes__status", filter=Q(mailboxes__status=MailboxStatus.READY)
            ),
            cancelled=Count(
                "mailboxes__status",
                filter=Q(mailboxes__status=MailboxStatus.CANCELLED),
            ),
            # At most one burn per item (one-to-one): the join adds no rows, and the count
            # is 0 or 1 whatever the item's mailboxes.
            burned=Count("burn", distinct=True),
        )
        # Grouping by the item's own key keeps one row per item, in the order's item order.
        .order_by("order_id", "position", "pk")
    )
    summaries: dict[int, OrderSummary] = {}
    for order_id, domain, provider, n, ready, cancelled, burned in rows:
        summary = summaries.setdefault(order_id, OrderSummary())
        summary.domains.append(domain)
        summary.providers.add(provider)
        summary.mailboxes += n
        summary.ready += ready
        summary.cancelled += cancelled
        summary.burned += burned
    return summaries
