"""orders.charts: the one stacked bar chart behind the dashboard's spend and mailbox charts."""

from __future__ import annotations

from decimal import Decimal as D

from orders.charts import (
    Bar,
    Frame,
    LegendEntry,
    Rect,
    Segment,
    Tick,
    nice_ceiling,
    stacked_bar_chart,
)

LEGEND = [LegendEntry("Red", "#f00")]


def test_nice_ceiling_rounds_up_to_a_readable_axis():
    assert nice_ceiling(D("0")) == D("100")
    assert nice_ceiling(D("4231.5")) == D("5000")
    assert nice_ceiling(D("180")) == D("200")
    assert nice_ceiling(D("1119")) == D("1200")
    assert nice_ceiling(D("2100")) == D("2400")
    assert nice_ceiling(D("9000")) == D("10000")


def test_vertical_bars_stack_upwards_from_the_bottom_centred_in_their_slots():
    chart = stacked_bar_chart(
        [
            Bar(
                "a",
                [
                    Segment(D(30), "#f00", "a1"),
                    Segment(D(0), "#0f0", "none"),
                    Segment(D(50), "#00f", "a2"),
                ],
            ),
            Bar("b", [Segment(D(100), "#f00", "b1")]),
        ],
        frame=Frame(100, 120, left=20, right=100, top=10, bottom=110),
        horizontal=False,
        slot=D(40),
        thickness=D(20),
        legend=LEGEND,
        value_prefix="$",
    )

    assert chart.bars == [
        Rect(D(30), D(80), D(20), D(30), "#f00", "a1"),
        Rect(D(30), D(30), D(20), D(50), "#00f", "a2"),
        Rect(D(70), D(10), D(20), D(100), "#f00", "b1"),
    ]
    assert chart.x_ticks == [Tick(D(40), "a"), Tick(D(80), "b")]
    assert chart.y_ticks == [
        Tick(D(110), "$0"),
        Tick(D(85), "$25"),
        Tick(D(60), "$50"),
        Tick(D(35), "$75"),
        Tick(D(10), "$100"),
    ]
    assert (chart.width, chart.height, chart.plot_left, chart.plot_right) == (
        100,
        120,
        20,
        100,
    )
    assert (chart.plot_top, chart.plot_bottom, chart.legend) == (10, 110, LEGEND)


def test_horizontal_bars_stack_rightwards_with_labels_on_the_left():
    chart = stacked_bar_chart(
        [
            Bar("g", [Segment(D(3), "#0f0", "g1"), Segment(D(5), "#ff0", "g2")]),
            Bar("h", []),
        ],
        frame=Frame(200, 100, left=40, right=140, top=0, bottom=60),
        horizontal=True,
        slot=D(30),
        thickness=D(20),
        legend=LEGEND,
    )

    # The axis ends at nice_ceiling(8) = 8, so one unit is 12.5 px.
    assert chart.bars == [
        Rect(D(40), D(5), D("37.5"), D(20), "#0f0", "g1"),
        Rect(D("77.5"), D(5), D("62.5"), D(20), "#ff0", "g2"),
    ]
    assert chart.y_ticks == [Tick(D(15), "g"), Tick(D(45), "h")]
    assert chart.x_ticks == [
        Tick(D(40), "0"),
        Tick(D(65), "2"),
        Tick(D(90), "4"),
        Tick(D(115), "6"),
        Tick(D(140), "8"),
    ]


def test_an_empty_chart_still_has_an_axis():
    chart = stacked_bar_chart(
        [],
        frame=Frame(100, 120, left=20, right=100, top=10, bottom=110),
        horizontal=False,
        slot=D(80),
        thickness=D(50),
        legend=LEGEND,
    )

    assert chart.bars == []
    assert chart.x_ticks == []
    assert [tick.label for tick in chart.y_ticks] == ["0", "25", "50", "75", "100"]
