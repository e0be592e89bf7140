"""Cancelling mailboxes of a placed order against the in-process sandbox: the preview's
consequences, the typed confirmation, one cancel call and the result per mailbox; the views'
htmx and plain branches and who may use them."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from orders import cancellation
from orders.models import Mailbox, MailboxStatus, OrderStatus
from sandbox.models import DfyAccount, DomainOrder
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db
HX = {"HX-Request": "true"}


def mailbox(order, email):
    prefix, domain = email.split("@")
    return Mailbox.objects.get(
        item__order=order, item__domain=domain, email_prefix=prefix
    )


def test_preview_says_the_last_mailbox_cancels_the_domain(cancellable):
    preview = cancellation.cancellation_preview(
        order=cancellable,
        mailbox_ids=[
            mailbox(cancellable, "jane@acme-mail.com").pk,
            mailbox(cancellable, "jane@tryacme.org").pk,
        ],
    )

    by_domain = {d.domain: d for d in preview.domains}
    assert preview.phrase == "cancel 2 mailboxes"
    assert by_domain["tryacme.org"].cancels_domain
    assert not by_domain["acme-mail.com"].cancels_domain
    assert by_domain["acme-mail.com"].remaining == ("john@acme-mail.com",)
    assert preview.domains_cancelled == ["tryacme.org"]
    assert "permanently deletes every Unibox email" in preview.warning


def test_whole_domain_selection_takes_all_its_mailboxes(cancellable):
    preview = cancellation.cancellation_preview(
        order=cancellable, domains=["acme-mail.com"]
    )

    assert preview.emails == ["jane@acme-mail.com", "john@acme-mail.com"]
    assert preview.domains_cancelled == ["acme-mail.com"]
    assert preview.phrase == "cancel 2 mailboxes"


def test_a_wrong_confirmation_cancels_nothing(cancellable, lead, remote):
    with pytest.raises(
        cancellation.CancelError, match='Type "cancel 1 mailbox" to confirm'
    ):
        cancellation.order_cancel_mailboxes(
            order=cancellable, by=lead, domains=["tryacme.org"], confirmation="yes"
        )

    assert remote.requests("accounts/cancel") == 0
    assert not DfyAccount.objects.filter(timestamp_cancelled__isnull=False).exists()


def test_cancel_calls_instantly_once_and_records_each_mailbox(
    cancellable, lead, remote
):
    outcome = cancellation.order_cancel_mailboxes(
        order=cancellable,
        by=lead,
        mailbox_ids=[
            mailbox(cancellable, "jane@tryacme.org").pk,
            mailbox(cancellable, "jane@acme-mail.com").pk,
        ],
        confirmation="  Cancel 2  mailboxes ",
    )

    cancellable.refresh_from_db()
    assert outcome.results == [
        ("jane@acme-mail.com", "cancelled"),
        ("jane@tryacme.org", "cancelled"),
    ]
    assert cancellable.status == OrderStatus.PARTIALLY_CANCELLED
    assert mailbox(cancellable, "jane@tryacme.org").status == MailboxStatus.CANCELLED
    assert mailbox(cancellable, "john@acme-mail.com").status == MailboxStatus.REQUESTED
    assert remote.requests("accounts/cancel") == 1
    assert DomainOrder.objects.get(domain="tryacme.org").timestamp_cancelled is not None
    assert DomainOrder.objects.get(domain="acme-mail.com").timestamp_cancelled is None
    assert list(cancellable.events.values_list("kind", flat=True))[-2:] == [
        "cancel_request",
        "mailboxes_cancelled",
    ]


def test_cancelling_every_mailbox_cancels_the_order(cancellable, lead):
    cancellation.order_cancel_mailboxes(
        order=cancellable,
        by=lead,
        domains=["acme-mail.com", "tryacme.org"],
        confirmation="cancel 3 mailboxes",
    )

    cancellable.refresh_from_db()
    assert cancellable.status == OrderStatus.CANCELLED
    assert cancellable.finished_at is not None


def test_an_operator_cannot_cancel(cancellable, operator):
    with pytest.raises(cancellation.CancelError, match="Only a lead"):
        cancellation.order_cancel_mailboxes(
            order=cancellable,
            by=operator,
            domains=["tryacme.org"],
            confirmation="cancel 1 mailbox",
        )


def test_cancel_views_preview_then_confirm_over_htmx(
    client, cancellable, lead, workspace
):
    client.force_login(lead)
    url = reverse("orders:cancel", args=[workspace.slug, cancellable.pk])
    target = mailbox(cancellable, "jane@tryacme.org")

    preview = client.post(url, {"step": "preview", "mailbox": [target.pk]}, headers=HX)
    wrong = client.post(
        url,
        {"step": "confirm", "mailbox": [target.pk], "confirmation": "ok"},
        headers=HX,
    )
    done = client.post(
        url,
        {"step": "confirm", "mailbox": [target.pk], "confirmation": "cancel 1 mailbox"},
        headers=HX,
    )

    preview_html = preview.content.decode()
    assert "<html" not in preview_html
    assert 'id="cancel-panel"' in preview_html
    assert "so the domain tryacme.org is cancelled too" in preview_html
    assert 'id="unibox-warning"' in preview_html
    assert "<code>cancel 1 mailbox</code>" in preview_html
    assert "Type &quot;cancel 1 mailbox&quot; to confirm" in wrong.content.decode()
    assert done["HX-Redirect"] == cancellable.get_absolute_url()
    assert done["HX-Trigger"] == json.dumps({"orderCancelled": {"id": cancellable.pk}})
    target.refresh_from_db()
    assert target.status == MailboxStatus.CANCELLED
    page = client.get(cancellable.get_absolute_url()).content.decode()
    results = page[page.index('id="cancel-results"') :]
    assert "jane@tryacme.org</td><td>Cancelled" in results
    assert "1 of 1 mailboxes cancelled." in page


def test_cancel_views_plain_branch_shows_page_then_redirects(
    client, cancellable, lead, workspace
):
    client.force_login(lead)
    url = reverse("orders:cancel", args=[workspace.slug, cancellable.pk])

    page = client.post(url, {"step": "preview", "domain": ["tryacme.org"]})
    done = client.post(
        url,
        {
            "step": "confirm",
            "domain": ["tryacme.org"],
            "confirmation": "cancel 1 mailbox",
        },
    )
    detail = client.get(done["Location"])

    assert "<html" in page.content.decode()
    assert "You are about to cancel 1 mailbox" in page.content.decode()
    assert done.status_code == 302
    assert done["Location"] == cancellable.get_absolute_url()
    assert "Last cancellation" in detail.content.decode()
    assert "1 of 1 mailboxes cancelled." in detail.content.decode()


def test_cancel_view_permissions(
    client, cancellable, operator, workspace, other_workspace
):
    stranger = MembershipFactory(workspace=other_workspace, role="admin").user
    url = reverse("orders:cancel", args=[workspace.slug, cancellable.pk])

    client.force_login(operator)
    as_operator = client.post(url, {"step": "preview", "domain": ["tryacme.org"]})
    client.force_login(stranger)
    as_stranger = client.post(url, {"step": "preview", "domain": ["tryacme.org"]})
    elsewhere = client.post(
        reverse("orders:cancel", args=[other_workspace.slug, cancellable.pk]),
        {"step": "preview"},
    )

    assert as_operator.status_code == 403
    assert as_stranger.status_code == 404
    assert elsewhere.status_code == 404
