"""The capacity planner's arithmetic (orders/capacity_plan.py): counts within Instantly's
rules, sends at least the target, money as Instantly adds it up, and the alternatives."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from orders.capacity_plan import (
    CHEAPEST,
    DEFAULT_SENDS_PER_MAILBOX,
    FASTEST,
    SHARES,
    Alternative,
    PlanInputs,
    Speed,
    StockOffer,
    UnitCost,
    domain_counts,
    draft_limit_problem,
    plan,
    provider_targets,
)
from orders.rules import (
    AIRMAIL,
    DFY,
    GOOGLE,
    MICROSOFT,
    PRE_WARMED_UP,
    PROVIDER_RULES,
    check_draft,
    has_errors,
)

LIST = {
    GOOGLE: UnitCost(Decimal("5.00"), False, Decimal("15.00")),
    AIRMAIL: UnitCost(Decimal("4.00"), False, Decimal("15.00")),
    MICROSOFT: UnitCost(Decimal("20.00"), True, Decimal("15.00")),
}
SENDS = dict(DEFAULT_SENDS_PER_MAILBOX)


def _inputs(target: int, **kwargs: object) -> PlanInputs:
    return PlanInputs(target=target, sends=kwargs.pop("sends", SENDS), **kwargs)  # type: ignore[arg-type]


def _by_key(alternatives: list[Alternative]) -> dict[str, Alternative]:
    return {a.key: a for a in alternatives}


def test_google_fills_domains_to_five_and_spreads_the_rest_evenly() -> None:
    assert domain_counts(GOOGLE, 12) == (4, 4, 4)
    assert domain_counts(GOOGLE, 11) == (4, 4, 3)
    assert domain_counts(GOOGLE, 5) == (5,)
    assert domain_counts(GOOGLE, 0) == ()


def test_microsoft_never_goes_under_fifty_nor_over_a_hundred_per_domain() -> None:
    assert domain_counts(MICROSOFT, 3) == (50,)
    assert domain_counts(MICROSOFT, 100) == (100,)
    assert domain_counts(MICROSOFT, 101) == (51, 50)
    assert domain_counts(MICROSOFT, 250) == (84, 83, 83)


def test_shares_round_up_so_the_parts_reach_the_target() -> None:
    assert provider_targets(1001, {GOOGLE: 50, AIRMAIL: 50, MICROSOFT: 0}) == {
        GOOGLE: 501,
        AIRMAIL: 501,
    }


def test_all_google_for_3000_a_day_is_100_mailboxes_on_20_domains_at_list_price() -> (
    None
):
    alternatives = _by_key(plan(_inputs(3000, kinds=(DFY,)), prices=LIST, speeds={}))

    google = alternatives[f"dfy-{GOOGLE}"]
    assert (google.domains, google.mailboxes, google.sends_per_day) == (20, 100, 3000)
    assert google.per_month == Decimal("500.00")
    assert google.per_year == Decimal("300.00")
    assert google.due_now == Decimal("800.00")
    assert google.lines[0].layout == "20 × 5 mailboxes"


def test_cheapest_is_microsoft_for_a_large_target_at_list_prices() -> None:
    alternatives = plan(_inputs(10_000, kinds=(DFY,)), prices=LIST, speeds={})

    chosen = alternatives[0]
    assert (chosen.key, chosen.mix_label) == ("dfy-cheapest", "Cheapest: All Microsoft")
    assert chosen.lines[0].counts == (84, 84, 83, 83)
    assert (chosen.per_month, chosen.per_year) == (Decimal("80.00"), Decimal("60.00"))
    yearly = chosen.per_month * 12 + chosen.per_year
    assert all(a.per_month * 12 + a.per_year >= yearly for a in alternatives)


def test_cheapest_tops_full_microsoft_domains_up_with_a_few_mailboxes() -> None:
    # 102 mailboxes: a second Microsoft domain ($20 a month) costs more than two AirMail
    # mailboxes ($8).
    chosen = plan(_inputs(3_060, kinds=(DFY,)), prices=LIST, speeds={})[0]

    assert chosen.mix_label == "Cheapest: Microsoft + AirMail"
    assert [(line.provider, line.counts) for line in chosen.lines] == [
        (MICROSOFT, (100,)),
        (AIRMAIL, (2,)),
    ]
    assert (chosen.per_month, chosen.due_now) == (Decimal("28.00"), Decimal("58.00"))


def test_budget_fit_is_judged_on_the_monthly_cost() -> None:
    inputs = _inputs(3000, kinds=(DFY,), mix=SHARES, shares={GOOGLE: 100})
    over = plan(
        PlanInputs(**{**inputs.__dict__, "budget": Decimal("499.99")}),
        prices=LIST,
        speeds={},
    )[0]
    fits = plan(
        PlanInputs(**{**inputs.__dict__, "budget": Decimal("500")}),
        prices=LIST,
        speeds={},
    )[0]
    none = plan(inputs, prices=LIST, speeds={})[0]

    assert (over.fits_budget, over.over_budget) == (False, Decimal("0.01"))
    assert fits.fits_budget is True
    assert (none.fits_budget, none.over_budget) == (None, Decimal("0.00"))


def test_own_shares_split_the_target_between_providers() -> None:
    chosen = plan(
        _inputs(
            600,
            kinds=(DFY,),
            mix=SHARES,
            shares={GOOGLE: 50, AIRMAIL: 50, MICROSOFT: 0},
        ),
        prices=LIST,
        speeds={},
    )[0]

    assert chosen.mix_label == "Google 50% / AirMail 50%"
    assert [(line.provider, line.mailboxes) for line in chosen.lines] == [
        (GOOGLE, 10),
        (AIRMAIL, 10),
    ]


def test_fastest_takes_the_provider_with_the_shortest_median_and_says_no_history() -> (
    None
):
    speeds = {
        AIRMAIL: Speed(timedelta(hours=2), 12, "2 h 0 min"),
        GOOGLE: Speed(timedelta(hours=30), 40, "1 d 6 h"),
    }
    chosen = plan(_inputs(300, kinds=(DFY,), mix=FASTEST), prices=LIST, speeds=speeds)[
        0
    ]
    blind = plan(_inputs(300, kinds=(DFY,), mix=FASTEST), prices=LIST, speeds={})[0]

    assert chosen.mix_label == "Fastest to ready (AirMail)"
    assert [r.text for r in chosen.ready] == [
        "AirMail: 2 h 0 min (median of 12 orders)"
    ]
    assert chosen.slowest is not None
    assert chosen.slowest.provider == AIRMAIL
    assert blind.mix_label.startswith("Cheapest (no history yet to rank by speed)")
    assert all(r.text.endswith("no history yet") for r in blind.ready)
    assert blind.slowest is None


def test_prewarmed_takes_stock_cheapest_per_send_and_says_when_it_runs_out() -> None:
    stock = [
        StockOffer("warm-a.com", GOOGLE, 3, Decimal("30.00"), Decimal("15.00")),
        StockOffer("warm-b.com", GOOGLE, 4, Decimal("40.00"), Decimal("15.00")),
        StockOffer("warm-c.org", AIRMAIL, 2, Decimal("20.00"), Decimal("15.00")),
    ]
    enough = plan(
        _inputs(150, kinds=(PRE_WARMED_UP,)), prices=LIST, speeds={}, stock=stock
    )[0]
    short = plan(
        _inputs(1000, kinds=(PRE_WARMED_UP,)), prices=LIST, speeds={}, stock=stock
    )[0]
    empty = plan(_inputs(10, kinds=(PRE_WARMED_UP,)), prices=LIST, speeds={})[0]

    assert enough.lines[0].domains == ("warm-a.com", "warm-b.com")
    assert (enough.sends_per_day, enough.due_now) == (210, Decimal("100.00"))
    assert short.sends_per_day == 270
    assert short.notes == (
        "The pre-warmed stock covers only 270 of the 1,000 sends a day.",
    )
    assert not empty.lines
    assert empty.notes == ("No pre-warmed stock fits this mix right now.",)


def test_a_plan_too_big_for_one_draft_says_so() -> None:
    big = plan(
        _inputs(100_000, kinds=(DFY,), mix=SHARES, shares={GOOGLE: 100}),
        prices=LIST,
        speeds={},
    )[0]

    assert draft_limit_problem(big, 200, 1000) == (
        "667 domains: a draft holds at most 200; split the target over several orders."
    )
    assert draft_limit_problem(big, 1000, 1000).startswith("3,334 mailboxes")
    assert draft_limit_problem(big, 1000, 5000) == ""


targets = st.integers(min_value=1, max_value=20_000)
per_mailbox = st.integers(min_value=1, max_value=200)
share_sets = st.lists(st.integers(0, 100), min_size=3, max_size=3).filter(
    lambda s: sum(s) > 0
)


@st.composite
def plan_inputs(draw: st.DrawFn) -> PlanInputs:
    mix = draw(st.sampled_from([CHEAPEST, FASTEST, SHARES]))
    raw = draw(share_sets)
    # Scale to 100 exactly, the rest on the first provider with a share.
    total = sum(raw)
    shares = [r * 100 // total for r in raw]
    shares[next(i for i, r in enumerate(raw) if r)] += 100 - sum(shares)
    return PlanInputs(
        target=draw(targets),
        sends={p: draw(per_mailbox) for p in PROVIDER_RULES},
        mix=mix,
        shares=dict(zip(PROVIDER_RULES, shares, strict=True)),
        kinds=(DFY,),
        budget=draw(st.none() | st.decimals(0, 10_000, places=2)),
    )


@settings(max_examples=300, deadline=None)
@given(plan_inputs())
def test_every_proposed_plan_is_valid_under_instantlys_rules_and_meets_the_target(
    inputs: PlanInputs,
) -> None:
    for alternative in plan(inputs, prices=LIST, speeds={}):
        items = alternative.draft_items()
        findings = check_draft(alternative.kind, items)

        assert not has_errors(findings), [f.message for f in findings if f.is_error]
        assert alternative.sends_per_day >= inputs.target
        assert alternative.due_now == alternative.per_month + alternative.per_year
        for line in alternative.lines:
            rule = PROVIDER_RULES[line.provider]
            assert all(
                rule.min_mailboxes <= c <= rule.max_mailboxes for c in line.counts
            )


def test_prewarmed_own_shares_stop_taking_stock_once_each_share_is_met() -> None:
    stock = [
        StockOffer(f"warm-{n}.com", GOOGLE, 3, Decimal("30.00"), Decimal("15.00"))
        for n in range(4)
    ]
    chosen = plan(
        _inputs(
            100,
            kinds=(PRE_WARMED_UP,),
            mix=SHARES,
            shares={GOOGLE: 100, AIRMAIL: 0, MICROSOFT: 0},
        ),
        prices=LIST,
        speeds={},
        stock=stock,
    )[0]

    assert chosen.lines[0].domains == ("warm-0.com", "warm-1.com")
    assert chosen.sends_per_day == 180
