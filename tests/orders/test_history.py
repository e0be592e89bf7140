"""The order history page: filters, search, sort, pages, htmx and fixed query counts."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from orders.history import HistoryFilters, orders_filter, workspace_people
from orders.models import Order
from tests.factories import MembershipFactory, UserFactory
from tests.orders.history_data import aware, make_order

pytestmark = pytest.mark.django_db

GOOGLE, AIRMAIL, MICROSOFT = 1, 2, 3


def url(workspace, **params):
    from urllib.parse import urlencode

    base = reverse("orders:list", args=[workspace.slug])
    return f"{base}?{urlencode(params, doseq=True)}" if params else base


def listed(response) -> list[int]:
    """Order ids in the history table, in page order."""
    return [
        int(pk) for pk in re.findall(r'<tr id="order-(\d+)"', response.content.decode())
    ]


@pytest.fixture
def people(workspace, operator, lead):
    return {"olivia": operator, "leo": lead}


@pytest.fixture
def orders(workspace, operator, lead):
    """A small history with one distinguishing feature per order."""
    return {
        "google_ready": make_order(
            workspace,
            operator,
            status="ready",
            title="Google ready",
            items=[("brightleads.com", GOOGLE, ["anna", "ben"])],
            approver=lead,
            due_now="25.00",
            per_month="10.00",
            created_at=aware(2026, 3, 10),
        ),
        "ms_failed": make_order(
            workspace,
            operator,
            status="failed",
            title="Microsoft refused",
            items=[("northreach.com", MICROSOFT, ["carla"])],
            approver=lead,
            due_now="35.00",
            per_month="20.00",
            created_at=aware(2026, 4, 2),
        ),
        "mixed_failed": make_order(
            workspace,
            lead,
            status="failed",
            title="Mixed refused",
            items=[
                ("mixone.com", GOOGLE, ["dora"]),
                ("mixtwo.org", MICROSOFT, ["emil"]),
            ],
            due_now="60.00",
            created_at=aware(2026, 4, 20),
        ),
        "airmail_draft": make_order(
            workspace,
            lead,
            status="draft",
            order_type="extra_accounts",
            title="AirMail draft",
            items=[("swiftmail.com", AIRMAIL, ["jane.doe"])],
            created_at=aware(2026, 5, 1),
        ),
    }


def test_history_lists_every_order_of_the_workspace_and_no_other(
    operator_client, workspace, other_workspace, orders
):
    stranger = UserFactory(username="stranger")
    theirs = make_order(
        other_workspace, stranger, items=[("brightleads.com", GOOGLE, ["anna"])]
    )

    response = operator_client.get(url(workspace))

    assert response.status_code == 200
    assert "<html" in response.content.decode()
    assert set(listed(response)) == {o.pk for o in orders.values()}
    assert theirs.pk not in listed(response)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "failed"}, {"ms_failed", "mixed_failed"}),
        ({"type": "extra_accounts"}, {"airmail_draft"}),
        ({"provider": MICROSOFT}, {"ms_failed", "mixed_failed"}),
        ({"provider": GOOGLE}, {"google_ready", "mixed_failed"}),
        ({"status": "failed", "provider": GOOGLE}, {"mixed_failed"}),
        ({"requester": "leo"}, {"mixed_failed", "airmail_draft"}),
        ({"approver": "leo"}, {"google_ready", "ms_failed"}),
        ({"approver": "leo", "provider": MICROSOFT}, {"ms_failed"}),
        (
            {"created_from": "2026-04-02"},
            {"ms_failed", "mixed_failed", "airmail_draft"},
        ),
        ({"created_to": "2026-04-02"}, {"google_ready", "ms_failed"}),
        (
            {"created_from": "2026-04-01", "created_to": "2026-04-30"},
            {"ms_failed", "mixed_failed"},
        ),
        ({"q": "north"}, {"ms_failed"}),
        ({"q": "MIX"}, {"mixed_failed"}),
        ({"q": "jane.doe@swiftmail.com"}, {"airmail_draft"}),
        ({"q": "JANE.DOE@SWIFTMAIL.COM"}, {"airmail_draft"}),
        ({"q": "jane.doe@"}, {"airmail_draft"}),
        ({"q": "@bright"}, {"google_ready"}),
        ({"q": "anna@brightleads.com"}, {"google_ready"}),
        ({"q": "anna@northreach.com"}, set()),
        ({"q": "carla"}, set()),
        ({"q": "carla@"}, {"ms_failed"}),
        (
            {"q": "o", "status": "failed", "provider": MICROSOFT},
            {"ms_failed", "mixed_failed"},
        ),
        ({"q": "nothing-like-this"}, set()),
    ],
)
def test_filters_and_search_combine(
    operator_client, workspace, orders, people, params, expected
):
    for key in ("requester", "approver"):
        if key in params:
            params = {**params, key: people[params[key]].pk}

    response = operator_client.get(url(workspace, **params))

    assert response.status_code == 200
    assert set(listed(response)) == {orders[name].pk for name in expected}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "bogus"}, "Status"),
        ({"type": "everything"}, "Order type"),
        ({"provider": "9"}, "Provider"),
        ({"provider": "google"}, "Provider"),
        ({"requester": "abc"}, "Requested by"),
        ({"approver": "999999"}, "Approved by"),
        ({"created_from": "2026-13-45"}, "Created from"),
        ({"created_from": "2026-05-01", "created_to": "2026-01-01"}, "Created to"),
        ({"sort": "password"}, "Sort"),
        ({"per_page": "7"}, "Per page"),
        ({"q": "x" * 201}, "Search"),
    ],
)
def test_invalid_filter_is_named_and_ignored_never_a_500(
    operator_client, workspace, orders, params, field
):
    response = operator_client.get(url(workspace, **params))

    html = response.content.decode()
    assert response.status_code == 200
    assert "Some filters were not applied" in html
    assert f"<li>{field}: " in html
    assert len(listed(response)) >= 1


def test_invalid_filter_keeps_the_valid_ones(operator_client, workspace, orders):
    response = operator_client.get(url(workspace, status="failed", provider="nine"))

    assert set(listed(response)) == {orders["ms_failed"].pk, orders["mixed_failed"].pk}


def test_sort_by_due_now_puts_unpriced_orders_last_both_ways(
    operator_client, workspace, orders
):
    ascending = listed(operator_client.get(url(workspace, sort="due_now")))
    descending = listed(operator_client.get(url(workspace, sort="-due_now")))

    names = {o.pk: name for name, o in orders.items()}
    assert [names[pk] for pk in ascending] == [
        "google_ready",
        "ms_failed",
        "mixed_failed",
        "airmail_draft",
    ]
    assert [names[pk] for pk in descending] == [
        "mixed_failed",
        "ms_failed",
        "google_ready",
        "airmail_draft",
    ]


def test_default_sort_is_newest_first_and_headers_link_the_next_sort(
    operator_client, workspace, orders
):
    response = operator_client.get(url(workspace))

    html = response.content.decode()
    assert listed(response) == [
        o.pk for o in sorted(orders.values(), key=lambda o: o.created_at, reverse=True)
    ]
    assert 'aria-sort="descending"' in html
    assert 'href="?sort=created"' in html
    assert 'href="?sort=-due_now"' in html


def test_pages_keep_filters_in_their_links(operator_client, workspace, operator):
    for n in range(30):
        make_order(
            workspace, operator, status="ready", items=[(f"d{n}.com", GOOGLE, ["a"])]
        )

    first = operator_client.get(url(workspace, status="ready", per_page=25))
    second = operator_client.get(url(workspace, status="ready", per_page=25, page=2))
    beyond = operator_client.get(url(workspace, status="ready", per_page=25, page=99))
    garbage = operator_client.get(
        url(workspace, status="ready", per_page=25, page="abc")
    )

    assert len(listed(first)) == 25
    assert len(listed(second)) == 5
    assert listed(beyond) == listed(second)
    assert listed(garbage) == listed(first)
    assert "?status=ready&amp;per_page=25&amp;page=2" in first.content.decode()
    assert "Page 2 of 2" in second.content.decode()


def test_htmx_request_gets_only_the_results_and_a_clean_url(
    operator_client, workspace, orders
):
    response = operator_client.get(
        url(workspace, q="", status="failed", type="", provider="", sort="-created"),
        headers={"HX-Request": "true"},
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert html.lstrip().startswith('<section id="history-results"')
    assert response["HX-Push-Url"] == f"{url(workspace)}?status=failed&sort=-created"
    assert set(listed(response)) == {orders["ms_failed"].pk, orders["mixed_failed"].pk}


def test_history_restore_request_gets_the_whole_page(
    operator_client, workspace, orders
):
    response = operator_client.get(
        url(workspace, status="failed"),
        headers={"HX-Request": "true", "HX-History-Restore-Request": "true"},
    )

    assert "<html" in response.content.decode()


def test_filter_form_is_a_plain_get_form_that_htmx_enhances(
    operator_client, workspace, orders
):
    html = operator_client.get(url(workspace, status="failed")).content.decode()

    assert re.search(r'<form id="history-filters"[^>]*method="get"', html)
    assert 'hx-push-url="true"' in html
    assert '<option value="failed" selected>' in html
    assert 'name="sort" value="-created" form="history-filters"' in html


def test_every_role_sees_the_history(client, workspace, orders):
    for role in ("operator", "lead", "admin"):
        member = MembershipFactory(workspace=workspace, role=role).user
        client.force_login(member)

        assert client.get(url(workspace)).status_code == 200


def test_money_is_shown_to_the_cent(operator_client, workspace, operator, lead):
    make_order(workspace, operator, approver=lead, due_now="1234.50", per_month="0.10")

    html = operator_client.get(url(workspace)).content.decode()

    assert "$1,234.50" in html
    assert "$0.10" in html


def test_an_order_with_burned_domains_says_how_many_in_its_status(
    operator_client, workspace, operator, lead
):
    from orders.models import DomainBurn

    burned = make_order(
        workspace,
        operator,
        approver=lead,
        title="Burned twice",
        items=[
            ("one.com", GOOGLE, ["a", "b"]),
            ("two.com", GOOGLE, ["c", "d"]),
            ("three.com", GOOGLE, ["e"]),
        ],
    )
    make_order(workspace, operator, approver=lead, title="Healthy")
    for item in burned.items.filter(domain__in=["one.com", "two.com"]):
        DomainBurn.objects.create(
            workspace=workspace, item=item, reason="blacklisted", marked_by=lead
        )

    html = operator_client.get(url(workspace)).content.decode()
    rows = dict(re.findall(r'id="order-(\d+)"(.*?)</tr>', html, re.S))

    assert '<span class="badge burned-badge">2 burned</span>' in rows[str(burned.pk)]
    assert html.count("burned-badge") == 1
    # Its mailboxes are counted once each, not once per burn.
    assert ">5<" in rows[str(burned.pk)]


@pytest.mark.parametrize(
    "extra", [{}, {"status": "ready", "provider": GOOGLE, "q": "dom"}]
)
def test_query_count_does_not_grow_with_the_page_size(
    operator_client, workspace, operator, lead, django_assert_num_queries, extra
):
    for n in range(120):
        make_order(
            workspace,
            operator,
            approver=lead,
            status="ready",
            due_now="15.00",
            items=[
                (f"dom{n}.com", GOOGLE, ["a", "b"]),
                (f"dom{n}.org", MICROSOFT, ["c"]),
            ],
        )
    operator_client.get(url(workspace))  # the session learns the workspace once

    # membership with the user (orders/access_prefetch.py), people, count, page, page items,
    # nav memberships (the session comes from the cache)
    with django_assert_num_queries(6):
        small = operator_client.get(url(workspace, per_page=25, **extra))
    with django_assert_num_queries(6):
        large = operator_client.get(url(workspace, per_page=200, **extra))

    assert len(listed(small)) == 25
    assert len(listed(large)) == 120


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"sort": "-due_now", "q": "dom"},
        {"sort": "requester", "provider": GOOGLE, "status": "ready"},
    ],
)
def test_later_pages_continue_the_same_sort_in_as_many_queries(
    operator_client, workspace, operator, lead, django_assert_num_queries, params
):
    # Ties everywhere (same days, prices and people), so the id must break them the same
    # way on the first page, read directly, and on the later ones, read ids first.
    for n in range(60):
        make_order(
            workspace,
            operator if n % 2 else lead,
            approver=lead,
            status="ready" if n % 5 else "failed",
            due_now=f"{n % 4}.00" if n % 7 else None,
            items=[(f"dom{n}.com", GOOGLE if n % 3 else MICROSOFT, ["a"])],
            created_at=aware(2026, 3, 1 + n % 3),
        )
    operator_client.get(url(workspace))  # the session learns the workspace once
    everything = listed(operator_client.get(url(workspace, per_page=200, **params)))

    pages = []
    for page in range(1, (len(everything) + 24) // 25 + 1):
        with django_assert_num_queries(6):
            response = operator_client.get(
                url(workspace, per_page=25, page=page, **params)
            )
        pages += listed(response)

    assert len(everything) > 25
    assert pages == everything


def test_people_are_members_and_whoever_requested_or_approved_here(
    workspace, other_workspace, operator, lead
):
    former_requester = UserFactory(username="fiona")
    former_approver = UserFactory(username="gus")
    stranger = UserFactory(username="stan")
    UserFactory(username="nobody")
    make_order(workspace, former_requester, approver=former_approver)
    make_order(other_workspace, stranger, approver=stranger)

    assert workspace_people(workspace) == [
        (user.pk, user.username)
        for user in (former_requester, former_approver, lead, operator)
    ]


def test_orders_filter_dates_are_whole_local_days(workspace, operator, settings):
    settings.TIME_ZONE = "America/New_York"
    late_evening = make_order(workspace, operator, created_at=aware(2026, 4, 2, 23))
    make_order(workspace, operator, created_at=aware(2026, 4, 3, 12))
    from datetime import date

    found = orders_filter(
        Order.objects.in_workspace(workspace),
        HistoryFilters(created_from=date(2026, 4, 2), created_to=date(2026, 4, 2)),
    )

    assert list(found) == [late_evening]


def test_money_stays_decimal_in_the_queryset(workspace, operator, lead):
    make_order(workspace, operator, approver=lead, due_now="0.10", per_month="0.20")

    order = (
        orders_filter(Order.objects.in_workspace(workspace), HistoryFilters())
        .select_related("approved_quote")
        .get()
    )

    assert order.approved_quote.due_now == Decimal("0.10")
    assert isinstance(order.approved_quote.per_month, Decimal)
