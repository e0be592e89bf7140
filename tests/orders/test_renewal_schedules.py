"""Cancellations scheduled before a renewal, against the in-process sandbox: scheduling (the
saving, when a lead's approval is needed), four-eyes approval, withdrawal, bad input in
words, the beat's run of due schedules through the ordinary cancellation run (what was
cancelled meanwhile is skipped and said), and the views' plain and htmx branches."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import cast

import pytest
from django.core import mail
from django.urls import reverse

from orders import renewal_schedules, tasks
from orders.models import (
    CancellationRun,
    CancellationStatus,
    Mailbox,
    MailboxStatus,
    Membership,
    OrderEvent,
    OrderStatus,
    ScheduledCancellation,
    ScheduleStatus,
)
from sandbox.models import DfyAccount
from tests.factories import MembershipFactory, UserFactory
from tests.orders.history_data import aware, make_order
from tests.task_capture import recorded

pytestmark = pytest.mark.django_db
HX = {"HX-Request": "true"}
# The cancellable order's next renewal is 15 Jan 2027: it runs on the 14th.
NOW = aware(2026, 12, 20)
RUN_DAY = aware(2027, 1, 14, hour=1)
Error = renewal_schedules.RenewalScheduleError


def mailbox(order, email):  # type: ignore[no-untyped-def]
    prefix, domain = email.split("@")
    return Mailbox.objects.get(
        item__order=order, item__domain=domain, email_prefix=prefix
    )


def kinds(order) -> list[str]:  # type: ignore[no-untyped-def]
    return list(
        OrderEvent.objects.filter(order=order, kind__startswith="renewal_").values_list(
            "kind", flat=True
        )
    )


@pytest.fixture
def lead2(workspace):  # type: ignore[no-untyped-def]
    return MembershipFactory(
        workspace=workspace, role="lead", user=UserFactory(username="lena")
    ).user


def schedule(order, by, *, now=NOW, **chosen):  # type: ignore[no-untyped-def]
    return renewal_schedules.renewal_cancel_schedule(
        order=order, by=by, now=now, **chosen
    )


# --- scheduling ---------------------------------------------------------------------------


def test_a_lead_schedules_a_small_cancellation_that_needs_no_approval(
    cancellable, lead
):
    mail.outbox.clear()

    made = schedule(
        cancellable, lead, mailbox_ids=[mailbox(cancellable, "jane@acme-mail.com").pk]
    )

    assert made.status == ScheduleStatus.SCHEDULED
    assert (made.renewal_on, made.run_on) == (date(2027, 1, 15), date(2027, 1, 14))
    assert made.emails == ["jane@acme-mail.com"]
    assert made.monthly_saving == Decimal("5.00")
    assert made.yearly_saving == Decimal("0.00")
    assert made.breakdown == {"1": [1, 0]}
    event = OrderEvent.objects.get(order=cancellable, kind="renewal_cancel_scheduled")
    assert event.actor == lead
    assert event.detail["summary"] == (
        "1 mailbox of Q3 (acme-mail.com) to be cancelled on 14 Jan 2027, before the "
        "15 Jan 2027 renewal; saves $5.00 a month."
    )
    assert not mail.outbox


def test_a_whole_domain_saves_its_mailboxes_and_its_year(cancellable, lead):
    made = schedule(cancellable, lead, domains=["TryAcme.org "])

    assert made.emails == ["jane@tryacme.org"]
    assert made.domains == ["tryacme.org"]
    assert (made.monthly_saving, made.yearly_saving) == (
        Decimal("5.00"),
        Decimal("15.00"),
    )
    assert (
        "and $15.00 a year of domains"
        in OrderEvent.objects.get(kind="renewal_cancel_scheduled").detail["summary"]
    )


def test_more_than_the_threshold_waits_for_a_lead_and_tells_the_approvers(
    cancellable, lead, lead2, settings, django_capture_on_commit_callbacks
):
    settings.DFY_SCHEDULED_CANCEL_APPROVAL_OVER = 1
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        made = schedule(cancellable, lead, domains=["acme-mail.com"])

    assert made.status == ScheduleStatus.AWAITING_APPROVAL
    assert (
        "A lead other than leo must approve it."
        in OrderEvent.objects.get(kind="renewal_cancel_scheduled").detail["summary"]
    )
    # To the workspace's other leads and admins: never to the one who scheduled it, who
    # may not approve it.
    told = {to for m in mail.outbox for to in m.to}
    assert {m.subject for m in mail.outbox} == {
        "Approve a cancellation before renewal: Q3"
    }
    assert "lena@example.test" in told
    assert lead.email
    assert lead.email not in told


def test_an_operator_always_needs_a_lead(cancellable, operator):
    made = schedule(
        cancellable, operator, mailbox_ids=[mailbox(cancellable, "jane@tryacme.org").pk]
    )

    assert made.status == ScheduleStatus.AWAITING_APPROVAL


@pytest.mark.parametrize(
    ("chosen", "message"),
    [
        ({}, "Choose at least one mailbox or domain to cancel before the renewal."),
        ({"domains": ["  "]}, "Choose at least one mailbox or domain"),
        ({"domains": ["elsewhere.com"]}, "elsewhere.com is not a domain of Q3."),
        ({"mailbox_ids": [999999]}, "Mailbox #999999 is not a mailbox of Q3."),
    ],
)
def test_bad_choices_are_refused_in_words(cancellable, lead, chosen, message):
    with pytest.raises(Error, match=message):
        schedule(cancellable, lead, **chosen)

    assert not ScheduledCancellation.objects.exists()


def test_a_mailbox_of_another_order_is_foreign(cancellable, lead, workspace, operator):
    other = make_order(workspace, operator, status="ready", items=[("x.com", 1, ["z"])])
    foreign = Mailbox.objects.get(item__order=other)

    with pytest.raises(Error, match=f"Mailbox #{foreign.pk} is not a mailbox of Q3"):
        schedule(cancellable, lead, mailbox_ids=[foreign.pk])


def test_already_cancelled_mailboxes_and_domains_are_refused(cancellable, lead):
    jane = mailbox(cancellable, "jane@tryacme.org")
    Mailbox.objects.filter(pk=jane.pk).update(status=MailboxStatus.CANCELLED)

    with pytest.raises(Error, match="jane@tryacme.org is already cancelled"):
        schedule(cancellable, lead, mailbox_ids=[jane.pk])
    with pytest.raises(
        Error, match="Every mailbox of tryacme.org is already cancelled"
    ):
        schedule(cancellable, lead, domains=["tryacme.org"])


def test_a_mailbox_cannot_be_scheduled_twice(cancellable, lead):
    schedule(cancellable, lead, domains=["acme-mail.com"])

    with pytest.raises(
        Error,
        match="john@acme-mail.com is already scheduled to be cancelled before the "
        "15 Jan 2027 renewal",
    ):
        schedule(
            cancellable,
            lead,
            mailbox_ids=[mailbox(cancellable, "john@acme-mail.com").pk],
        )


def test_an_order_that_is_not_bought_cannot_be_scheduled(workspace, operator, lead):
    draft = make_order(
        workspace, operator, status="draft", title="Draft", items=[("d.com", 1, ["a"])]
    )

    with pytest.raises(Error, match="only placed orders have mailboxes to cancel"):
        schedule(draft, lead, domains=["d.com"])


def test_a_stranger_cannot_schedule(cancellable, other_workspace):
    stranger = MembershipFactory(workspace=other_workspace, role="admin").user

    with pytest.raises(Error, match="not a member of this workspace"):
        schedule(cancellable, stranger, domains=["tryacme.org"])


# --- approval and withdrawal --------------------------------------------------------------


@pytest.fixture
def awaiting(cancellable, lead, settings):  # type: ignore[no-untyped-def]
    settings.DFY_SCHEDULED_CANCEL_APPROVAL_OVER = 1
    return schedule(cancellable, lead, domains=["acme-mail.com"])


def test_four_eyes_the_scheduler_cannot_approve(awaiting, lead):
    with pytest.raises(Error, match="another lead must approve it \\(four-eyes\\)"):
        renewal_schedules.renewal_cancel_approve(schedule=awaiting, by=lead, now=NOW)

    awaiting.refresh_from_db()
    assert awaiting.status == ScheduleStatus.AWAITING_APPROVAL


def test_an_operator_cannot_approve(awaiting, operator):
    with pytest.raises(Error, match="Only a lead or a workspace admin can approve"):
        renewal_schedules.renewal_cancel_approve(
            schedule=awaiting, by=operator, now=NOW
        )


def test_another_lead_approves_once(awaiting, lead2, cancellable):
    approved = renewal_schedules.renewal_cancel_approve(
        schedule=awaiting, by=lead2, now=NOW
    )

    assert approved.status == ScheduleStatus.APPROVED
    assert approved.approved_by == lead2
    assert kinds(cancellable) == ["renewal_cancel_scheduled", "renewal_cancel_approved"]
    assert OrderEvent.objects.get(kind="renewal_cancel_approved").detail["summary"] == (
        "lena approved cancelling 2 mailboxes of Q3 on 14 Jan 2027, before the "
        "15 Jan 2027 renewal."
    )
    with pytest.raises(Error, match="This cancellation is approved: only one awaiting"):
        renewal_schedules.renewal_cancel_approve(schedule=awaiting, by=lead2, now=NOW)


def test_approval_after_the_renewal_is_refused(awaiting, lead2):
    with pytest.raises(Error, match="The 15 Jan 2027 renewal has passed"):
        renewal_schedules.renewal_cancel_approve(
            schedule=awaiting, by=lead2, now=aware(2027, 1, 15)
        )


def test_the_scheduler_withdraws_until_it_runs(cancellable, operator, lead):
    made = schedule(cancellable, operator, domains=["tryacme.org"])
    other = cast(
        Membership, MembershipFactory(workspace=cancellable.workspace, role="operator")
    ).user

    with pytest.raises(Error, match="Only the person who scheduled it or a lead"):
        renewal_schedules.renewal_cancel_unschedule(schedule=made, by=other)
    withdrawn = renewal_schedules.renewal_cancel_unschedule(schedule=made, by=operator)

    assert withdrawn.status == ScheduleStatus.UNSCHEDULED
    assert withdrawn.unscheduled_by == operator
    assert (
        "olivia withdrew cancelling 1 mailbox of Q3"
        in OrderEvent.objects.get(kind="renewal_cancel_unscheduled").detail["summary"]
    )
    with pytest.raises(Error, match="already withdrawn; it can no longer be withdrawn"):
        renewal_schedules.renewal_cancel_unschedule(schedule=made, by=lead)


# --- the beat's run -----------------------------------------------------------------------


@pytest.fixture
def sent(monkeypatch):  # type: ignore[no-untyped-def]
    return recorded(monkeypatch, "orders.run_scheduled_cancellation")


def run_day(sent, capture) -> None:  # type: ignore[no-untyped-def]
    """The beat on the run day, then the tasks it sent, as a worker would."""
    with capture(execute=True):
        tasks.run_scheduled_cancellations_task(now=RUN_DAY.isoformat())
    while sent:
        with capture(execute=True):
            tasks.run_scheduled_cancellation_task(**sent.pop(0))


def test_nothing_runs_before_the_run_day(
    cancellable, lead, sent, django_capture_on_commit_callbacks
):
    made = schedule(cancellable, lead, domains=["tryacme.org"])

    with django_capture_on_commit_callbacks(execute=True):
        due = renewal_schedules.renewal_cancels_run_due(now=aware(2027, 1, 13, 23))

    assert (due.sent, sent) == (0, [])
    assert (
        renewal_schedules.renewal_cancel_execute(
            schedule_id=made.pk, now=aware(2027, 1, 13, 23)
        )
        is None
    )


def test_on_the_run_day_the_schedule_cancels_through_a_run(
    cancellable, lead, remote, sent, django_capture_on_commit_callbacks
):
    made = schedule(cancellable, lead, domains=["tryacme.org"])
    mail.outbox.clear()

    run_day(sent, django_capture_on_commit_callbacks)

    made.refresh_from_db()
    assert made.status == ScheduleStatus.EXECUTED
    assert made.reported_at is not None
    run = CancellationRun.objects.get()
    assert made.run == run
    assert run.status == CancellationStatus.DONE
    assert run.results == {"jane@tryacme.org": "cancelled"}
    assert mailbox(cancellable, "jane@tryacme.org").status == MailboxStatus.CANCELLED
    assert (
        DfyAccount.objects.get(email="jane@tryacme.org").timestamp_cancelled is not None
    )
    cancellable.refresh_from_db()
    assert cancellable.status == OrderStatus.PARTIALLY_CANCELLED
    assert kinds(cancellable) == ["renewal_cancel_scheduled", "renewal_cancel_executed"]
    summary = OrderEvent.objects.get(kind="renewal_cancel_executed").detail["summary"]
    assert summary == (
        "1 of 1 mailbox of Q3 cancelled at Instantly before the 15 Jan 2027 renewal; "
        "saves $5.00 a month."
    )
    assert [m.subject for m in mail.outbox] == ["Cancelled before renewal: Q3"]
    assert summary in mail.outbox[0].body
    assert remote.requests("cancel") == 1

    # A second beat and a redelivered message change nothing: one cancel call in all.
    sent.append({"schedule_id": made.pk, "now": RUN_DAY.isoformat()})
    run_day(sent, django_capture_on_commit_callbacks)
    assert remote.requests("cancel") == 1
    assert CancellationRun.objects.count() == 1


def test_mailboxes_cancelled_meanwhile_are_skipped_and_said(
    cancellable, lead, remote, sent, django_capture_on_commit_callbacks
):
    made = schedule(cancellable, lead, domains=["acme-mail.com"])
    Mailbox.objects.filter(pk=mailbox(cancellable, "john@acme-mail.com").pk).update(
        status=MailboxStatus.CANCELLED
    )

    run_day(sent, django_capture_on_commit_callbacks)

    made.refresh_from_db()
    assert CancellationRun.objects.get().emails == ["jane@acme-mail.com"]
    assert made.outcome.endswith(
        "Skipped, already cancelled or no longer there: john@acme-mail.com."
    )


def test_nothing_left_to_cancel_skips_the_schedule(
    cancellable, lead, remote, sent, django_capture_on_commit_callbacks
):
    made = schedule(cancellable, lead, domains=["tryacme.org"])
    Mailbox.objects.filter(item__domain="tryacme.org").update(
        status=MailboxStatus.CANCELLED
    )

    run_day(sent, django_capture_on_commit_callbacks)

    made.refresh_from_db()
    assert made.status == ScheduleStatus.SKIPPED
    assert not CancellationRun.objects.exists()
    assert (
        "Nothing was left to cancel"
        in OrderEvent.objects.get(kind="renewal_cancel_skipped").detail["summary"]
    )
    assert remote.requests("cancel") == 0


def test_never_approved_before_the_renewal_is_skipped(
    awaiting, remote, sent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        renewal_schedules.renewal_cancels_run_due(now=aware(2027, 1, 15, 1))

    awaiting.refresh_from_db()
    assert awaiting.status == ScheduleStatus.SKIPPED
    assert awaiting.outcome == (
        "It was not approved before the 15 Jan 2027 renewal, so nothing was cancelled."
    )
    assert sent == []


def test_an_approved_schedule_runs_as_its_approver(
    awaiting, lead2, remote, sent, django_capture_on_commit_callbacks
):
    renewal_schedules.renewal_cancel_approve(schedule=awaiting, by=lead2, now=NOW)

    run_day(sent, django_capture_on_commit_callbacks)

    run = CancellationRun.objects.get()
    assert run.requested_by == lead2
    assert run.results == {
        "jane@acme-mail.com": "cancelled",
        "john@acme-mail.com": "cancelled",
    }


def test_a_cancellation_in_progress_postpones_the_schedule(
    cancellable, lead, remote, sent, django_capture_on_commit_callbacks
):
    made = schedule(cancellable, lead, domains=["tryacme.org"])
    CancellationRun.objects.create(
        workspace=cancellable.workspace,
        order=cancellable,
        requested_by=lead,
        emails=["jane@acme-mail.com"],
    )

    result = renewal_schedules.renewal_cancel_execute(schedule_id=made.pk, now=RUN_DAY)

    assert result is not None
    assert result.status == ScheduleStatus.SCHEDULED
    assert result.run is None


def test_a_run_finished_by_the_sweep_is_reported_by_the_next_beat(
    cancellable, lead, remote, sent, django_capture_on_commit_callbacks
):
    """The worker stopped after claiming: the run's sweep sent it; the beat reports it."""
    made = schedule(cancellable, lead, domains=["tryacme.org"])
    run = CancellationRun.objects.create(
        workspace=cancellable.workspace,
        order=cancellable,
        requested_by=lead,
        emails=["jane@tryacme.org"],
        status=CancellationStatus.FAILED,
        error="Instantly said no.",
    )
    ScheduledCancellation.objects.filter(pk=made.pk).update(
        status=ScheduleStatus.EXECUTED, run=run
    )

    with django_capture_on_commit_callbacks(execute=True):
        due = renewal_schedules.renewal_cancels_run_due(now=RUN_DAY)

    made.refresh_from_db()
    assert due.reported == 1
    assert made.status == ScheduleStatus.SKIPPED
    assert made.outcome.endswith("Instantly said no.")


# --- views --------------------------------------------------------------------------------


@pytest.fixture
def lead_client(client, lead):  # type: ignore[no-untyped-def]
    client.force_login(lead)
    return client


def url(name, workspace, *args):  # type: ignore[no-untyped-def]
    return reverse(f"orders:{name}", args=[workspace.slug, *args])


def test_view_schedules_domains_from_the_renewals_page(
    lead_client, cancellable, workspace
):
    item = cancellable.items.get(domain="tryacme.org")

    response = lead_client.post(
        url("renewal_schedule", workspace), {"item": [item.pk]}, follow=True
    )

    made = ScheduledCancellation.objects.get()
    assert response.redirect_chain[-1][0].endswith(f"#schedule-{made.pk}")
    html = response.content.decode()
    assert "Scheduled: 1 mailbox will be cancelled on" in html
    assert f'id="schedule-{made.pk}"' in html


def test_view_schedules_from_the_order_page_with_htmx(
    lead_client, cancellable, workspace
):
    response = lead_client.post(
        url("renewal_schedule", workspace),
        {
            "order": cancellable.pk,
            "mailbox": [mailbox(cancellable, "jane@acme-mail.com").pk],
            "step": "preview",
        },
        headers=HX,
    )

    assert response.status_code == 200
    assert response["HX-Redirect"].startswith(url("renewals", workspace))
    assert ScheduledCancellation.objects.get().emails == ["jane@acme-mail.com"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"item": ["abc"]}, "item: &quot;abc&quot; is not a number."),
        ({}, "Choose at least one domain to cancel before the renewal."),
        ({"item": ["999999"]}, "Domain #999999 is not a domain of this workspace."),
        ({"order": "x"}, "order: enter the order"),
    ],
)
def test_view_bad_input_is_a_message_not_a_500(
    lead_client, cancellable, workspace, data, message
):
    response = lead_client.post(url("renewal_schedule", workspace), data, follow=True)

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not ScheduledCancellation.objects.exists()


def test_view_another_workspaces_order_is_404(
    lead_client, workspace, other_workspace, operator
):
    foreign = make_order(other_workspace, operator, status="ready")

    response = lead_client.post(
        url("renewal_schedule", workspace),
        {"order": foreign.pk, "domain": ["alpha.com"]},
    )

    assert response.status_code == 404


def test_view_order_page_errors_go_back_to_the_order(
    lead_client, cancellable, workspace
):
    response = lead_client.post(
        url("renewal_schedule", workspace), {"order": cancellable.pk}, follow=True
    )

    assert response.redirect_chain[-1][0] == cancellable.get_absolute_url()
    assert "Choose at least one mailbox or domain" in response.content.decode()


def test_view_approve_and_withdraw(client, awaiting, workspace, lead, lead2):
    client.force_login(lead)
    page = client.get(url("renewals", workspace)).content.decode()
    assert (
        f'id="approve-{awaiting.pk}"' not in page
    )  # four-eyes: not offered to its author
    refused = client.post(url("renewal_approve", workspace, awaiting.pk), follow=True)
    assert "another lead must approve it" in refused.content.decode()

    client.force_login(lead2)
    assert (
        f'id="approve-{awaiting.pk}"'
        in client.get(url("renewals", workspace)).content.decode()
    )
    approved = client.post(url("renewal_approve", workspace, awaiting.pk), follow=True)
    withdrawn = client.post(
        url("renewal_unschedule", workspace, awaiting.pk), headers=HX
    )

    assert "Approved: it runs on its day." in approved.content.decode()
    assert withdrawn["HX-Redirect"].endswith(f"#schedule-{awaiting.pk}")
    awaiting.refresh_from_db()
    assert awaiting.status == ScheduleStatus.UNSCHEDULED
    again = client.post(url("renewal_unschedule", workspace, awaiting.pk), follow=True)
    assert "it can no longer be withdrawn" in again.content.decode()


def test_view_a_schedule_of_another_workspace_is_404(
    lead_client, workspace, other_workspace
):
    response = lead_client.post(url("renewal_approve", workspace, 424242))

    assert response.status_code == 404


def test_order_page_offers_to_cancel_before_the_renewal(lead_client, cancellable):
    html = lead_client.get(cancellable.get_absolute_url()).content.decode()

    assert 'id="schedule-renewal-cancel"' in html


def test_a_schedule_names_itself(cancellable, lead):
    made = schedule(cancellable, lead, domains=["tryacme.org"])

    assert str(made) == "Cancel 1 mailbox before 2027-01-15"


def test_view_too_many_choices_are_refused_before_any_query(
    lead_client, cancellable, workspace
):
    response = lead_client.post(
        url("renewal_schedule", workspace), {"item": ["1"] * 1001}, follow=True
    )

    assert "item: Choose at most 1,000 at once." in response.content.decode()


def test_a_run_that_left_some_mailboxes_names_them_once(cancellable, lead):
    made = schedule(cancellable, lead, domains=["acme-mail.com"])
    run = CancellationRun.objects.create(
        workspace=cancellable.workspace,
        order=cancellable,
        requested_by=lead,
        emails=["jane@acme-mail.com", "john@acme-mail.com"],
        status=CancellationStatus.DONE,
        results={
            "jane@acme-mail.com": "cancelled",
            "john@acme-mail.com": "not_cancelled",
        },
    )
    ScheduledCancellation.objects.filter(pk=made.pk).update(
        status=ScheduleStatus.EXECUTED, run=run
    )

    assert renewal_schedules._report(made.pk, RUN_DAY)
    assert not renewal_schedules._report(made.pk, RUN_DAY)  # recorded once

    made.refresh_from_db()
    assert made.status == ScheduleStatus.EXECUTED
    assert made.outcome.startswith("1 of 2 mailboxes of Q3 cancelled at Instantly")
    assert made.outcome.endswith("Not cancelled: john@acme-mail.com.")
    assert OrderEvent.objects.filter(kind="renewal_cancel_executed").count() == 1


def test_skipping_twice_or_a_gone_schedule_does_nothing(cancellable, lead):
    made = schedule(cancellable, lead, domains=["tryacme.org"])
    statuses = {ScheduleStatus.SCHEDULED}

    assert renewal_schedules._skip(made.pk, statuses, "First.", RUN_DAY)
    assert not renewal_schedules._skip(made.pk, statuses, "Again.", RUN_DAY)
    assert not renewal_schedules._skip(424242, statuses, "Gone.", RUN_DAY)
    assert not renewal_schedules._report(424242, RUN_DAY)
    assert OrderEvent.objects.filter(kind="renewal_cancel_skipped").count() == 1


def test_a_scheduled_mailbox_cancelled_by_hand_meanwhile_is_taken_off_once(
    cancellable, lead
):
    from orders import cancellation_runs, renewals

    before = renewals.renewal_forecast(workspace=cancellable.workspace, now=NOW)
    schedule(
        cancellable, lead, mailbox_ids=[mailbox(cancellable, "jane@tryacme.org").pk]
    )
    scheduled = renewals.renewal_forecast(workspace=cancellable.workspace, now=NOW)
    assert scheduled.scheduled_monthly == Decimal("5.00")
    assert scheduled.next.total == before.next.total - Decimal("5.00")

    cancellation_runs.order_cancel_mailboxes(
        order=cancellable,
        by=lead,
        domains=["tryacme.org"],
        confirmation="cancel 1 mailbox",
    )

    after = renewals.renewal_forecast(workspace=cancellable.workspace, now=NOW)
    # The mailbox no longer renews (the tally lost it); the schedule saves nothing more.
    assert after.next.total == before.next.total - Decimal("5.00")
    assert after.scheduled_monthly == Decimal("0.00")
