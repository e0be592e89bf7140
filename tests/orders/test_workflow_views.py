"""The approval inbox, approve / reject, the order page's progress and resolution actions,
through the test client: htmx and plain branches, and who may use them."""

from __future__ import annotations

import json
import re

import pytest
from django.urls import reverse

from orders import workflow
from orders.models import Order, OrderStatus
from tests.factories import MembershipFactory
from tests.integration.support import submitted_order

pytestmark = pytest.mark.django_db
HX = {"HX-Request": "true"}


@pytest.fixture
def pending(workspace, operator, remote):
    return submitted_order(workspace, operator)


@pytest.fixture
def lead_client(client, lead):
    client.force_login(lead)
    return client


def test_inbox_shows_quote_contents_requester_and_budget(
    lead_client, pending, workspace
):
    response = lead_client.get(reverse("orders:approvals", args=[workspace.slug]))

    html = response.content.decode()
    assert "<html" in html
    assert f'id="approval-{pending.pk}"' in html
    assert "$25.00" in html
    assert "1 domain, 2 mailboxes: acme-mail.com" in html
    assert "asked by olivia" in html
    assert "$10.00/month for this order" in html
    assert "Approvals (1)" in html


def test_inbox_htmx_answers_the_list_fragment(lead_client, pending, workspace):
    response = lead_client.get(
        reverse("orders:approvals", args=[workspace.slug]), headers=HX
    )

    html = response.content.decode()
    assert "<html" not in html
    assert html.strip().startswith('<div id="approval-list"')


def test_operator_gets_403_and_another_workspace_404(
    client, operator, pending, workspace, other_workspace
):
    stranger = MembershipFactory(workspace=other_workspace, role="lead").user
    client.force_login(operator)
    inbox = client.get(reverse("orders:approvals", args=[workspace.slug]))
    approve = client.post(reverse("orders:approve", args=[workspace.slug, pending.pk]))
    client.force_login(stranger)
    foreign = client.post(reverse("orders:approve", args=[workspace.slug, pending.pk]))
    wrong_scope = client.post(
        reverse("orders:approve", args=[other_workspace.slug, pending.pk])
    )

    assert inbox.status_code == 403
    assert approve.status_code == 403
    assert foreign.status_code == 404
    assert wrong_scope.status_code == 404
    pending.refresh_from_db()
    assert pending.status == OrderStatus.PENDING_APPROVAL


def test_operator_sees_no_approvals_link(client, operator, pending, workspace):
    client.force_login(operator)

    html = client.get(
        reverse("orders:dashboard", args=[workspace.slug])
    ).content.decode()

    assert 'id="approvals-nav"' not in html


def test_approve_over_htmx_swaps_the_card_and_announces_it(
    lead_client, pending, workspace, queue, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = lead_client.post(
            reverse("orders:approve", args=[workspace.slug, pending.pk]),
            {"comment": "ok", "quote": pending.approved_quote_id},
            headers=HX,
        )

    html = response.content.decode()
    pending.refresh_from_db()
    assert "<html" not in html
    assert html.strip().startswith(f'<section class="card" id="approval-{pending.pk}"')
    assert "approved: it is being placed" in html
    assert response["HX-Trigger"] == json.dumps({"orderDecided": {"id": pending.pk}})
    assert pending.status == OrderStatus.APPROVED
    assert queue.names() == ["place_order_task"]


def test_approve_plain_redirects_back_with_a_message(
    lead_client, pending, workspace, queue
):
    response = lead_client.post(
        reverse("orders:approve", args=[workspace.slug, pending.pk]),
        {"next": pending.get_absolute_url()},
        follow=True,
    )

    assert response.redirect_chain == [(pending.get_absolute_url(), 302)]
    assert "approved: it is being placed" in response.content.decode()


def test_refused_approval_shows_why_without_approving(client, workspace, lead, remote):
    own = submitted_order(workspace, lead)
    client.force_login(lead)

    response = client.post(
        reverse("orders:approve", args=[workspace.slug, own.pk]), headers=HX
    )

    assert response.status_code == 200
    assert "Four-eyes rule" in response.content.decode()
    assert "HX-Trigger" not in response
    own.refresh_from_db()
    assert own.status == OrderStatus.PENDING_APPROVAL


def test_reject_needs_a_comment(lead_client, pending, workspace):
    url = reverse("orders:reject", args=[workspace.slug, pending.pk])

    empty = lead_client.post(url, {"comment": ""}, headers=HX)
    done = lead_client.post(url, {"comment": "Too expensive"})

    pending.refresh_from_db()
    assert "Say why the order is rejected." in empty.content.decode()
    assert done.status_code == 302
    assert done["Location"] == reverse("orders:approvals", args=[workspace.slug])
    assert pending.status == OrderStatus.REJECTED


def test_next_must_stay_on_this_site(lead_client, pending, workspace):
    response = lead_client.post(
        reverse("orders:reject", args=[workspace.slug, pending.pk]),
        {"comment": "no", "next": "https://evil.example/"},
    )

    assert response["Location"] == reverse("orders:approvals", args=[workspace.slug])


def test_nav_count_fragment(lead_client, pending, workspace):
    response = lead_client.get(
        reverse("orders:approvals_count", args=[workspace.slug]), headers=HX
    )

    html = response.content.decode().strip()
    assert html.startswith('<a href="/w/acme/approvals/" id="approvals-nav"')
    assert 'hx-trigger="orderDecided from:body, orderSubmitted from:body"' in html
    assert "Approvals (1)" in html


def test_order_page_of_a_pending_order_offers_the_decision(
    lead_client, pending, workspace
):
    html = lead_client.get(pending.get_absolute_url()).content.decode()

    assert 'id="decision"' in html
    # Nothing is bought before approval: the mailboxes are only requested.
    assert 'id="requested-note"' in html
    assert 'id="progress-bar"' not in html
    assert 'id="timeline"' in html
    assert "Submitted" in html
    assert 'hx-trigger="every 2s"' not in html


@pytest.fixture
def approved(workspace, pending, lead, queue, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        workflow.order_approve(order=pending, by=lead)
    pending.refresh_from_db()
    return pending


def test_order_page_polls_while_in_flight(lead_client, approved, workspace):
    html = lead_client.get(approved.get_absolute_url()).content.decode()

    live = re.search(r'<div id="order-live"[^>]*>', html).group(0)
    assert f'hx-get="/w/acme/orders/{approved.pk}/progress/?status=approved"' in live
    assert 'hx-trigger="every 2s"' in live
    assert "Nothing bought yet" in html  # approved, not placed: no progress bar yet
    assert "style=" not in html


def test_progress_fragment_while_in_flight_and_286_when_done(
    lead_client, approved, workspace, queue, django_capture_on_commit_callbacks
):
    url = reverse("orders:progress", args=[workspace.slug, approved.pk])

    live = lead_client.get(url, {"status": "approved"}, headers=HX)
    queue.drain(django_capture_on_commit_callbacks)
    changed = lead_client.get(url, {"status": "approved"}, headers=HX)
    Order.objects.filter(pk=approved.pk).update(status=OrderStatus.READY)
    done = lead_client.get(url, {"status": "ready"}, headers=HX)
    plain = lead_client.get(url)

    assert live.status_code == 200
    assert "<html" not in live.content.decode()
    assert 'id="order-live"' in live.content.decode()
    assert 'id="timeline" hx-swap-oob="true"' in live.content.decode()
    assert changed["HX-Refresh"] == "true"
    assert done.status_code == 286
    assert 'hx-trigger="every 2s"' not in done.content.decode()
    assert plain.status_code == 302


def test_resolve_needs_attention_by_marking_placed(lead_client, approved, workspace):
    Order.objects.filter(pk=approved.pk).update(
        status=OrderStatus.NEEDS_ATTENTION,
        attention_reason="Instantly's lists show 0 of 1 domains",
        reconcile_evidence={
            "endpoint": "orders",
            "checks": 6,
            "since": "x",
            "found": [],
            "missing": ["acme-mail.com"],
        },
    )
    page = lead_client.get(approved.get_absolute_url()).content.decode()

    response = lead_client.post(
        reverse("orders:resolve", args=[workspace.slug, approved.pk]),
        {"action": "mark_placed", "comment": "seen in billing"},
        headers=HX,
    )

    approved.refresh_from_db()
    assert 'id="evidence"' in page
    assert "Mark placed" in page
    assert response["HX-Redirect"] == approved.get_absolute_url()
    assert approved.status == OrderStatus.PLACED


def test_operator_cannot_resolve(client, operator, approved, workspace):
    client.force_login(operator)

    response = client.post(
        reverse("orders:resolve", args=[workspace.slug, approved.pk]),
        {"action": "resubmit"},
    )

    assert response.status_code == 403


def test_drift_is_shown_to_the_lead(
    lead_client, approved, workspace, remote, queue, django_capture_on_commit_callbacks
):
    from decimal import Decimal

    from sandbox.switches import switches_set

    switches_set(workspace=remote.sandbox, google_price_per_month=Decimal("7"))
    queue.drain(django_capture_on_commit_callbacks)

    inbox = lead_client.get(
        reverse("orders:approvals", args=[workspace.slug])
    ).content.decode()
    page = lead_client.get(approved.get_absolute_url()).content.decode()

    assert f'id="approval-{approved.pk}-drift"' in inbox
    assert "$25.00" in inbox
    assert "$29.00" in inbox
    assert 'id="drift"' in page
    assert "nothing was bought" in page


def test_failed_order_shows_the_refusal_in_plain_words(
    lead_client, approved, workspace, remote, queue, django_capture_on_commit_callbacks
):
    from sandbox.switches import switches_set

    switches_set(workspace=remote.sandbox, payment_failure_reason="generic_decline")
    queue.drain(django_capture_on_commit_callbacks)

    page = lead_client.get(approved.get_absolute_url()).content.decode()

    assert 'id="refusal"' in page
    assert "the payment did not go through: the card was declined" in page
    assert "Re-submit as a new attempt" in page


def test_nav_count_plain_request_is_the_link_alone(lead_client, pending, workspace):
    response = lead_client.get(reverse("orders:approvals_count", args=[workspace.slug]))

    assert response.status_code == 200
    assert "<html" not in response.content.decode()
    assert "Approvals (1)" in response.content.decode()


def test_reject_over_htmx_swaps_the_card(lead_client, pending, workspace):
    response = lead_client.post(
        reverse("orders:reject", args=[workspace.slug, pending.pk]),
        {"comment": "Not this quarter"},
        headers=HX,
    )

    html = response.content.decode()
    assert html.strip().startswith(f'<section class="card" id="approval-{pending.pk}"')
    assert "Decided by leo: “Not this quarter”" in html
    assert json.loads(response["HX-Trigger"]) == {"orderDecided": {"id": pending.pk}}


def test_resolve_plain_resubmits_and_redirects(
    lead_client, approved, workspace, ws_admin, queue
):
    Order.objects.filter(pk=approved.pk).update(status=OrderStatus.FAILED)

    response = lead_client.post(
        reverse("orders:resolve", args=[workspace.slug, approved.pk]),
        {"action": "resubmit", "comment": "card replaced"},
        follow=True,
    )

    approved.refresh_from_db()
    assert response.redirect_chain == [(approved.get_absolute_url(), 302)]
    assert "Re-submitted as a new attempt" in response.content.decode()
    assert approved.status == OrderStatus.APPROVED


# --- After a rejection (issue #10, item 11) ---------------------------------------------


def test_lead_who_rejects_lands_on_the_read_only_order_page(
    lead_client, pending, workspace
):
    response = lead_client.post(
        reverse("orders:reject", args=[workspace.slug, pending.pk]),
        {"comment": "Too many domains", "next": pending.get_absolute_url()},
        follow=True,
    )

    html = response.content.decode()
    assert response.redirect_chain == [(pending.get_absolute_url(), 302)]
    assert 'id="builder"' not in html
    assert 'id="rejection-banner"' in html
    assert re.search(
        r"Rejected by leo on \d{4}-\d\d-\d\d \d\d:\d\d:</strong> Too many domains", html
    )
    assert "rejected; the requester is told." in html
    assert re.search(r'id="timeline".*Rejected.*by leo: “Too many domains”', html, re.S)


def test_requester_sees_the_rejection_at_the_top_of_the_builder_until_resubmitted(
    client, operator, lead, pending, workspace
):
    workflow.order_reject(order=pending, by=lead, comment="Use .com only")
    client.force_login(operator)

    opened = client.get(pending.get_absolute_url(), follow=True)
    pending.refresh_from_db()
    from orders import drafts

    drafts.order_draft_save(
        order=pending,
        by=operator,
        version=pending.version,
        items=drafts.draft_items(pending)[:1],
        title="Q3 revised",
    )
    revised = client.get(reverse("orders:build", args=[workspace.slug, pending.pk]))

    html = opened.content.decode()
    assert opened.redirect_chain[-1][0] == reverse(
        "orders:build", args=[workspace.slug, pending.pk]
    )
    assert 'id="builder"' in html
    assert html.index('id="rejection-banner"') < html.index('id="builder"')
    assert re.search(r"Rejected by leo on [\d: -]+:</strong> Use .com only", html)
    assert Order.objects.get(pk=pending.pk).status == OrderStatus.DRAFT
    assert "Use .com only" in revised.content.decode()


def test_an_order_never_rejected_has_no_rejection_banner(client, operator, workspace):
    from tests.integration.support import draft_order

    order = draft_order(workspace, operator)
    client.force_login(operator)

    html = client.get(reverse("orders:build", args=[workspace.slug, order.pk]))

    assert 'id="rejection-banner"' not in html.content.decode()
