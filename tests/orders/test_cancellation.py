"""Cancelling mailboxes of a placed order against the in-process sandbox: the preview's
consequences, the typed confirmation, the run it queues and the worker's one cancel call with
the result per mailbox (never twice, never in the request); the views' htmx and plain
branches, the polled block of a run, and who may use them."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import cast

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from orders import cancellation, cancellation_runs, instantly_keys, tasks
from orders.instantly import InstantlyClient, InstantlyError
from orders.models import (
    CancellationRun,
    CancellationStatus,
    InstantlyKey,
    Mailbox,
    MailboxStatus,
    Order,
    OrderStatus,
)
from sandbox.models import DfyAccount, DomainOrder
from tests.factories import MembershipFactory
from tests.task_capture import recorded

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
        cancellation_runs.order_cancel_mailboxes(
            order=cancellable, by=lead, domains=["tryacme.org"], confirmation="yes"
        )

    assert remote.requests("accounts/cancel") == 0
    assert not DfyAccount.objects.filter(timestamp_cancelled__isnull=False).exists()


def test_cancel_calls_instantly_once_and_records_each_mailbox(
    cancellable, lead, remote
):
    outcome = cancellation_runs.order_cancel_mailboxes(
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
    cancellation_runs.order_cancel_mailboxes(
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
        cancellation_runs.order_cancel_mailboxes(
            order=cancellable,
            by=operator,
            domains=["tryacme.org"],
            confirmation="cancel 1 mailbox",
        )


# --- queued, then sent by a worker -------------------------------------------------------------


@pytest.fixture
def sent(monkeypatch):  # type: ignore[no-untyped-def]
    """The `orders.cancel_mailboxes` messages sent from now on, recorded instead of sent."""
    return recorded(monkeypatch, "orders.cancel_mailboxes")


def work(sent) -> int:  # type: ignore[no-untyped-def]
    """Run every recorded cancellation message as a worker would (the task, called directly)."""
    ran = 0
    while sent:
        tasks.cancel_mailboxes_task(**sent.pop(0))
        ran += 1
    return ran


def request_run(order, by, capture, **selection) -> CancellationRun:  # type: ignore[no-untyped-def]
    """A confirmed cancellation of `selection`, committed (so its message is sent)."""
    count = len(cancellation.cancellation_preview(order=order, **selection).mailboxes)
    phrase = f"cancel {count} mailbox{'es' if count != 1 else ''}"
    with capture(execute=True):
        return cancellation_runs.cancellation_request(
            order=order, by=by, confirmation=phrase, **selection
        )


def test_a_confirmation_queues_one_run_and_sends_nothing_to_instantly(
    cancellable, lead, remote, sent, django_capture_on_commit_callbacks
):
    run = request_run(
        cancellable, lead, django_capture_on_commit_callbacks, domains=["tryacme.org"]
    )

    assert sent == [{"run_id": run.pk}]
    assert (run.status, run.emails, run.domains_cancelled) == (
        CancellationStatus.QUEUED,
        ["jane@tryacme.org"],
        ["tryacme.org"],
    )
    assert (run.order, run.workspace, run.requested_by) == (
        cancellable,
        cancellable.workspace,
        lead,
    )
    assert remote.requests("accounts/cancel") == 0
    assert mailbox(cancellable, "jane@tryacme.org").status != MailboxStatus.CANCELLED
    queued = cancellable.events.order_by("-pk").first()
    assert (queued.kind, queued.actor, queued.from_status, queued.to_status) == (
        "cancel_queued",
        lead,
        "placed",
        "placed",
    )
    assert queued.detail == {"run_id": run.pk, "emails": ["jane@tryacme.org"]}


def test_a_refused_confirmation_queues_nothing(
    cancellable, lead, operator, sent, django_capture_on_commit_callbacks
):
    for by, confirmation, words in (
        (lead, "yes", 'Type "cancel 1 mailbox" to confirm.'),
        (operator, "cancel 1 mailbox", "Only a lead"),
    ):
        with (
            django_capture_on_commit_callbacks(execute=True),
            pytest.raises(cancellation.CancelError, match=words),
        ):
            cancellation_runs.cancellation_request(
                order=cancellable,
                by=by,
                domains=["tryacme.org"],
                confirmation=confirmation,
            )

    assert sent == []
    assert not CancellationRun.objects.exists()


def test_the_worker_cancels_at_instantly_once_and_a_redelivery_not_again(
    cancellable, lead, remote, sent, django_capture_on_commit_callbacks
):
    run = request_run(
        cancellable,
        lead,
        django_capture_on_commit_callbacks,
        mailbox_ids=[
            mailbox(cancellable, "jane@tryacme.org").pk,
            mailbox(cancellable, "jane@acme-mail.com").pk,
        ],
    )
    message = dict(sent[0])

    assert work(sent) == 1
    tasks.cancel_mailboxes_task(**message)  # the same message, delivered again
    again = cancellation_runs.cancellation_run_execute(run_id=run.pk)

    run.refresh_from_db()
    cancellable.refresh_from_db()
    assert remote.requests("accounts/cancel") == 1
    assert again == run
    assert run.status == CancellationStatus.DONE
    assert run.results == {
        "jane@acme-mail.com": "cancelled",
        "jane@tryacme.org": "cancelled",
    }
    assert run.error == ""
    assert run.created_at <= run.started_at <= run.finished_at
    assert cancellable.status == OrderStatus.PARTIALLY_CANCELLED
    assert mailbox(cancellable, "jane@tryacme.org").status == MailboxStatus.CANCELLED
    assert mailbox(cancellable, "john@acme-mail.com").status == MailboxStatus.REQUESTED
    assert DomainOrder.objects.get(domain="tryacme.org").timestamp_cancelled is not None
    assert list(cancellable.events.values_list("kind", flat=True))[-3:] == [
        "cancel_queued",
        "cancel_request",
        "mailboxes_cancelled",
    ]


def test_a_run_found_running_recently_is_not_sent_again(
    cancellable, lead, remote, sent, django_capture_on_commit_callbacks, caplog
):
    run = request_run(
        cancellable, lead, django_capture_on_commit_callbacks, domains=["tryacme.org"]
    )
    CancellationRun.objects.filter(pk=run.pk).update(
        status=CancellationStatus.RUNNING, started_at=timezone.now()
    )

    with caplog.at_level(logging.WARNING, logger="orders.cancellation"):
        work(sent)

    run.refresh_from_db()
    assert remote.requests("accounts/cancel") == 0
    assert run.status == CancellationStatus.RUNNING
    assert run.finished_at is None
    assert [r.getMessage() for r in caplog.records] == [
        f"order {cancellable.pk}: cancellation run {run.pk} is already running; "
        "not sent again"
    ]
    assert cancellation_runs.cancellation_run_execute(run_id=run.pk + 1) is None


def test_a_run_whose_worker_stopped_mid_call_is_settled_by_reading_not_resent(
    cancellable, lead, remote, sent, django_capture_on_commit_callbacks
):
    run = request_run(
        cancellable, lead, django_capture_on_commit_callbacks, domains=["tryacme.org"]
    )
    sent.clear()
    # A worker claimed the run and sent the call, then died before recording the answer.
    CancellationRun.objects.filter(pk=run.pk).update(
        status=CancellationStatus.RUNNING,
        started_at=timezone.now()
        - timedelta(seconds=cancellation_runs.RUN_STALE_SECONDS + 1),
    )
    with instantly_keys.instantly_client_for(workspace=cancellable.workspace) as client:
        client.cancel_accounts(["jane@tryacme.org"])

    with django_capture_on_commit_callbacks(execute=True):
        assert cancellation_runs.cancellation_runs_sweep() == 1
    assert work(sent) == 1

    run.refresh_from_db()
    cancellable.refresh_from_db()
    assert remote.requests("accounts/cancel") == 1  # the dead worker's call only
    assert run.status == CancellationStatus.DONE
    assert run.results == {"jane@tryacme.org": "cancelled"}
    assert mailbox(cancellable, "jane@tryacme.org").status == MailboxStatus.CANCELLED
    assert cancellable.status == OrderStatus.PARTIALLY_CANCELLED
    assert cancellable.events.last().kind == "mailboxes_cancelled"
    # Settled once: the next sweep finds nothing to send.
    assert cancellation_runs.cancellation_runs_sweep() == 0


def test_the_sweep_resends_only_runs_past_their_bound(
    cancellable, lead, remote, sent, django_capture_on_commit_callbacks
):
    now = timezone.now()
    runs = []
    for domain in ("acme-mail.com", "tryacme.org"):
        runs.append(
            request_run(
                cancellable, lead, django_capture_on_commit_callbacks, domains=[domain]
            )
        )
        # One run at a time per order: let the first look finished while the next is made.
        CancellationRun.objects.filter(pk=runs[-1].pk).update(
            status=CancellationStatus.DONE
        )
    lost_message, fresh = runs
    CancellationRun.objects.filter(pk=lost_message.pk).update(
        status=CancellationStatus.QUEUED,
        created_at=now - timedelta(seconds=cancellation_runs.RUN_REQUEUE_SECONDS + 1),
    )
    CancellationRun.objects.filter(pk=fresh.pk).update(
        status=CancellationStatus.QUEUED, created_at=now
    )
    sent.clear()

    with django_capture_on_commit_callbacks(execute=True):
        assert cancellation_runs.cancellation_runs_sweep(now=now) == 1
    assert sent == [{"run_id": lost_message.pk}]


def test_no_second_run_while_one_is_queued_or_running(
    cancellable, lead, remote, sent, django_capture_on_commit_callbacks
):
    first = request_run(
        cancellable, lead, django_capture_on_commit_callbacks, domains=["tryacme.org"]
    )
    for status in (CancellationStatus.QUEUED, CancellationStatus.RUNNING):
        CancellationRun.objects.filter(pk=first.pk).update(status=status)
        with pytest.raises(cancellation.CancelError) as refused:
            request_run(
                cancellable,
                lead,
                django_capture_on_commit_callbacks,
                domains=["acme-mail.com"],
            )
        assert str(refused.value) == (
            "A cancellation of this order is already in progress."
        )
    assert sent == [{"run_id": first.pk}]
    assert list(CancellationRun.objects.values_list("pk", flat=True)) == [first.pk]

    CancellationRun.objects.filter(pk=first.pk).update(status=CancellationStatus.DONE)
    second = request_run(
        cancellable, lead, django_capture_on_commit_callbacks, domains=["acme-mail.com"]
    )
    assert sent[-1] == {"run_id": second.pk}


def test_the_cancel_view_refuses_a_second_run_in_the_same_words(
    client, cancellable, lead, workspace, sent, django_capture_on_commit_callbacks
):
    client.force_login(lead)
    url = reverse("orders:cancel", args=[workspace.slug, cancellable.pk])
    confirm = {
        "step": "confirm",
        "domain": ["tryacme.org"],
        "confirmation": "cancel 1 mailbox",
    }

    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, confirm, headers=HX)
        again = client.post(url, confirm, headers=HX)

    assert "A cancellation of this order is already in progress." in (
        again.content.decode()
    )
    assert len(sent) == 1
    assert CancellationRun.objects.count() == 1


def test_a_refused_cancel_fails_the_run_and_the_page_says_why(
    client, cancellable, lead, remote, django_capture_on_commit_callbacks
):
    class Refusing:
        def __init__(self) -> None:
            self.calls = 0

        def cancel_accounts(self, emails):  # type: ignore[no-untyped-def]
            self.calls += 1
            raise InstantlyError("Account not found", status_code=404)

    refusing = Refusing()
    run = request_run(
        cancellable, lead, django_capture_on_commit_callbacks, domains=["tryacme.org"]
    )

    cancellation_runs.cancellation_run_execute(
        run_id=run.pk, client=cast(InstantlyClient, refusing)
    )
    cancellation_runs.cancellation_run_execute(
        run_id=run.pk, client=cast(InstantlyClient, refusing)
    )

    run.refresh_from_db()
    assert refusing.calls == 1
    assert run.status == CancellationStatus.FAILED
    assert run.error == "Instantly did not cancel anything: Account not found"
    assert run.results == {}
    assert run.finished_at is not None
    assert [e.kind for e in cancellable.events.order_by("pk")][-3:] == [
        "cancel_queued",
        "cancel_request",
        "cancel_failed",
    ]
    client.force_login(lead)
    page = client.get(cancellable.get_absolute_url()).content.decode()
    block = page[page.index('id="cancel-run"') : page.index('id="cancel-panel"')]
    assert "Failed" in block
    assert "Instantly did not cancel anything: Account not found" in block
    assert "hx-get" not in block
    assert 'id="cancel-choose"' in page  # the panel is back: nothing was cancelled


def test_a_long_refusal_is_kept_to_the_length_of_the_runs_error(
    cancellable, lead, django_capture_on_commit_callbacks
):
    class Refusing:
        def cancel_accounts(self, emails):  # type: ignore[no-untyped-def]
            raise InstantlyError("x" * 400, status_code=422)

    run = request_run(
        cancellable, lead, django_capture_on_commit_callbacks, domains=["tryacme.org"]
    )

    cancellation_runs.cancellation_run_execute(
        run_id=run.pk, client=cast(InstantlyClient, Refusing())
    )

    run.refresh_from_db()
    assert run.error == f"Instantly did not cancel anything: {'x' * 400}"[:300]


def test_a_run_the_order_no_longer_allows_sends_nothing_and_says_why(
    cancellable, lead, remote, sent, django_capture_on_commit_callbacks
):
    tryacme = request_run(
        cancellable, lead, django_capture_on_commit_callbacks, domains=["tryacme.org"]
    )
    Order.objects.filter(pk=cancellable.pk).update(status=OrderStatus.CANCELLED)

    work(sent)

    tryacme.refresh_from_db()
    message = "This order is cancelled; only placed orders have mailboxes to cancel."
    assert remote.requests("accounts/cancel") == 0
    assert (tryacme.status, tryacme.error) == (CancellationStatus.FAILED, message)
    last = cancellable.events.order_by("-pk").first()
    assert (last.kind, last.actor, last.detail) == (
        "cancel_failed",
        lead,
        {"message": message},
    )


def test_a_mailbox_cancelled_since_the_confirmation_is_not_sent_again(
    cancellable, lead, remote, sent, django_capture_on_commit_callbacks
):
    run = request_run(
        cancellable,
        lead,
        django_capture_on_commit_callbacks,
        domains=["acme-mail.com"],
    )
    Mailbox.objects.filter(pk=mailbox(cancellable, "john@acme-mail.com").pk).update(
        status=MailboxStatus.CANCELLED
    )

    work(sent)

    run.refresh_from_db()
    request = cancellable.events.get(kind="cancel_request")
    assert request.detail["emails"] == ["jane@acme-mail.com"]
    assert run.results == {"jane@acme-mail.com": "cancelled"}
    assert remote.requests("accounts/cancel") == 1


def test_a_run_without_a_key_fails_before_anything_is_sent(
    cancellable, lead, remote, sent, django_capture_on_commit_callbacks
):
    run = request_run(
        cancellable, lead, django_capture_on_commit_callbacks, domains=["tryacme.org"]
    )
    InstantlyKey.objects.filter(workspace=cancellable.workspace).delete()

    work(sent)

    run.refresh_from_db()
    assert run.status == CancellationStatus.FAILED
    assert run.error
    assert remote.requests("accounts/cancel") == 0
    kinds = list(cancellable.events.values_list("kind", flat=True))
    assert kinds[-2:] == ["cancel_queued", "cancel_failed"]


# --- the views ----------------------------------------------------------------------------


def test_cancel_views_preview_then_confirm_over_htmx(
    client,
    cancellable,
    lead,
    workspace,
    remote,
    sent,
    django_capture_on_commit_callbacks,
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
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(
            url,
            {
                "step": "confirm",
                "mailbox": [target.pk],
                "confirmation": "cancel 1 mailbox",
            },
            headers=HX,
        )
    run = CancellationRun.objects.get()
    queued = client.get(cancellable.get_absolute_url()).content.decode()

    preview_html = preview.content.decode()
    assert "<html" not in preview_html
    assert 'id="cancel-panel"' in preview_html
    assert "so the domain tryacme.org is cancelled too" in preview_html
    assert 'id="unibox-warning"' in preview_html
    assert "<code>cancel 1 mailbox</code>" in preview_html
    assert "Type &quot;cancel 1 mailbox&quot; to confirm" in wrong.content.decode()
    assert done["HX-Redirect"] == cancellable.get_absolute_url()
    assert json.loads(done["HX-Trigger"]) == {
        "cancellationQueued": {"id": cancellable.pk, "run": run.pk}
    }
    assert sent == [{"run_id": run.pk}]
    assert remote.requests("accounts/cancel") == 0
    assert (
        "Cancellation queued: 1 mailbox will be cancelled at Instantly in the "
        "background; this page shows the result." in queued
    )
    assert f'hx-get="{url}?run={run.pk}"' in queued
    assert "1 mailbox will be cancelled at Instantly" in queued
    assert 'id="cancel-panel"' not in queued  # one cancellation at a time

    work(sent)

    target.refresh_from_db()
    assert target.status == MailboxStatus.CANCELLED
    assert remote.requests("accounts/cancel") == 1
    page = client.get(cancellable.get_absolute_url()).content.decode()
    results = page[page.index('id="cancel-results"') :]
    assert "jane@tryacme.org</td><td>Cancelled" in results
    assert "1 of 1 mailboxes cancelled." in page
    assert f"?run={run.pk}" not in page  # nothing left to poll


def test_cancel_views_plain_branch_shows_page_then_redirects(
    client, cancellable, lead, workspace, sent, django_capture_on_commit_callbacks
):
    client.force_login(lead)
    url = reverse("orders:cancel", args=[workspace.slug, cancellable.pk])

    page = client.post(url, {"step": "preview", "domain": ["tryacme.org"]})
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(
            url,
            {
                "step": "confirm",
                "domain": ["tryacme.org"],
                "confirmation": "cancel 1 mailbox",
            },
        )
    queued = client.get(done["Location"]).content.decode()
    work(sent)
    detail = client.get(done["Location"])

    assert "<html" in page.content.decode()
    assert "You are about to cancel 1 mailbox" in page.content.decode()
    assert done.status_code == 302
    assert done["Location"] == cancellable.get_absolute_url()
    assert "Cancellation queued: 1 mailbox will be cancelled" in queued
    # Without JavaScript a reload shows where the run is.
    assert "1 mailbox will be cancelled at Instantly as soon as a worker" in queued
    assert "Last cancellation" in detail.content.decode()
    assert "1 of 1 mailboxes cancelled." in detail.content.decode()


def test_the_polled_block_while_queued_and_once_done(
    client, cancellable, lead, workspace, sent, django_capture_on_commit_callbacks
):
    client.force_login(lead)
    url = reverse("orders:cancel", args=[workspace.slug, cancellable.pk])
    nothing = client.get(url, headers=HX)
    run = request_run(
        cancellable, lead, django_capture_on_commit_callbacks, domains=["tryacme.org"]
    )

    queued = client.get(f"{url}?run={run.pk}", headers=HX)
    work(sent)
    ended = client.get(f"{url}?run={run.pk}", headers=HX)
    done = client.get(url, headers=HX)
    plain = client.get(url)

    assert nothing.status_code == 286
    assert 'id="cancel-run"' in nothing.content.decode()
    assert queued.status_code == 200
    queued_html = queued.content.decode()
    assert "<html" not in queued_html
    assert f'hx-get="{url}?run={run.pk}"' in queued_html
    assert 'hx-trigger="every 2s"' in queued_html
    assert "1 mailbox will be cancelled at Instantly" in queued_html
    # The run the page showed has ended: the whole page reloads (status, mailboxes, results).
    assert ended["HX-Refresh"] == "true"
    assert done.status_code == 286
    done_html = done.content.decode()
    assert "1 of 1 mailboxes cancelled." in done_html
    assert "hx-get" not in done_html
    assert (plain.status_code, plain["Location"]) == (
        302,
        cancellable.get_absolute_url(),
    )


def test_only_a_leads_page_polls_the_run(
    client, cancellable, lead, operator, workspace, django_capture_on_commit_callbacks
):
    request_run(
        cancellable, lead, django_capture_on_commit_callbacks, domains=["tryacme.org"]
    )
    url = reverse("orders:cancel", args=[workspace.slug, cancellable.pk])

    client.force_login(operator)
    page = client.get(cancellable.get_absolute_url()).content.decode()
    poll = client.get(url, headers=HX)

    assert "1 mailbox will be cancelled at Instantly" in page
    assert "hx-get" not in page[page.index('id="cancel-run"') :].split("</div>")[0]
    assert poll.status_code == 403


def test_runs_are_read_only_in_the_admin(
    client, admin_user, cancellable, lead, django_capture_on_commit_callbacks
):
    run = request_run(
        cancellable, lead, django_capture_on_commit_callbacks, domains=["tryacme.org"]
    )
    client.force_login(admin_user)

    listing = client.get(reverse("admin:orders_cancellationrun_changelist"))
    page = client.get(reverse("admin:orders_cancellationrun_change", args=[run.pk]))
    change = client.post(
        reverse("admin:orders_cancellationrun_change", args=[run.pk]),
        {"status": "done"},
    )
    add = client.get(reverse("admin:orders_cancellationrun_add"))

    assert (listing.status_code, page.status_code) == (200, 200)
    assert "jane@tryacme.org" in page.content.decode()
    assert "Queued" in listing.content.decode()
    assert (change.status_code, add.status_code) == (403, 403)
    run.refresh_from_db()
    assert run.status == CancellationStatus.QUEUED


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


def test_the_runs_list_does_not_grow_in_queries_with_its_rows(
    client, admin_user, cancellable, lead, workspace, monkeypatch
):
    from orders.admin.records import CancellationRunAdmin

    for _ in range(6):
        CancellationRun.objects.create(
            workspace=workspace,
            order=cancellable,
            requested_by=lead,
            emails=["jane@tryacme.org"],
            status=CancellationStatus.DONE,
        )
    client.force_login(admin_user)
    url = reverse("admin:orders_cancellationrun_changelist")

    def count(per_page: int) -> int:
        monkeypatch.setattr(CancellationRunAdmin, "list_per_page", per_page)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    count(2)  # warm the session and content types
    assert count(2) == count(6)
