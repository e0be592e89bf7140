"""The dashboard's two charts (presentation), from the figures `spend.workspace_dashboard`
reads: spend due per month by provider, and mailboxes per provider; `orders.charts` draws
them."""

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
from orders.models import Provider
from orders.spend import ZERO, MonthSpend, ProviderMailboxes

PROVIDER_COLOURS: Final = {
    Provider.GOOGLE: "#2f6fde",
    Provider.AIRMAIL: "#8a5cd1",
    Provider.MICROSOFT: "#d98b0a",
}
READY_COLOUR: Final = "#16794a"
PROVISIONING_COLOUR: Final = "#e0a526"


def spend_chart(months: list[MonthSpend]) -> BarChart:
    """Stacked bars: due-now spend per month, one colour per provider."""
    width, height = 1000, 280
    frame = Frame(width, height, left=64, right=width - 8, top=12, bottom=height - 30)
    slot = Decimal(frame.right - frame.left) / max(len(months), 1)
    bars = [_month_bar(index, month) for index, month in enumerate(months)]
    return stacked_bar_chart(
        bars,
        frame=frame,
        horizontal=False,
        slot=slot,
        thickness=px(slot * Decimal("0.62")),
        legend=[LegendEntry(p.label, PROVIDER_COLOURS[p]) for p in Provider],
        value_prefix="$",
    )


def _month_bar(index: int, month: MonthSpend) -> Bar:
    # The year shows on the first month and on each January.
    label = month.month.strftime(
        "%b %y" if index == 0 or month.month.month == 1 else "%b"
    )
    segments = []
    for provider in Provider:
        amount = month.by_provider.get(provider, ZERO)
        title = f"{month.label}, {provider.label}: ${amount:,}"
        segments.append(Segment(amount, PROVIDER_COLOURS[provider], title))
    return Bar(label, segments)


def mailbox_chart(rows: list[ProviderMailboxes]) -> BarChart:
    """Horizontal stacked bars per provider: ready, then still provisioning."""
    width, row_height, top = 600, 34, 6
    bottom = top + row_height * len(rows)
    # Room on the right and below for the value axis's last label.
    frame = Frame(width, bottom + 24, left=96, right=width - 24, top=top, bottom=bottom)
    bars = [
        Bar(
            row.provider.label,
            [
                Segment(
                    Decimal(count),
                    fill,
                    f"{row.provider.label}: {count:,} {what}",
                )
                for count, fill, what in (
                    (row.ready, READY_COLOUR, "ready"),
                    (row.provisioning, PROVISIONING_COLOUR, "provisioning"),
                )
            ],
        )
        for row in rows
    ]
    return stacked_bar_chart(
        bars,
        frame=frame,
        horizontal=True,
        slot=Decimal(row_height),
        thickness=Decimal(row_height - 12),
        legend=[
            LegendEntry("Ready", READY_COLOUR),
            LegendEntry("Provisioning", PROVISIONING_COLOUR),
        ],
    )
