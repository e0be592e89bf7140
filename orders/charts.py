"""Server-rendered SVG bar charts: the geometry of a stacked bar chart, drawn by
templates/orders/history_chart.html with presentation attributes only (no inline styles, CSP).

Geometry is Decimal, so a chart of money never passes an amount through a float. The value
axis always has four steps up to a round ceiling (`nice_ceiling`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Final

VALUE_STEPS: Final = 4


def px(value: Decimal) -> Decimal:
    """A coordinate, to a tenth of a pixel."""
    return value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def nice_ceiling(value: Decimal) -> Decimal:
    """The smallest round number at or above `value` whose quarters are round too (the axis
    has four steps): 1, 1.2, 1.6, 2, 2.4, 3, 4, 5, 6 or 8 x 10^n."""
    if value <= 0:
        return Decimal("100")
    magnitude = Decimal(10) ** (value.adjusted())
    for step in ("1", "1.2", "1.6", "2", "2.4", "3", "4", "5", "6", "8"):
        if value <= Decimal(step) * magnitude:
            return Decimal(step) * magnitude
    return 10 * magnitude


@dataclass(frozen=True)
class Rect:
    x: Decimal
    y: Decimal
    width: Decimal
    height: Decimal
    fill: str
    title: str


@dataclass(frozen=True)
class Tick:
    position: Decimal
    label: str


@dataclass(frozen=True)
class LegendEntry:
    label: str
    fill: str


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    plot_left: int
    plot_right: int
    plot_top: int
    plot_bottom: int
    bars: list[Rect]
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    legend: list[LegendEntry]


@dataclass(frozen=True)
class Frame:
    """The SVG's size and the plot area inside it, in pixels."""

    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int


@dataclass(frozen=True)
class Segment:
    """One part of a bar: its value, colour and tooltip."""

    value: Decimal
    fill: str
    title: str


@dataclass(frozen=True)
class Bar:
    """One bar (its label on the category axis) and its parts, stacked in this order."""

    label: str
    segments: Sequence[Segment]

    @property
    def total(self) -> Decimal:
        return sum((segment.value for segment in self.segments), Decimal(0))


def stacked_bar_chart(
    bars: Sequence[Bar],
    *,
    frame: Frame,
    horizontal: bool,
    slot: Decimal,
    thickness: Decimal,
    legend: list[LegendEntry],
    value_prefix: str = "",
) -> BarChart:
    """Bars side by side along the category axis, each `slot` pixels apart and `thickness`
    wide, centred in its slot; their segments stacked from zero along the value axis (up, or
    right when `horizontal`), zero-valued segments left out. The value axis is labelled in
    four steps up to `nice_ceiling` of the largest bar, each label after `value_prefix`."""
    peak = nice_ceiling(max((bar.total for bar in bars), default=Decimal(0)))
    if horizontal:
        category_start, zero, value_length = (
            frame.top,
            frame.left,
            frame.right - frame.left,
        )
    else:
        category_start, zero, value_length = (
            frame.left,
            frame.bottom,
            frame.bottom - frame.top,
        )
    direction = 1 if horizontal else -1
    scale = Decimal(value_length) / peak
    rects: list[Rect] = []
    category_ticks: list[Tick] = []
    for index, bar in enumerate(bars):
        band = px(category_start + slot * index + (slot - thickness) / 2)
        position = Decimal(zero)
        for segment in bar.segments:
            if not segment.value:
                continue
            length = px(segment.value * scale)
            if horizontal:
                rects.append(
                    Rect(
                        px(position),
                        band,
                        length,
                        thickness,
                        segment.fill,
                        segment.title,
                    )
                )
                position += length
            else:
                position -= length
                rects.append(
                    Rect(
                        band,
                        px(position),
                        thickness,
                        length,
                        segment.fill,
                        segment.title,
                    )
                )
        category_ticks.append(
            Tick(px(category_start + slot * index + slot / 2), bar.label)
        )
    value_ticks = [
        Tick(
            px(zero + direction * value_length * Decimal(step) / VALUE_STEPS),
            f"{value_prefix}{peak * step / VALUE_STEPS:,.0f}",
        )
        for step in range(VALUE_STEPS + 1)
    ]
    return BarChart(
        width=frame.width,
        height=frame.height,
        plot_left=frame.left,
        plot_right=frame.right,
        plot_top=frame.top,
        plot_bottom=frame.bottom,
        bars=rects,
        y_ticks=category_ticks if horizontal else value_ticks,
        x_ticks=value_ticks if horizontal else category_ticks,
        legend=legend,
    )
