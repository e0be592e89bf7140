"""The order builder through the test client, against the in-process sandbox: both the htmx
branch (fragments, out-of-band swaps) and the plain branch (post/redirect/get)."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from orders.models import Mailbox, Order, OrderItem, OrderStatus, Quote

pytestmark = pytest.mark.django_db
HX = {"HX-Request": "true"}


@pytest.fixture
def draft(operator_client, workspace, remote):
    response = operator_client.post(
        reverse("orders:new", args=[workspace.slug]),
        {"order_type": "dfy", "title": "Q3"},
    )
    order = Order.objects.get()
    assert response["Location"] == reverse(
        "orders:build", args=[workspace.slug, order.pk]
    )
    return order


def build_url(order):
    return reverse("orders:build", args=[order.workspace.slug, order.pk])


def form_state(order, *, items, **extra):
    """The builder's POST body for `items`: [(domain, provider, [(first, last, prefix)])]."""
    data = {
        "version": str(order.version),
        "order_type": order.order_type,
        "title": order.title,
    }
    for i, (domain, provider, mailboxes) in enumerate(items):
        data[f"item-{i}-domain"] = domain
        data[f"item-{i}-provider"] = str(provider)
        data[f"item-{i}-forwarding"] = ""
        for j, (first, last, prefix) in enumerate(mailboxes):
            data[f"item-{i}-mb-{j}-first"] = first
            data[f"item-{i}-mb-{j}-last"] = last
            data[f"item-{i}-mb-{j}-prefix"] = prefix
    data.update(extra)
    return data


JANE = ("Jane", "Roe", "jane")
JOHN = ("John", "Roe", "john")


def test_builder_page_is_a_full_page(operator_client, draft):
    response = operator_client.get(build_url(draft))

    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" in html
    assert 'id="builder"' in html
    assert "No domains yet" in html


def test_adding_a_domain_plain_post_redirects_and_saves(operator_client, draft):
    response = operator_client.post(
        build_url(draft), form_state(draft, items=[], add_domain="acme-mail.com")
    )

    assert response.status_code == 302
    assert list(OrderItem.objects.values_list("domain", flat=True)) == ["acme-mail.com"]
    assert "acme-mail.com" in operator_client.get(build_url(draft)).content.decode()


def test_autosave_htmx_swaps_only_fragments_and_quotes_exactly(
    operator_client, draft, remote
):
    items = [("acme-mail.com", 1, [JANE, JOHN]), ("tryacme.org", 1, [JANE])]

    response = operator_client.post(
        build_url(draft), form_state(draft, items=items), headers=HX
    )

    html = response.content.decode()
    draft.refresh_from_db()
    quote = Quote.objects.get()
    assert response.status_code == 200
    assert "<html" not in html
    assert response["HX-Reswap"] == "none"
    assert 'id="draft-version"' in html
    assert 'hx-swap-oob="true"' in html
    assert 'id="quote-panel"' in html
    assert draft.version == 2
    assert Mailbox.objects.count() == 3
    # 2 domains x $15/year + 3 mailboxes x $5/month
    assert quote.due_now == Decimal("45.00")
    assert quote.per_month == Decimal("15.00")
    assert quote.is_valid
    assert "$45.00" in html
    assert remote.requests("dfy-email-account-orders") == 1


def test_identical_autosave_reuses_the_quote_and_keeps_the_version(
    operator_client, draft, remote
):
    items = [("acme-mail.com", 1, [JANE])]
    operator_client.post(build_url(draft), form_state(draft, items=items), headers=HX)
    draft.refresh_from_db()

    response = operator_client.post(
        build_url(draft), form_state(draft, items=items), headers=HX
    )

    draft.refresh_from_db()
    assert draft.version == 2
    assert Quote.objects.count() == 1
    assert "quote reused" in response.content.decode()
    assert remote.requests("dfy-email-account-orders") == 1


def test_stale_version_from_another_tab_is_refused_and_latest_shown(
    operator_client, draft
):
    first_tab = form_state(draft, items=[("acme-mail.com", 1, [JANE])])
    second_tab = form_state(draft, items=[("other-name.com", 1, [JOHN])])
    operator_client.post(build_url(draft), first_tab, headers=HX)

    response = operator_client.post(build_url(draft), second_tab, headers=HX)

    html = response.content.decode()
    assert response["HX-Retarget"] == "#builder"
    assert "changed in another tab" in html
    assert 'value="acme-mail.com"' in html
    assert list(OrderItem.objects.values_list("domain", flat=True)) == ["acme-mail.com"]


def test_restricted_keyword_and_invalid_mailbox_show_on_their_rows(
    operator_client, draft
):
    items = [
        ("google-mail-team.com", 1, [JANE]),
        ("acme-mail.com", 1, [("", "Roe", "x..y")]),
    ]

    response = operator_client.post(
        build_url(draft), form_state(draft, items=items, save="1"), headers=HX
    )

    html = response.content.decode()
    row0 = re.search(r'id="item-0-findings".*?</div>', html, re.S).group(0)
    mailbox = re.search(
        r'id="item-1-mb-0-findings".*?</span></span>', html, re.S
    ).group(0)
    assert "restricted keyword" in row0
    assert "google" in row0
    assert "First name" in mailbox or "first name" in mailbox
    assert "refuse" in html


def test_too_long_value_is_refused_with_the_row_named_and_kept(operator_client, draft):
    long_name = "x" * 150
    data = form_state(draft, items=[("acme-mail.com", 1, [(long_name, "Roe", "jane")])])

    response = operator_client.post(build_url(draft), data, headers=HX)

    html = response.content.decode()
    assert (
        "Domain row 1 (acme-mail.com), mailbox 1: first name is longer than 100 characters"
        in html
    )
    assert long_name in html
    assert not OrderItem.objects.exists()


def test_generate_fills_unique_valid_mailboxes(operator_client, draft):
    data = form_state(
        draft,
        items=[("acme-mail.com", 1, [])],
        generate="0",
        **{
            "gen-0-names": "Jane Roe\nJane Roe\nMax Power",
            "gen-0-pattern": "first.last",
            "gen-0-count": "4",
        },
    )

    operator_client.post(build_url(draft), data, headers=HX)

    prefixes = list(Mailbox.objects.values_list("email_prefix", flat=True))
    assert len(prefixes) == 4
    assert len(set(prefixes)) == 4
    assert prefixes[0] == "jane.roe"


def test_microsoft_bundle_fills_fifty(operator_client, draft):
    data = form_state(draft, items=[("acme-mail.com", 1, [])], ms_bundle="0")

    operator_client.post(build_url(draft), data, headers=HX)

    item = OrderItem.objects.get()
    assert item.provider == 3
    assert item.mailboxes.count() == 50


def test_submit_freezes_the_quote_and_locks_the_draft(
    operator_client, draft, workspace
):
    operator_client.post(
        build_url(draft),
        form_state(draft, items=[("acme-mail.com", 1, [JANE])]),
        headers=HX,
    )
    draft.refresh_from_db()
    quote = Quote.objects.get()

    response = operator_client.post(
        reverse("orders:submit", args=[workspace.slug, draft.pk]),
        {"version": draft.version, "fingerprint": quote.fingerprint},
    )

    draft.refresh_from_db()
    assert response.status_code == 302
    assert draft.status == OrderStatus.PENDING_APPROVAL
    assert draft.approved_quote == quote
    assert operator_client.get(build_url(draft))["Location"] == draft.get_absolute_url()


def test_submit_with_an_outdated_quote_is_refused(operator_client, draft, workspace):
    operator_client.post(
        build_url(draft),
        form_state(draft, items=[("acme-mail.com", 1, [JANE])]),
        headers=HX,
    )
    stale = Quote.objects.get()
    draft.refresh_from_db()
    operator_client.post(
        build_url(draft),
        form_state(draft, items=[("acme-mail.com", 1, [JANE, JOHN])]),
        headers=HX,
    )
    draft.refresh_from_db()

    operator_client.post(
        reverse("orders:submit", args=[workspace.slug, draft.pk]),
        {"version": draft.version, "fingerprint": stale.fingerprint},
    )

    draft.refresh_from_db()
    assert draft.status == OrderStatus.DRAFT


def test_builder_of_another_workspace_is_404(client, draft, other_workspace):
    from tests.factories import MembershipFactory

    stranger = MembershipFactory(workspace=other_workspace, role="admin").user
    client.force_login(stranger)

    assert client.get(build_url(draft)).status_code == 404
    assert (
        client.get(
            reverse("orders:build", args=[other_workspace.slug, draft.pk])
        ).status_code
        == 404
    )
