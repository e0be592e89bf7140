"""The planner page (orders/planner_views.py): live alternatives, bad input named, workspace
scoping, "Create draft", and the property that its price is the sandbox's quote of the draft."""

from __future__ import annotations

import itertools
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.cache import cache
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orders import builder_quote, plan_sources
from orders.capacity_plan import CHEAPEST, SHARES, PlanInputs
from orders.models import Order, PlacedShare, Quote
from orders.rules import AIRMAIL, DFY, GOOGLE, MICROSOFT, PRE_WARMED_UP, PROVIDER_RULES
from sandbox.models import PreWarmedDomain
from sandbox.switches import switches_set
from tests.factories import OrderFactory

pytestmark = pytest.mark.django_db

HX = {"HX-Request": "true"}


def _url(workspace: Any, name: str = "orders:planner") -> str:
    return reverse(name, args=[workspace.slug])


def _form(**changes: Any) -> dict[str, str]:
    data = {
        "target": "3000",
        "mix": "cheapest",
        "kind": "both",
        "budget": "",
        "seeds": "acme",
        "sends_1": "30",
        "sends_2": "30",
        "sends_3": "30",
        "share_1": "100",
        "share_2": "0",
        "share_3": "0",
    }
    return data | {k: str(v) for k, v in changes.items()}


def _stock() -> None:
    PreWarmedDomain.objects.bulk_create(
        [
            PreWarmedDomain(
                domain="warmleads.com", account_type=GOOGLE, mailbox_count=3
            ),
            PreWarmedDomain(domain="warmsend.co", account_type=GOOGLE, mailbox_count=4),
            PreWarmedDomain(
                domain="warmreach.org", account_type=AIRMAIL, mailbox_count=2
            ),
        ]
    )


def test_the_page_shows_alternatives_for_the_default_inputs(
    operator_client, workspace, remote
):
    response = operator_client.get(_url(workspace))

    html = response.content.decode()
    assert response.status_code == 200
    assert '<a href="/w/acme/plan/">Plan</a>' in html
    assert 'id="alt-dfy-cheapest"' in html
    assert "Prices: Instantly&#x27;s simulation." in html
    assert "Pre-warmed stock now: 0 domains." in html
    assert "No pre-warmed stock fits this mix right now." in html
    # 3,000 a day at 30 per mailbox: 100 mailboxes; all Google is $500 a month.
    assert 'id="alt-dfy-1"' in html
    assert "Instantly recommends 30 a day per account" in html


def test_an_htmx_request_gets_only_the_results_and_reads_prices_once(
    operator_client, workspace, remote
):
    first = operator_client.get(_url(workspace), _form(target=600), headers=HX)
    calls = remote.requests()
    second = operator_client.get(_url(workspace), _form(target=900), headers=HX)

    html = second.content.decode()
    assert first.status_code == second.status_code == 200
    assert html.lstrip().startswith('<section id="plan-results"')
    assert "<form" not in html
    assert "900" in html
    # Prices and stock come from the cache while the operator types.
    assert remote.requests() == calls


def test_bad_input_names_the_field_and_keeps_the_form(
    operator_client, workspace, remote
):
    response = operator_client.get(
        _url(workspace), _form(target="lots", sends_3="0"), headers=HX
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "Target sends per day: Enter a whole number." in html
    assert (
        "Microsoft sends per mailbox a day: Ensure this value is greater than or equal to 1."
        in html
    )
    assert 'class="plan-alt' not in html


def test_shares_that_do_not_add_up_say_so(operator_client, workspace, remote):
    response = operator_client.get(
        _url(workspace), _form(mix="shares", share_1="60", share_2="30"), headers=HX
    )

    assert (
        "Provider shares: they must add up to 100% (now 90%)."
        in response.content.decode()
    )


def test_full_page_with_bad_input_keeps_what_was_typed(
    operator_client, workspace, remote
):
    response = operator_client.get(_url(workspace), _form(target="-5", seeds="brandx"))

    html = response.content.decode()
    assert 'value="-5"' in html
    assert 'value="brandx"' in html
    assert (
        "Target sends per day: Ensure this value is greater than or equal to 1." in html
    )


def test_time_to_ready_comes_from_this_workspaces_history_only(
    operator_client, workspace, other_workspace, remote
):
    from django.utils import timezone

    now = timezone.now()
    for ws, hours in ((workspace, 5), (workspace, 7), (other_workspace, 1)):
        order = OrderFactory.create(workspace=ws)
        PlacedShare.objects.create(
            workspace=ws,
            order=order,
            provider=GOOGLE,
            placed_at=now,
            took=timedelta(hours=hours),
        )

    html = operator_client.get(
        _url(workspace), _form(mix="fastest"), headers=HX
    ).content.decode()

    assert "Google: 6 h 0 min (median of 2 orders)" in html
    assert "Fastest to ready (Google)" in html
    assert "Microsoft: no history yet" in html


def test_another_workspace_is_not_found(operator_client, other_workspace):
    assert operator_client.get(_url(other_workspace)).status_code == 404
    assert (
        operator_client.post(
            _url(other_workspace, "orders:planner_create"), _form()
        ).status_code
        == 404
    )


def test_without_a_key_prices_fall_back_to_the_list_and_say_so(
    operator_client, workspace
):
    html = operator_client.get(_url(workspace), _form(), headers=HX).content.decode()

    assert (
        "Prices: list price (Instantly could not be asked; the quote will confirm)."
        in html
    )
    assert "Pre-warmed stock could not be read:" in html


def test_create_draft_names_mailboxes_and_redirects_to_the_builder(
    operator_client, workspace, remote
):
    response = operator_client.post(
        _url(workspace, "orders:planner_create"),
        _form(target=300, mix="shares", alternative="dfy-shares"),
    )

    order = Order.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "orders:build", args=[workspace.slug, order.pk]
    )
    items = list(order.items.prefetch_related("mailboxes"))
    assert [(i.provider, i.mailboxes.count()) for i in items] == [(GOOGLE, 5)] * 2
    assert all(i.domain.endswith((".com", ".org")) for i in items)
    assert order.title == "Plan: 300 sends a day (Done-for-you, Google 100%)"


def test_create_draft_over_htmx_answers_with_a_client_redirect(
    operator_client, workspace, remote
):
    response = operator_client.post(
        _url(workspace, "orders:planner_create"),
        _form(target=30, alternative="dfy-cheapest"),
        headers=HX,
    )

    assert response.status_code == 200
    assert response["HX-Redirect"].endswith("/build/")


def test_create_draft_needs_a_seed_and_a_plan_still_offered(
    operator_client, workspace, remote
):
    no_seed = operator_client.post(
        _url(workspace, "orders:planner_create"),
        _form(seeds="", alternative="dfy-cheapest"),
    )
    gone = operator_client.post(
        _url(workspace, "orders:planner_create"), _form(alternative="dfy-nothing")
    )
    update = operator_client.post(
        _url(workspace, "orders:planner_create"), _form(target=60)
    )

    assert "Brand or seed names: enter at least one name" in no_seed.content.decode()
    assert "That plan is no longer offered" in gone.content.decode()
    assert 'id="alt-dfy-cheapest"' in update.content.decode()
    assert not Order.objects.exists()


def test_a_plan_too_big_for_one_draft_offers_no_create_button(
    operator_client, workspace, remote
):
    response = operator_client.post(
        _url(workspace, "orders:planner_create"),
        _form(target=100_000, mix="shares", alternative="dfy-shares"),
    )

    html = response.content.decode()
    assert "667 domains: a draft holds at most 200" in html
    assert not Order.objects.exists()


def test_create_prewarmed_draft_takes_the_priced_stock_domains(
    operator_client, workspace, remote
):
    _stock()

    response = operator_client.post(
        _url(workspace, "orders:planner_create"),
        _form(target=150, kind="pre_warmed_up", alternative="pre_warmed_up-cheapest"),
    )

    order = Order.objects.get()
    assert response.status_code == 302
    assert order.order_type == PRE_WARMED_UP
    assert sorted(order.items.values_list("domain", flat=True)) == [
        "warmleads.com",
        "warmsend.co",
    ]


# --- The planner's price is the sandbox's quote of the draft it creates -------------------

seeds = itertools.count()


def _quote_of(order: Order) -> Quote:
    view = builder_quote.quote_now(order)
    assert view.quote is not None, view.problem
    return view.quote


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    target=st.integers(min_value=1, max_value=1_500),
    sends=st.lists(st.integers(min_value=10, max_value=60), min_size=3, max_size=3),
    mix=st.sampled_from([CHEAPEST, SHARES]),
    shares=st.sampled_from(
        [
            {GOOGLE: 100},
            {AIRMAIL: 100},
            {MICROSOFT: 100},
            {GOOGLE: 50, AIRMAIL: 50},
            {GOOGLE: 40, MICROSOFT: 60},
        ]
    ),
    prices=st.tuples(
        st.sampled_from(["5", "4.5", "6.25"]),
        st.sampled_from(["5", "3.99"]),
        st.sampled_from(["20", "17.5"]),
        st.sampled_from(["15", "12.34"]),
    ),
)
def test_every_plan_is_priced_as_the_sandbox_quotes_its_draft(
    operator, workspace, remote, target, sends, mix, shares, prices
):
    google, airmail, microsoft, domain = prices
    switches_set(
        workspace=remote.sandbox,
        google_price_per_month=Decimal(google),
        airmail_price_per_month=Decimal(airmail),
        microsoft_price_per_domain_per_month=Decimal(microsoft),
        domain_price_per_year=Decimal(domain),
    )
    cache.delete(plan_sources._key("prices", workspace))
    inputs = PlanInputs(
        target=target,
        sends=dict(zip(PROVIDER_RULES, sends, strict=True)),
        mix=mix,
        shares=shares,
        kinds=(DFY,),
    )
    view = plan_sources.plan_for(workspace=workspace, inputs=inputs)
    assert view.prices.exact
    from orders.plan_drafts import plan_draft_create

    for row in view.rows[:2]:
        alternative = row.alternative
        made = plan_draft_create(
            workspace=workspace,
            by=operator,
            alternative=alternative,
            seeds=[f"plancheck{next(seeds)}"],
            title="",
        )
        assert made.order.items.count() == alternative.domains, made.problems
        quote = _quote_of(made.order)

        assert quote.is_valid, quote.order_error
        assert (quote.due_now, quote.per_month, quote.per_year) == (
            alternative.due_now,
            alternative.per_month,
            alternative.per_year,
        )


def test_a_prewarmed_plan_is_priced_as_the_sandbox_quotes_its_draft(
    operator, workspace, remote
):
    _stock()
    switches_set(workspace=remote.sandbox, prewarmed_price_per_month=Decimal("9.50"))
    inputs = PlanInputs(
        target=200, sends=dict.fromkeys(PROVIDER_RULES, 30), kinds=(PRE_WARMED_UP,)
    )
    from orders.plan_drafts import plan_draft_create

    alternative = plan_sources.plan_for(
        workspace=workspace, inputs=inputs
    ).alternatives[0]
    made = plan_draft_create(
        workspace=workspace, by=operator, alternative=alternative, seeds=[], title=""
    )
    quote = _quote_of(made.order)

    # Google first (cheapest per send): 3 + 4 mailboxes at 30 a day.
    assert alternative.sends_per_day == 210
    assert (quote.due_now, quote.per_month) == (
        alternative.due_now,
        alternative.per_month,
    )
    assert quote.per_month == Decimal("66.50")


def test_mailboxes_come_from_the_persona_library_without_a_note_when_it_fills(
    workspace,
):
    from orders.models import Persona
    from orders.plan_drafts import plan_mailboxes

    Persona.objects.bulk_create(
        [
            Persona(workspace=workspace, first_name="Ada", last_name="Lovelace"),
            Persona(workspace=workspace, first_name="Alan", last_name="Turing"),
        ]
    )

    full, full_problems = plan_mailboxes(workspace=workspace, counts=[2, 1])
    short, short_problems = plan_mailboxes(workspace=workspace, counts=[3, 3])

    assert [[m.first_name for m in rows] for rows in full] == [["Ada", "Alan"], ["Ada"]]
    assert full_problems == []
    assert [len(rows) for rows in short] == [3, 3]
    assert len(short_problems) == 1
    assert short_problems[0].startswith(
        "The persona library could not name every mailbox"
    )
    assert short_problems[0].endswith("(1 more like it.)")


def test_a_cache_outage_only_costs_remote_calls(workspace, remote, monkeypatch):
    from redis.exceptions import RedisError

    def down(*args: object, **kwargs: object) -> None:
        raise RedisError("down")

    monkeypatch.setattr(cache, "get", down)
    monkeypatch.setattr(cache, "set", down)

    sheet = plan_sources.planner_prices(workspace=workspace)

    assert sheet.exact
    assert sheet.prices[GOOGLE].monthly == Decimal("5.00")


def test_an_answer_without_every_provider_falls_back_to_list_prices(
    workspace, remote, monkeypatch
):
    monkeypatch.setattr(
        plan_sources,
        "_probe_payload",
        lambda: {
            "order_type": "dfy",
            "items": [
                {"domain": "planner-price-1.com", "email_provider": 1, "accounts": []}
            ],
        },
    )

    sheet = plan_sources.planner_prices(workspace=workspace)

    assert not sheet.exact
    assert sheet.source == "list price"
