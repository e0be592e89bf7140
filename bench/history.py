"""Order history, dashboard and admin order list on a big workspace: 10,000 orders and
200,000 mailboxes (plus a smaller second workspace, so scoping is real).

Server time is Django's whole request in process (middleware, session, permission checks,
queries, template rendering) through the test client, without a network in between. Each page
is requested in several realistic variants (filters, search, sort, deep pages, page sizes,
htmx partials); p50/p95 are over all of them. The query counts of the smallest and largest
page sizes are reported next to them: equal means the count does not grow with the page.

    DATABASE_URL=postgres://... DJANGO_DEBUG=true python -m bench history
"""

from __future__ import annotations

import time
from typing import Any

from bench.harness import Figure, percentile, scratch_database, size

ORDERS = size(10_000, 200)
MAILBOXES = size(200_000, 1_000)
OTHER_ORDERS = size(500, 20)
ROUNDS = size(
    12, 1
)  # requests per variant after a warm-up; 10 variants -> 120 samples per page
# Deep pages that exist at either size (25 rows per history page, 100 per admin page).
HISTORY_DEEP_PAGE = size(150, 3)
ADMIN_DEEP_PAGE = size(40, 1)
HISTORY_BUDGET_MS = 150.0


def run() -> dict[str, Figure]:
    from django.db import connection

    if connection.vendor == "postgresql":
        # Its own scratch database: other benchmarks or test runs may hold test_<name>.
        connection.settings_dict["TEST"]["NAME"] = "bench_history"
    with scratch_database():
        return _measure()


def _timed_get(client: Any, url: str, **extra: Any) -> float:
    start = time.perf_counter()
    response = client.get(url, **extra)
    elapsed = (time.perf_counter() - start) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"{url} answered {response.status_code}")
    if getattr(response, "streaming", False):
        b"".join(response.streaming_content)
    return elapsed


def _samples(client: Any, variants: list[tuple[str, dict[str, Any]]]) -> list[float]:
    samples = []
    for url, extra in variants:
        _timed_get(client, url, **extra)  # warm-up: caches, plans, first session write
        samples += [_timed_get(client, url, **extra) for _ in range(ROUNDS)]
    return samples


def _queries(client: Any, url: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        client.get(url)
    return len(captured.captured_queries)


def _figures(
    name: str,
    samples: list[float],
    budget: float | None,
    note: str,
) -> dict[str, Figure]:
    return {
        f"{name}_p50_ms": Figure(percentile(samples, 50), "ms", note=note),
        f"{name}_p95_ms": Figure(
            percentile(samples, 95), "ms", budget=budget, note=note
        ),
    }


def _measure() -> dict[str, Figure]:
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.urls import reverse

    from orders.history_generator import (
        orders_generate,
        workspace_team,
    )
    from orders.models import Mailbox, Membership, Order, OrderItem, Role, Workspace

    settings.ALLOWED_HOSTS = ["*"]
    started = time.perf_counter()
    workspace = Workspace.objects.create(name="Bench", slug="bench")
    requesters, approvers = workspace_team(workspace)
    result = orders_generate(
        workspace=workspace,
        requesters=requesters,
        approvers=approvers,
        orders=ORDERS,
        mailboxes=MAILBOXES,
        seed=7,
        every_status=True,
    )
    other = Workspace.objects.create(name="Other", slug="other")
    other_people, other_leads = workspace_team(other)
    orders_generate(
        workspace=other,
        requesters=other_people,
        approvers=other_leads,
        orders=OTHER_ORDERS,
        seed=8,
    )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")  # what autovacuum does after a bulk load
    fixture_seconds = time.perf_counter() - started

    lead = get_user_model().objects.create_user("bench-lead", password="x-bench-1")
    Membership.objects.create(user=lead, workspace=workspace, role=Role.LEAD)
    staff = get_user_model().objects.create_superuser(
        "bench-staff", password="x-bench-2"
    )
    portal, admin = Client(), Client()
    portal.force_login(lead)
    admin.force_login(staff)

    sample_mailbox = (
        Mailbox.objects.filter(item__order__workspace=workspace)
        .select_related("item")
        .order_by("pk")[MAILBOXES // 2]
    )
    domain = (
        OrderItem.objects.filter(order__workspace=workspace)
        .order_by("pk")[size(1234, 25)]
        .domain
    )
    requester = requesters[0].pk
    history = reverse("orders:list", args=[workspace.slug])
    htmx: dict[str, Any] = {"headers": {"HX-Request": "true"}}
    history_variants: list[tuple[str, dict[str, Any]]] = [
        (history, {}),
        (f"{history}?per_page=200", {}),
        (f"{history}?status=ready&provider=3", {}),
        (f"{history}?status=failed&provider=3&sort=due_now", htmx),
        (f"{history}?q={domain[:8]}", htmx),
        (f"{history}?q={sample_mailbox.email}", {}),
        (f"{history}?sort=-due_now&per_page=100", htmx),
        (f"{history}?page={HISTORY_DEEP_PAGE}", {}),
        (f"{history}?requester={requester}&created_from=2000-01-01", {}),
        (f"{history}?type=dfy&sort=requester", {}),
    ]
    dashboard = reverse("orders:dashboard", args=[workspace.slug])
    changelist = reverse("admin:orders_order_changelist")
    admin_variants: list[tuple[str, dict[str, Any]]] = [
        (changelist, {}),
        (f"{changelist}?status__exact=ready", {}),
        (f"{changelist}?provider=3", {}),
        (f"{changelist}?q={sample_mailbox.email}", {}),
        (f"{changelist}?q={domain}", {}),
        (
            f"{changelist}?workspace__id__exact={workspace.pk}&p={ADMIN_DEEP_PAGE}",
            {},
        ),
        (f"{changelist}?o=-7", {}),
    ]

    history_samples = _samples(portal, history_variants)
    dashboard_samples = _samples(portal, [(dashboard, {})] * 4)
    admin_samples = _samples(admin, admin_variants)

    from orders.admin import OrderAdmin

    count_small = _queries(portal, f"{history}?per_page=25")
    count_large = _queries(portal, f"{history}?per_page=200")
    admin_counts = []
    for per_page in (10, 200):
        OrderAdmin.list_per_page = per_page
        admin_counts.append(_queries(admin, changelist))
    OrderAdmin.list_per_page = 50

    engine = connection.vendor
    data_note = (
        f"{engine}, {Order.objects.filter(workspace=workspace).count():,} orders / "
        f"{Mailbox.objects.filter(item__order__workspace=workspace).count():,} mailboxes"
    )
    figures: dict[str, Figure] = {}
    figures |= _figures("history", history_samples, HISTORY_BUDGET_MS, data_note)
    figures |= _figures("dashboard", dashboard_samples, None, data_note)
    figures |= _figures("admin_orders", admin_samples, None, data_note)
    figures["history_queries_per_page_25"] = Figure(count_small, "queries")
    figures["history_queries_per_page_200"] = Figure(
        count_large, "queries", budget=count_small, note="must equal the 25-row page"
    )
    figures["admin_orders_queries_10_rows"] = Figure(admin_counts[0], "queries")
    figures["admin_orders_queries_200_rows"] = Figure(
        admin_counts[1], "queries", budget=admin_counts[0], note="must equal 10 rows"
    )
    figures["history_fixture_s"] = Figure(
        fixture_seconds,
        "s",
        note=f"{result.orders:,} orders, {result.mailboxes:,} mailboxes, {result.events:,} events",
    )
    return figures
