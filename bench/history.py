"""Order history, dashboard and admin order list on a big workspace: 10,000 orders and
200,000 mailboxes (plus a smaller second workspace, so scoping is real).

Server time is Django's whole request in process (middleware, session, permission checks,
queries, template rendering) through the test client, without a network in between. Each page
is requested in several realistic variants (filters, search, sort, deep pages, page sizes,
htmx partials); p50/p95 are over all of them. The query counts of the smallest and largest
page sizes are reported next to them: equal means the count does not grow with the page.
The budgets are issue 14's goals for PostgreSQL + Redis; bench/growth.py reuses the fixture and
the pages at other sizes.

    make bench ARGS=history
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bench.harness import Figure, scratch_database, size, timing

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from django.test import Client

    from orders.history_generator.generator import GenerateResult
    from orders.models import Workspace

ORDERS = size(10_000, 200)
MAILBOXES = size(200_000, 1_000)
OTHER_ORDERS = size(500, 20)
ROUNDS = size(
    12, 1
)  # requests per variant after a warm-up; 10 variants -> 120 samples per page
# Deep pages that exist at either size (25 rows per history page, 100 per admin page).
HISTORY_DEEP_PAGE = size(150, 3)
ADMIN_DEEP_PAGE = size(40, 1)
# Issue 14's goals on PostgreSQL + Redis (p95 of every variant's requests).
BUDGETS_MS = {"history": 75.0, "dashboard": 100.0, "admin_orders": 100.0}

# A page request as (url, extra arguments of the test client's get).
Variant = tuple[str, dict[str, Any]]


@dataclass(frozen=True)
class BenchWorkspace:
    """The measured workspace, its generated team, and a logged-in lead and staff member."""

    workspace: Workspace
    requesters: list[User]
    approvers: list[User]
    portal: Client
    admin: Client


def run() -> dict[str, Figure]:
    with scratch_database("history"):
        return _measure()


def bench_workspace() -> tuple[Workspace, list[User], list[User]]:
    from orders.history_generator import workspace_team
    from orders.models import Workspace

    workspace = Workspace.objects.create(name="Bench", slug="bench")
    requesters, approvers = workspace_team(workspace)
    return workspace, requesters, approvers


def orders_add(
    workspace: Workspace,
    requesters: list[User],
    approvers: list[User],
    *,
    orders: int,
    mailboxes: int,
    seed: int,
) -> GenerateResult:
    """`orders` more generated orders with `mailboxes` more mailboxes; each seed once per
    workspace (the generator is not idempotent)."""
    from orders.history_generator import orders_generate

    return orders_generate(
        workspace=workspace,
        requesters=requesters,
        approvers=approvers,
        orders=orders,
        mailboxes=mailboxes,
        seed=seed,
        every_status=True,
    )


def other_workspace_add(orders: int) -> None:
    """A second workspace with orders of its own, so that scoping is real."""
    from orders.history_generator import orders_generate, workspace_team
    from orders.models import Workspace

    other = Workspace.objects.create(name="Other", slug="other")
    other_people, other_leads = workspace_team(other)
    orders_generate(
        workspace=other,
        requesters=other_people,
        approvers=other_leads,
        orders=orders,
        seed=8,
    )


def statistics_refresh() -> None:
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # What autovacuum does after a bulk insert (PostgreSQL 13+): statistics, and the
            # visibility map index-only scans need, as on a long-lived database.
            cursor.execute("VACUUM ANALYZE")


def clients_login(
    workspace: Workspace, requesters: list[User], approvers: list[User]
) -> BenchWorkspace:
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    from orders.models import Membership, Role

    settings.ALLOWED_HOSTS = ["*"]
    lead = get_user_model().objects.create_user("bench-lead", password="x-bench-1")
    Membership.objects.create(user=lead, workspace=workspace, role=Role.LEAD)
    staff = get_user_model().objects.create_superuser(
        "bench-staff", password="x-bench-2"
    )
    portal, admin = Client(), Client()
    portal.force_login(lead)
    admin.force_login(staff)
    return BenchWorkspace(workspace, requesters, approvers, portal, admin)


def page_variants(bench: BenchWorkspace) -> dict[str, list[Variant]]:
    """Each page in its realistic variants (filters, search, sort, deep pages, page sizes,
    htmx partials), against the data as it is now: the searched mailbox and domain are taken
    from the middle of the workspace's rows."""
    from django.urls import reverse

    from orders.models import Mailbox, OrderItem

    workspace = bench.workspace
    mailboxes = Mailbox.objects.filter(item__order__workspace=workspace)
    sample_mailbox = mailboxes.order_by("pk")[mailboxes.count() // 2]
    domain = (
        OrderItem.objects.filter(order__workspace=workspace)
        .order_by("pk")[size(1234, 25)]
        .domain
    )
    requester = bench.requesters[0].pk
    history = reverse("orders:list", args=[workspace.slug])
    htmx: dict[str, Any] = {"headers": {"HX-Request": "true"}}
    dashboard = reverse("orders:dashboard", args=[workspace.slug])
    changelist = reverse("admin:orders_order_changelist")
    return {
        "history": [
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
        ],
        "dashboard": [(dashboard, {})] * 4,
        "admin_orders": [
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
        ],
    }


def page_samples(
    bench: BenchWorkspace, variants: dict[str, list[Variant]], rounds: int
) -> dict[str, list[float]]:
    """Milliseconds per request of each page: every variant `rounds` times after a warm-up."""
    return {
        page: _samples(
            bench.admin if page == "admin_orders" else bench.portal,
            requests,
            rounds,
        )
        for page, requests in variants.items()
    }


def data_note(workspace: Workspace) -> str:
    from django.db import connection

    from orders.models import Mailbox, Order

    return (
        f"{connection.vendor}, {Order.objects.filter(workspace=workspace).count():,} orders / "
        f"{Mailbox.objects.filter(item__order__workspace=workspace).count():,} mailboxes"
    )


def _timed_get(client: Any, url: str, **extra: Any) -> float:
    start = time.perf_counter()
    response = client.get(url, **extra)
    elapsed = (time.perf_counter() - start) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"{url} answered {response.status_code}")
    if getattr(response, "streaming", False):
        b"".join(response.streaming_content)
    return elapsed


def _samples(client: Any, variants: list[Variant], rounds: int) -> list[float]:
    samples = []
    for url, extra in variants:
        _timed_get(client, url, **extra)  # warm-up: caches, plans, first session write
        samples += [_timed_get(client, url, **extra) for _ in range(rounds)]
    return samples


def _queries(client: Any, url: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        client.get(url)
    return len(captured.captured_queries)


def _measure() -> dict[str, Figure]:
    from django.urls import reverse

    started = time.perf_counter()
    workspace, requesters, approvers = bench_workspace()
    result = orders_add(
        workspace, requesters, approvers, orders=ORDERS, mailboxes=MAILBOXES, seed=7
    )
    other_workspace_add(OTHER_ORDERS)
    statistics_refresh()
    fixture_seconds = time.perf_counter() - started

    bench = clients_login(workspace, requesters, approvers)
    samples = page_samples(bench, page_variants(bench), ROUNDS)

    from orders.admin import OrderAdmin

    history = reverse("orders:list", args=[workspace.slug])
    changelist = reverse("admin:orders_order_changelist")
    count_small = _queries(bench.portal, f"{history}?per_page=25")
    count_large = _queries(bench.portal, f"{history}?per_page=200")
    admin_counts = []
    for per_page in (10, 200):
        OrderAdmin.list_per_page = per_page
        admin_counts.append(_queries(bench.admin, changelist))
    OrderAdmin.list_per_page = 50

    note = data_note(workspace)
    figures = {
        f"{page}_p95_ms": timing(page_samples_ms, budget=BUDGETS_MS[page], note=note)
        for page, page_samples_ms in samples.items()
    }
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
