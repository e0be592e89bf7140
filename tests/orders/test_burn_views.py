"""The burn panel on the order page and its view (orders/burn_views.py): who may mark,
the workspace wall, plain and htmx posts, refusals that keep what was typed, the one-click
follow-ups; the dashboard's replacement rate; the admin's read-only page."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from orders import burn_rates, order_shapes
from orders.models import (
    DomainBurn,
    MailboxTally,
    Order,
    OrderItem,
    OrderStatus,
    OrderType,
    Provider,
)
from tests.factories import MembershipFactory
from tests.orders.history_data import aware, make_order
from tests.orders.test_burns import member

pytestmark = pytest.mark.django_db
HX = {"HX-Request": "true"}


def logged_in(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


def item(order: Order, domain: str = "acme-mail.com") -> OrderItem:
    return OrderItem.objects.get(order=order, domain=domain)


def url(order: Order, domain: str = "acme-mail.com") -> str:
    return reverse(
        "orders:domain_burn",
        args=[order.workspace.slug, order.pk, item(order, domain).pk],
    )


def marked(**data: str) -> dict[str, str]:
    return {"action": "mark", "reason": "blacklisted", "note": "", **data}


# --- the order page -----------------------------------------------------------------------


def test_each_delivered_domain_offers_mark_burned(ready, operator_client):
    html = operator_client.get(ready.get_absolute_url()).content.decode()

    for domain in ("acme-mail.com", "tryacme.org"):
        assert f'id="burn-{item(ready, domain).pk}"' in html
        assert f"Mark {domain} burned" in html
    assert f'action="{url(ready)}"' in html
    assert f'id="burn-{item(ready).pk}-reason"' in html


def test_an_order_not_delivered_offers_nothing(cancellable, operator_client):
    html = operator_client.get(cancellable.get_absolute_url()).content.decode()

    assert cancellable.status == OrderStatus.PLACED
    assert "Mark burned" not in html
    assert "burn-panel" not in html


def test_a_plain_post_marks_and_goes_back_to_the_order_saying_what_happened(
    ready, operator_client
):
    response = operator_client.post(url(ready), marked(note="Listed on Spamhaus"))

    burn = DomainBurn.objects.select_related("replacement", "schedule").get()
    assert response.status_code == 302
    assert response["Location"] == f"{ready.get_absolute_url()}#burn-{burn.item_id}"
    page = operator_client.get(response["Location"]).content.decode()
    assert burn.replacement is not None
    assert burn.schedule is not None
    assert "acme-mail.com is marked burned (Blacklisted)." in page
    assert "Burned</span> Blacklisted" in page
    assert "by olivia on" in page
    assert "Listed on Spamhaus" in page
    replacement_url = reverse("orders:detail", args=["acme", burn.replacement.pk])
    assert f'href="{replacement_url}"' in page
    renewals = reverse("orders:renewals", args=["acme"])
    assert f'href="{renewals}#schedule-{burn.schedule.pk}"' in page
    assert "waits for a lead&#x27;s approval" in page
    # The other domain is still offered.
    assert "Mark tryacme.org burned" in page


def test_an_htmx_post_swaps_the_panel_and_the_timeline(ready, client, lead):
    response = logged_in(client, lead).post(url(ready), marked(), headers=HX)

    html = response.content.decode()
    burn = DomainBurn.objects.get()
    assert response.status_code == 200
    assert html.strip().startswith(
        f'<div class="burn-panel burned" id="burn-{burn.item_id}">'
    )
    assert "acme-mail.com is marked burned (Blacklisted)." in html
    assert 'id="timeline" hx-swap-oob="true"' in html
    assert "Domain marked burned" in html
    assert "Replacement drafted for a burned domain" in html


def test_a_refused_plain_post_keeps_what_was_typed(ready, operator_client):
    response = operator_client.post(
        url(ready), marked(reason="", note="Bounces since Monday")
    )

    html = response.content.decode()
    assert response.status_code == 400
    assert "Reason: choose why the domain is burned." in html
    assert 'value="Bounces since Monday"' in html
    assert '<details class="burn-mark" open>' in html
    assert not DomainBurn.objects.exists()


def test_a_refused_htmx_post_keeps_what_was_typed(ready, operator_client):
    response = operator_client.post(url(ready), marked(note="x" * 501), headers=HX)

    html = response.content.decode()
    assert response.status_code == 200
    assert "Note: at most 500 characters." in html
    assert 'value="' + "x" * 501 + '"' in html
    assert not DomainBurn.objects.exists()


def test_marking_again_says_it_is_burned_already(ready, operator_client, lead):
    operator_client.post(url(ready), marked())

    response = operator_client.post(url(ready), marked(reason="suspended"))

    assert response.status_code == 400
    html = response.content.decode()
    assert "acme-mail.com is already marked burned." in html
    assert DomainBurn.objects.get().reason == "blacklisted"


def test_an_unknown_action_says_what_to_do(ready, operator_client):
    response = operator_client.post(url(ready), {"action": "explode"}, headers=HX)

    assert "Choose what to do: mark the domain burned" in response.content.decode()


def test_the_page_without_javascript(ready, operator_client, cancellable):
    html = operator_client.get(url(ready)).content.decode()

    assert "<h1>acme-mail.com" in html
    assert "Mark acme-mail.com burned" in html


def test_a_domain_that_cannot_be_marked_says_so_on_its_page(
    cancellable, operator_client
):
    html = operator_client.get(url(cancellable)).content.decode()

    assert "Only a domain of a ready or partly cancelled order" in html


def test_the_follow_ups_are_one_click(ready, operator_client, monkeypatch):
    monkeypatch.setattr(
        order_shapes,
        "draft_from_shape",
        lambda **kwargs: (_ for _ in ()).throw(RuntimeError("down")),
    )
    operator_client.post(url(ready), marked())
    monkeypatch.undo()
    page = operator_client.get(ready.get_absolute_url()).content.decode()
    assert 'value="replace">Draft the replacement</button>' in page

    response = operator_client.post(url(ready), {"action": "replace"}, headers=HX)

    burn = DomainBurn.objects.get()
    assert burn.replacement is not None
    assert f"Its replacement is drafted as order #{burn.replacement.pk}" in (
        response.content.decode()
    )
    assert 'value="replace"' not in response.content.decode()


def test_scheduling_again_through_the_view(ready, operator_client, lead, client):
    from orders import renewal_schedules

    operator_client.post(url(ready), marked())
    burn = DomainBurn.objects.select_related("schedule").get()
    assert burn.schedule is not None
    renewal_schedules.renewal_cancel_unschedule(schedule=burn.schedule, by=lead)

    response = operator_client.post(url(ready), {"action": "schedule"})

    assert response.status_code == 302
    burn.refresh_from_db()
    assert burn.schedule is not None
    assert burn.schedule.status == "awaiting_approval"


# --- who may, and the workspace wall ------------------------------------------------------


@pytest.mark.parametrize("role", ["operator", "lead", "admin"])
def test_every_member_may_mark(ready, client, workspace, role):
    user = member(workspace, role)

    response = logged_in(client, user).post(url(ready), marked())

    assert response.status_code == 302
    assert DomainBurn.objects.get().marked_by == user


def test_a_member_of_another_workspace_gets_404(ready, client, other_workspace):
    stranger = member(other_workspace, "admin")

    response = logged_in(client, stranger).post(url(ready), marked())

    assert response.status_code == 404
    assert not DomainBurn.objects.exists()


def test_a_domain_of_another_workspace_gets_404_in_this_one(
    ready, client, other_workspace, operator
):
    MembershipFactory(workspace=other_workspace, user=operator, role="admin")
    theirs = make_order(other_workspace, operator, items=[("globex.com", 1, ["ann"])])
    mine = item(ready)
    client.force_login(operator)

    for order_pk, item_pk in (
        (theirs.pk, theirs.items.get().pk),  # their order under our slug
        (ready.pk, theirs.items.get().pk),  # their domain under our order
        (theirs.pk, mine.pk),  # our domain under their order
    ):
        address = reverse("orders:domain_burn", args=["acme", order_pk, item_pk])
        assert client.post(address, marked()).status_code == 404
    assert not DomainBurn.objects.exists()


def test_anonymous_is_sent_to_log_in(ready, client):
    response = client.post(url(ready), marked())

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


# --- the dashboard ------------------------------------------------------------------------


def burned(order: Order, domain: str, by: User) -> DomainBurn:
    return DomainBurn.objects.create(
        workspace=order.workspace,
        item=OrderItem.objects.get(order=order, domain=domain),
        reason="blacklisted",
        marked_by=by,
    )


@pytest.fixture
def delivered(workspace, operator, other_workspace):  # type: ignore[no-untyped-def]
    """Google DFY: 4 domains delivered (one order partly cancelled, one cancelled after it
    was ready), 1 burned; Microsoft DFY: 1 delivered, 1 burned; AirMail pre-warmed: 2
    delivered, none burned. Not delivered: a provisioning order and a draft. Another
    workspace's burn does not count."""
    ready_at = aware(2026, 3, 4)
    google = make_order(
        workspace,
        operator,
        status="ready",
        ready_at=ready_at,
        items=[("g1.com", 1, ["a"]), ("g2.com", 1, ["a"])],
    )
    make_order(
        workspace,
        operator,
        status="partially_cancelled",
        items=[("g3.com", 1, ["a"])],
    )
    make_order(
        workspace,
        operator,
        status="cancelled",
        ready_at=ready_at,
        items=[("g4.com", 1, ["a"])],
    )
    microsoft = make_order(
        workspace,
        operator,
        status="ready",
        ready_at=ready_at,
        items=[("m1.com", 3, ["a"])],
    )
    make_order(
        workspace,
        operator,
        status="ready",
        order_type="pre_warmed_up",
        ready_at=ready_at,
        items=[("w1.com", 2, ["a"]), ("w2.com", 2, ["a"])],
    )
    make_order(workspace, operator, status="provisioning", items=[("p.com", 1, ["a"])])
    make_order(workspace, operator, status="draft", items=[("d.com", 3, ["a"])])
    burned(google, "g2.com", operator)
    burned(microsoft, "m1.com", operator)
    theirs = make_order(
        other_workspace, operator, ready_at=ready_at, items=[("o.com", 1, ["a"])]
    )
    burned(theirs, "o.com", operator)
    MailboxTally.objects.rebuild(workspace_id=workspace.pk)
    return workspace


def test_the_replacement_rate_per_provider_and_order_type(delivered):
    rates = burn_rates.replacement_rates(workspace=delivered, stamp="s1")

    assert [
        (r.provider, r.order_type, r.delivered, r.burned, r.percent) for r in rates
    ] == [
        (Provider.GOOGLE, "dfy", 4, 1, Decimal("25.0")),
        (Provider.AIRMAIL, "pre_warmed_up", 2, 0, Decimal("0.0")),
        (Provider.MICROSOFT, "dfy", 1, 1, Decimal("100.0")),
    ]


def test_the_delivered_count_is_kept_until_the_tallies_move(delivered, operator):
    burn_rates.replacement_rates(workspace=delivered, stamp="before")
    make_order(
        delivered,
        operator,
        status="ready",
        ready_at=aware(2026, 3, 5),
        items=[("g5.com", 1, ["a"])],
    )

    same = burn_rates.replacement_rates(workspace=delivered, stamp="before")
    moved = burn_rates.replacement_rates(workspace=delivered, stamp="after")

    assert same[0].delivered == 4
    assert moved[0].delivered == 5


def test_a_burn_the_kept_count_does_not_know_yet_counts_as_delivered(
    delivered, operator
):
    burn_rates.replacement_rates(workspace=delivered, stamp="before")
    extra = make_order(
        delivered,
        operator,
        order_type="extra_accounts",
        ready_at=aware(2026, 3, 5),
        items=[("e.com", 1, ["a"])],
    )
    burned(extra, "e.com", operator)

    rates = burn_rates.replacement_rates(workspace=delivered, stamp="before")

    assert (Provider.GOOGLE, "extra_accounts", 1, 1) in [
        (r.provider, r.order_type, r.delivered, r.burned) for r in rates
    ]


def test_no_burn_reads_no_delivered_count(workspace, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert burn_rates.replacement_rates(workspace=workspace, stamp="s") == []


def test_the_dashboard_shows_the_rates(delivered, operator_client):
    html = operator_client.get(
        reverse("orders:dashboard", args=[delivered.slug])
    ).content.decode()

    assert 'id="replacement-rate"' in html
    assert (
        '<tr id="rate-1-dfy"><th scope="row">Google</th><td>New domains (DFY)</td>'
        '<td class="num">4</td><td class="num">1</td><td class="num">25.0%</td></tr>'
    ) in html
    assert "No domain has been marked burned yet" not in html


def test_the_dashboard_before_any_burn(workspace, operator_client):
    html = operator_client.get(
        reverse("orders:dashboard", args=[workspace.slug])
    ).content.decode()

    assert "No domain has been marked burned yet." in html


# --- the admin ----------------------------------------------------------------------------


def test_the_admin_lists_burns_read_only(delivered, admin_client):
    listing = admin_client.get(reverse("admin:orders_domainburn_changelist"))
    burn = DomainBurn.objects.filter(workspace=delivered).first()
    assert burn is not None
    record = admin_client.get(reverse("admin:orders_domainburn_change", args=[burn.pk]))

    assert listing.status_code == 200
    assert "g2.com" in listing.content.decode()
    assert record.status_code == 200
    assert admin_client.get(reverse("admin:orders_domainburn_add")).status_code == 403
    assert 'name="_save"' not in record.content.decode()


def test_burns_cost_the_dashboard_one_query_once_their_base_is_kept(
    delivered, operator_client
):
    """With burns, the delivered count is read on the first view only; afterwards the
    dashboard reads as many queries as before the first burn (the burns' one query)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    page = reverse("orders:dashboard", args=[delivered.slug])
    operator_client.get(page)
    with CaptureQueriesContext(connection) as with_burns:
        operator_client.get(page)
    DomainBurn.objects.all().delete()
    operator_client.get(page)
    with CaptureQueriesContext(connection) as without:
        operator_client.get(page)

    assert len(with_burns) == len(without)


def test_a_withdrawn_cancellation_is_offered_again_on_the_page(
    ready, operator_client, lead
):
    from orders import renewal_schedules

    operator_client.post(url(ready), marked())
    burn = DomainBurn.objects.select_related("schedule").get()
    assert burn.schedule is not None
    page = operator_client.get(ready.get_absolute_url()).content.decode()
    assert 'value="schedule"' not in page  # open: nothing to offer
    renewal_schedules.renewal_cancel_unschedule(schedule=burn.schedule, by=lead)

    page = operator_client.get(ready.get_absolute_url()).content.decode()

    assert 'value="schedule">Cancel before the next renewal</button>' in page
    assert "Withdrawn" in page


def test_a_burn_on_an_order_cancelled_since_offers_nothing_more(
    delivered, operator_client
):
    burn = DomainBurn.objects.filter(workspace=delivered, item__domain="g2.com").get()
    burn.replacement = burn.item.order  # any order: the panel only links it
    burn.save(update_fields=["replacement"])
    Order.objects.filter(pk=burn.item.order_id).update(status=OrderStatus.CANCELLED)

    page = operator_client.get(burn.item.order.get_absolute_url()).content.decode()

    assert "Burned</span> Blacklisted" in page
    assert "not scheduled" in page
    assert (
        'name="action"'
        not in page.split(f'id="burn-{burn.item_id}"')[1].split("</div>")[0]
    )


def test_a_panel_without_a_burn_or_schedule_has_no_schedule_words(ready):
    from orders.burn_panel import panel_for

    panel = panel_for(item=item(ready), order=ready, membership=None)

    assert (panel.schedule_text, panel.may_mark, panel.may_schedule) == (
        "",
        False,
        False,
    )


def test_a_rate_of_nothing_delivered_is_zero():
    rate = burn_rates.ReplacementRate(
        provider=Provider.GOOGLE, order_type=OrderType.DFY, delivered=0, burned=0
    )

    assert rate.percent == Decimal(0)


def test_the_rate_is_read_when_the_cache_does_not_answer(delivered, monkeypatch):
    from django.core.cache import cache

    def down(*args: Any, **kwargs: Any) -> None:
        raise OSError("cache down")

    monkeypatch.setattr(cache, "get", down)
    monkeypatch.setattr(cache, "set", down)

    rates = burn_rates.replacement_rates(workspace=delivered, stamp="s")

    assert rates[0].delivered == 4


def test_the_admin_shows_the_schedule_of_a_burn(ready, lead, admin_client):
    from orders import burns

    burns.domain_burn_mark(item=item(ready), by=lead, reason="suspended")

    listing = admin_client.get(reverse("admin:orders_domainburn_changelist"))

    html = listing.content.decode()
    assert "Scheduled, " in html
    assert " renewal" in html
    assert "Suspended by the provider" in html
