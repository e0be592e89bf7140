"""The pages people open most answer with a fixed number of queries, whatever the size of
the order or the inbox: pinned here (issue 13 moved every status write into one module and
kept these counts; a change that adds a query per row fails)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from orders.models import Order
from tests.integration.support import JANE, JOHN, draft_order, submitted_order

pytestmark = pytest.mark.django_db

# Order page of a request waiting for approval, as its lead sees it (17 before issue 13: an
# order never bought no longer looks for cancellations); the approval inbox; the builder of a
# draft; the admin's record of an order. The others were measured before issue 13 moved the
# writes and are unchanged, at 1 and 4 items or requests alike. Each workspace page has one
# query less since the signed-in user is read in the access check's row (orders/access_prefetch.py).
ORDER_PAGE = 15
INBOX = 7
BUILDER = 9
ADMIN_ORDER = 8
# A placed order's page (one query more once some mailboxes are cancelled: the bill's cost
# after cancellations), as before cancellations became queued runs.
PLACED_ORDER_PAGE = 24


def queries(client: Client, url: str) -> int:
    """Queries of the second request: the first fills per-process caches (content types,
    the session) that a running portal has already."""
    assert client.get(url).status_code == 200, url
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(ctx.captured_queries)


def items(count: int) -> list[tuple[str, int, list[tuple[str, str, str]]]]:
    return [(f"acme-mail{n}.com", 1, [JANE, JOHN]) for n in range(count)]


def url(name: str, order: Order) -> str:
    return reverse(f"orders:{name}", args=[order.workspace.slug, order.pk])


@pytest.fixture
def lead_client(client, lead):  # type: ignore[no-untyped-def]
    client.force_login(lead)
    return client


@pytest.mark.parametrize("size", [1, 4])
def test_order_page(lead_client, workspace, operator, remote, size) -> None:  # type: ignore[no-untyped-def]
    order = submitted_order(workspace, operator, items=items(size))
    assert queries(lead_client, url("detail", order)) == ORDER_PAGE


@pytest.mark.parametrize("size", [1, 4])
def test_approval_inbox(lead_client, workspace, operator, remote, size) -> None:  # type: ignore[no-untyped-def]
    for n in range(size):
        submitted_order(workspace, operator, items=items(1), title=f"Q{n}")
    inbox = reverse("orders:approvals", args=[workspace.slug])
    assert queries(lead_client, inbox) == INBOX


@pytest.mark.parametrize("size", [1, 4])
def test_builder(operator_client, workspace, operator, remote, size) -> None:  # type: ignore[no-untyped-def]
    order = draft_order(workspace, operator, items=items(size))
    assert queries(operator_client, url("build", order)) == BUILDER


@pytest.mark.parametrize("size", [1, 4])
def test_admin_order_record(
    client, admin_user, workspace, operator, remote, size
) -> None:  # type: ignore[no-untyped-def]
    order = submitted_order(workspace, operator, items=items(size))
    client.force_login(admin_user)
    page = reverse("admin:orders_order_change", args=[order.pk])
    assert queries(client, page) == ADMIN_ORDER


def test_placed_order_page_before_and_after_a_cancellation(
    lead_client, cancellable, lead
) -> None:  # type: ignore[no-untyped-def]
    from orders import cancellation_runs

    page = cancellable.get_absolute_url()
    assert queries(lead_client, page) == PLACED_ORDER_PAGE
    cancellation_runs.order_cancel_mailboxes(
        order=cancellable,
        by=lead,
        domains=["tryacme.org"],
        confirmation="cancel 1 mailbox",
    )
    assert queries(lead_client, page) == PLACED_ORDER_PAGE + 1


def quote_queries(client: Client, order: Order) -> tuple[int, int]:
    """The quote endpoint's queries, the portal's own and the in-process sandbox's (they
    share the test's connection; the sandbox's run inside the simulation call)."""
    from orders.instantly import client as instantly_client

    quote_url = url("quote", order)
    headers = {"HX-Request": "true"}
    assert client.post(quote_url, headers=headers).status_code == 200
    marks: list[int] = []
    real = instantly_client.InstantlyClient.simulate_order

    def simulate(self, payload):  # type: ignore[no-untyped-def]
        marks.append(len(ctx.captured_queries))
        try:
            return real(self, payload)
        finally:
            marks.append(len(ctx.captured_queries))

    instantly_client.InstantlyClient.simulate_order = simulate  # type: ignore[method-assign]
    try:
        with CaptureQueriesContext(connection) as ctx:
            response = client.post(quote_url, headers=headers)
    finally:
        instantly_client.InstantlyClient.simulate_order = real  # type: ignore[method-assign]
    assert response.status_code == 200
    assert "Due now" in response.content.decode()
    before, after = marks
    return len(ctx.captured_queries) - (after - before), after - before


# The quote endpoint runs on every keystroke (docs/performance.md, "Quote overhead"): the
# membership with the user and the workspace's key, the order's few columns with its draft in
# one query, the new quote. 8 before issue 14 (the draft in two queries, a look for a
# reusable quote, the key on its own), 5 until the order and its draft were read together,
# 4 until the user was read in the access check's row.
QUOTE = 3


@pytest.mark.parametrize("size", [1, 4])
def test_quote_endpoint(
    operator_client, workspace, operator, remote, settings, size
) -> None:  # type: ignore[no-untyped-def]
    settings.DFY_QUOTE_REUSE_SECONDS = (
        0  # every request asks the sandbox, as a new edit does
    )
    order = draft_order(workspace, operator, items=items(size))
    portal, sandbox = quote_queries(operator_client, order)
    assert sandbox > 0  # the simulation really ran
    assert portal == QUOTE


def test_quote_without_a_key_says_so_with_the_key_read_alongside(
    operator_client, workspace, operator, remote
) -> None:  # type: ignore[no-untyped-def]
    """The key comes with the membership on the quote path: "read, no key" must still mean
    no key (and ask for one), not "not read" (which would read it again)."""
    from orders.instantly_keys import NO_KEY_PROBLEM
    from orders.models import InstantlyKey

    order = draft_order(workspace, operator, items=items(1))
    InstantlyKey.objects.filter(workspace=workspace).delete()
    with CaptureQueriesContext(connection) as ctx:
        response = operator_client.post(
            url("quote", order), headers={"HX-Request": "true"}
        )
    assert response.status_code == 200
    assert NO_KEY_PROBLEM in response.content.decode()
    # Not read a second time on its own.
    assert not any('FROM "orders_instantlykey"' in q["sql"] for q in ctx)


def test_the_membership_look_up_sorts_nothing(
    operator_client, workspace, operator, remote
) -> None:  # type: ignore[no-untyped-def]
    """One row at most (unique user and workspace): Meta.ordering would still add a join on
    the workspace name and a sort to every request's access check."""
    order = draft_order(workspace, operator, items=items(1))
    with CaptureQueriesContext(connection) as ctx:
        response = operator_client.post(
            url("quote", order), headers={"HX-Request": "true"}
        )
    assert response.status_code == 200
    looked_up = [q["sql"] for q in ctx if 'FROM "orders_membership"' in q["sql"]]
    assert looked_up
    assert not any("ORDER BY" in sql for sql in looked_up)
