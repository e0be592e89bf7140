"""The live quote: delays, key problems, plain-HTML refresh, and the builder form parser."""

from __future__ import annotations

import pytest
from django.http import QueryDict
from django.urls import reverse
from hypothesis import given, settings
from hypothesis import strategies as st

from orders.builder_forms import parse_builder_post
from orders.models import KeyStatus, Order, Quote
from sandbox.switches import switches_set
from tests.orders.test_builder_views import HX, JANE, build_url, form_state

pytestmark = pytest.mark.django_db


@pytest.fixture
def draft(operator_client, workspace, remote):
    operator_client.post(
        reverse("orders:new", args=[workspace.slug]), {"order_type": "dfy"}
    )
    return Order.objects.get()


def test_persistent_429_says_quote_delayed_and_retries_without_touching_edits(
    operator_client, draft, remote
):
    switches_set(workspace=remote.sandbox, burst_429_remaining=50)

    response = operator_client.post(
        build_url(draft),
        form_state(draft, items=[("acme-mail.com", 1, [JANE])]),
        headers=HX,
    )

    html = response.content.decode()
    assert "Quote delayed" in html
    assert 'hx-trigger="load delay:3s"' in html
    assert draft.items.get().domain == "acme-mail.com"
    assert not Quote.objects.exists()


def test_quote_retry_endpoint_prices_once_the_remote_recovers(
    operator_client, draft, remote
):
    switches_set(workspace=remote.sandbox, burst_429_remaining=50)
    operator_client.post(
        build_url(draft),
        form_state(draft, items=[("acme-mail.com", 1, [JANE])]),
        headers=HX,
    )
    switches_set(workspace=remote.sandbox, burst_429_remaining=0)

    response = operator_client.post(
        reverse("orders:quote", args=[draft.workspace.slug, draft.pk]), headers=HX
    )

    html = response.content.decode()
    assert 'id="quote-panel"' in html
    assert "$20.00" in html
    assert "<html" not in html


def test_revoked_key_points_to_the_key_settings(operator_client, draft, remote):
    from sandbox.models import SandboxKey

    SandboxKey.objects.filter(workspace=remote.sandbox).delete()

    response = operator_client.post(
        build_url(draft),
        form_state(draft, items=[("acme-mail.com", 1, [JANE])]),
        headers=HX,
    )

    html = response.content.decode()
    assert (
        "Check the workspace&#x27;s Instantly key" in html
        or "Check the workspace's Instantly key" in html
    )
    assert reverse("orders:settings", args=[draft.workspace.slug]) in html
    assert draft.workspace.instantly_key.status == KeyStatus.INVALID


def test_without_javascript_save_redirects_and_the_page_shows_the_quote(
    operator_client, draft
):
    response = operator_client.post(
        build_url(draft),
        form_state(draft, items=[("acme-mail.com", 1, [JANE])], save="1"),
    )
    page = operator_client.get(response["Location"]).content.decode()

    assert response.status_code == 302
    assert 'id="quote-due-now">$20.00' in page
    assert 'id="submit-for-approval"' in page


def test_no_key_says_so_instead_of_failing(operator_client, workspace):
    operator_client.post(
        reverse("orders:new", args=[workspace.slug]), {"order_type": "dfy"}
    )
    order = Order.objects.get()

    response = operator_client.post(
        build_url(order),
        form_state(order, items=[("acme-mail.com", 1, [JANE])]),
        headers=HX,
    )

    assert "has no Instantly API key yet" in response.content.decode()


KEYS = st.one_of(
    st.sampled_from(["version", "order_type", "title"]),
    st.builds(
        lambda i, f: f"item-{i}-{f}",
        st.integers(-2, 12000),
        st.sampled_from(["domain", "provider", "forwarding", "x"]),
    ),
    st.builds(
        lambda i, j, f: f"item-{i}-mb-{j}-{f}",
        st.integers(0, 3),
        st.integers(0, 150),
        st.sampled_from(["first", "last", "prefix"]),
    ),
    st.text(max_size=20),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(KEYS, st.text(max_size=300)), max_size=40))
def test_builder_parser_never_raises_and_every_error_names_a_row_or_field(pairs):
    data = QueryDict(mutable=True)
    for key, value in pairs:
        data.appendlist(key, value)

    parsed = parse_builder_post(data)

    for error in parsed.errors:
        assert error.startswith(
            ("Domain row", "Order type", "The form lost", "A draft holds", "Title")
        )
    for item in parsed.items:
        assert len(item.domain) <= 253 or parsed.errors
        assert item.provider in (1, 2, 3)
