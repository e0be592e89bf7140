"""The renewals page's chart (presentation): the cost of each of the next 12 renewals,
stacked by what renews, from `renewals.renewal_forecast`; `orders.charts` draws it."""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from orders.charts import (
    Bar,
    BarChart,
    Frame,
    LegendEntry,
    Segment,
    px,
    stacked_bar_chart,
)
from orders.dashboard_charts import PROVIDER_COLOURS
from orders.models import Provider
from orders.renewals import MonthRenewal

DOMAIN_COLOUR: Final = "#16794a"


def renewal_chart(months: list[MonthRenewal]) -> BarChart:
    """Stacked bars per renewal: each provider's mailboxes (Microsoft: its domains' monthly
    price), then the domains renewing for a year."""
    width, height = 1000, 280
    frame = Frame(width, height, left=64, right=width - 8, top=12, bottom=height - 30)
    slot = Decimal(frame.right - frame.left) / max(len(months), 1)
    bars = []
    for index, month in enumerate(months):
        # The year shows on the first month and on each January.
        label = month.renews_on.strftime(
            "%b %y" if index == 0 or month.renews_on.month == 1 else "%b"
        )
        segments = [
            Segment(
                row.cost,
                PROVIDER_COLOURS[row.provider],
                f"15 {month.label}, {row.provider.label}: ${row.cost:,}",
            )
            for row in month.providers
        ]
        segments.append(
            Segment(
                month.domains_cost,
                DOMAIN_COLOUR,
                f"15 {month.label}, {month.domains} domain"
                f"{'s' if month.domains != 1 else ''} for a year: ${month.domains_cost:,}",
            )
        )
        bars.append(Bar(label, segments))
    return stacked_bar_chart(
        bars,
        frame=frame,
        horizontal=False,
        slot=slot,
        thickness=px(slot * Decimal("0.62")),
        legend=[
            *(
                LegendEntry(f"{p.label} mailboxes", PROVIDER_COLOURS[p])
                for p in Provider
            ),
            LegendEntry("Domains (yearly)", DOMAIN_COLOUR),
        ],
        value_prefix="$",
    )
