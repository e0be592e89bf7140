"""bench/median_of_runs.py: the Results table of docs/performance.md is the median of runs."""

from __future__ import annotations

from typing import Any

from bench.median_of_runs import medians, rows


def timing(
    value: float, p50: float, n: int = 48, budget: float = 100
) -> dict[str, Any]:
    return {
        "value": value,
        "unit": "ms",
        "budget": budget,
        "kind": "max",
        "p50": p50,
        "p95": value,
        "n": n,
    }


def test_each_field_is_the_median_of_the_runs_that_measured_it() -> None:
    runs = [
        {
            "dashboard_p95_ms@postgres": timing(90, 40),
            "poll_api_calls@postgres": {
                "value": 210,
                "unit": "",
                "budget": 210,
                "kind": "max",
            },
        },
        {"dashboard_p95_ms@postgres": timing(70, 60)},
        {"dashboard_p95_ms@postgres": timing(120, 50)},
    ]

    merged = medians(runs)

    dashboard = merged["dashboard_p95_ms@postgres"]
    assert (dashboard["value"], dashboard["p50"], dashboard["p95"]) == (90, 50, 90)
    assert dashboard["runs"] == 3
    assert merged["poll_api_calls@postgres"]["runs"] == 1


def test_a_row_puts_both_backends_side_by_side_and_judges_the_median() -> None:
    runs = [
        {
            "history_p95_ms@postgres": timing(70, 30, n=120, budget=75),
            "history_p95_ms@sqlite": timing(120, 50, n=120, budget=105),
        }
        for _ in range(3)
    ]
    runs[1]["history_p95_ms@postgres"] = timing(80, 31, n=120, budget=75)
    runs[2]["history_p95_ms@postgres"] = timing(90, 32, n=120, budget=75)

    (line,) = rows(medians(runs))

    assert line == (
        "| `history_p95_ms` | 80 ms (31.0 / 80.0, n=120) | ≤ 75 ms OVER "
        "| 120 ms (50.0 / 120.0, n=120) | ≤ 105 ms OVER |"
    )


def test_numbers_are_rounded_for_reading() -> None:
    from bench.median_of_runs import number

    assert [
        number(v) for v in (81.8447, 1.13636, 419245.0, 2345680.0, 7.0, 0.5917)
    ] == [
        "81.84",
        "1.136",
        "419,245",
        "2,345,680",
        "7",
        "0.5917",
    ]
