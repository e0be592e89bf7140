"""Burn-and-replace (orders/burns.py) against the in-process sandbox: marking a delivered
domain records the burn, schedules its cancellation before the next renewal through the
ordinary schedule (with its approval rules) and drafts a replacement of the same shape;
refusals in words; the one-click follow-ups when the automatic part could not be done."""

from __future__ import annotations

from datetime import date
from typing import Any, cast

import pytest
from django.contrib.auth.models import User
from django.core import mail

from orders import burns, order_shapes, renewal_schedules
from orders.models import (
    DomainBurn,
    DomainCheck,
    Mailbox,
    MailboxStatus,
    Order,
    OrderEvent,
    OrderItem,
    OrderStatus,
    RemoteDomain,
    ScheduleStatus,
)
from orders.rules import DraftMailbox
from tests.factories import MembershipFactory, UserFactory
from tests.orders.history_data import aware, make_order

pytestmark = pytest.mark.django_db
# The next renewal after this is 15 Jan 2027; its schedule runs on the 14th.
NOW = aware(2026, 12, 20)


def member(workspace: Any, role: str, **kwargs: Any) -> User:
    return cast(
        "User", MembershipFactory(workspace=workspace, role=role, **kwargs).user
    )


@pytest.fixture
def lead2(workspace: Any) -> User:
    return member(workspace, "lead", user=UserFactory(username="lena"))


def item(order: Order, domain: str = "acme-mail.com") -> OrderItem:
    return OrderItem.objects.get(order=order, domain=domain)


def mark(order: Order, by: User, domain: str = "acme-mail.com", **kwargs: Any) -> Any:
    kwargs.setdefault("reason", "blacklisted")
    return burns.domain_burn_mark(item=item(order, domain), by=by, now=NOW, **kwargs)


def kinds(order: Order) -> list[str]:
    return list(
        OrderEvent.objects.filter(order=order)
        .order_by("pk")
        .values_list("kind", flat=True)
    )


def summary(order: Order, kind: str) -> str:
    return str(OrderEvent.objects.get(order=order, kind=kind).detail["summary"])


# --- marking ------------------------------------------------------------------------------


def test_a_lead_marks_a_delivered_domain_and_gets_a_replacement_and_a_schedule(
    ready, lead
):
    outcome = mark(ready, lead, note="Spamhaus listed it")

    burn = DomainBurn.objects.select_related("replacement", "schedule").get()
    assert (burn.item.domain, burn.reason, burn.note, burn.marked_by) == (
        "acme-mail.com",
        "blacklisted",
        "Spamhaus listed it",
        lead,
    )
    assert burn.workspace_id == ready.workspace_id
    # The schedule: the whole domain, before the next renewal, as a lead's small schedule.
    schedule = burn.schedule
    assert schedule is not None
    assert schedule.status == ScheduleStatus.SCHEDULED
    assert schedule.domains == ["acme-mail.com"]
    assert sorted(schedule.emails) == ["jane@acme-mail.com", "john@acme-mail.com"]
    assert (schedule.renewal_on, schedule.run_on) == (
        date(2027, 1, 15),
        date(2027, 1, 14),
    )
    assert schedule.scheduled_by == lead
    # The replacement: a draft of one new domain with the same provider and people.
    replacement = burn.replacement
    assert replacement is not None
    assert replacement.status == OrderStatus.DRAFT
    assert replacement.order_type == "dfy"
    assert replacement.requester == lead
    assert replacement.title == f"Replaces acme-mail.com (burned, Q3 #{ready.pk})"
    new = replacement.items.get()
    assert new.domain != "acme-mail.com"
    assert new.provider == 1
    assert new.forwarding_domain == ""
    assert [
        (m.first_name, m.last_name, m.email_prefix) for m in new.mailboxes.all()
    ] == [("Jane", "Roe", "jane"), ("John", "Roe", "john")]
    assert DomainCheck.objects.filter(order=replacement).count() == 1
    assert outcome.problems == []
    assert outcome.notice == (
        "acme-mail.com is marked burned (Blacklisted). Its replacement is drafted as "
        f"order #{replacement.pk}: check it and submit it for approval. Its mailboxes "
        "will be cancelled on "
        "14 Jan 2027, before the 15 Jan 2027 renewal."
    )


def test_marking_records_the_events_on_both_timelines(ready, lead):
    mark(ready, lead, reason="poor_placement", note="20% inbox")

    burn = DomainBurn.objects.get()
    replacement = burn.replacement
    assert replacement is not None
    assert kinds(ready)[-3:] == [
        "domain_burned",
        "renewal_cancel_scheduled",
        "burn_replacement_drafted",
    ]
    assert summary(ready, "domain_burned") == (
        "acme-mail.com: Poor inbox placement (20% inbox)."
    )
    event = OrderEvent.objects.get(order=ready, kind="domain_burned")
    assert (event.actor, event.detail["burn_id"], event.detail["burn_reason"]) == (
        lead,
        burn.pk,
        "poor_placement",
    )
    assert summary(ready, "burn_replacement_drafted") == (
        f"Order #{replacement.pk} drafted in place of acme-mail.com, with "
        f"{replacement.items.get().domain}."
    )
    assert kinds(replacement) == ["created", "burn_replaces"]
    assert summary(replacement, "burn_replaces") == (
        f"Replaces acme-mail.com, burned on Q3 (#{ready.pk})."
    )


def test_an_operator_s_mark_waits_for_a_lead_s_approval_of_the_cancellation(
    ready, operator, lead, django_capture_on_commit_callbacks
):
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        outcome = mark(ready, operator)

    schedule = DomainBurn.objects.get().schedule
    assert schedule is not None
    assert schedule.status == ScheduleStatus.AWAITING_APPROVAL
    assert "waits for a lead's approval" in outcome.notice
    # The workspace's leads are asked, never the operator who marked it.
    assert [m.to for m in mail.outbox] == [[lead.email]]


def test_the_replacement_keeps_the_domain_s_forwarding_as_last_known(
    ready, lead, workspace
):
    """Forwarding changed after the purchase is what Instantly's list (the mirror) says;
    without a mirror row, what the order asked for."""
    RemoteDomain.objects.update_or_create(
        workspace=workspace,
        domain="acme-mail.com",
        defaults={"forwarding_domain": "acme.com", "forwarding_mode": "redirect"},
    )
    OrderItem.objects.filter(order=ready, domain="tryacme.org").update(
        forwarding_domain="acme.org"
    )
    RemoteDomain.objects.filter(workspace=workspace, domain="tryacme.org").delete()

    mark(ready, lead)
    mark(ready, lead, domain="tryacme.org")

    first, second = DomainBurn.objects.order_by("pk")
    assert first.replacement is not None
    assert second.replacement is not None
    assert first.replacement.items.get().forwarding_domain == "acme.com"
    assert second.replacement.items.get().forwarding_domain == "acme.org"


def test_only_the_live_mailboxes_of_a_partly_cancelled_domain_are_replaced(ready, lead):
    Mailbox.objects.filter(item__order=ready, email_prefix="john").update(
        status=MailboxStatus.CANCELLED
    )
    Order.objects.filter(pk=ready.pk).update(status=OrderStatus.PARTIALLY_CANCELLED)

    mark(ready, lead)

    burn = DomainBurn.objects.get()
    assert burn.replacement is not None
    assert [m.email_prefix for m in burn.replacement.items.get().mailboxes.all()] == [
        "jane"
    ]
    assert burn.schedule is not None
    assert burn.schedule.emails == ["jane@acme-mail.com"]


def test_an_open_schedule_covering_the_domain_is_linked_not_doubled(ready, lead):
    existing = renewal_schedules.renewal_cancel_schedule(
        order=ready, by=lead, domains=["acme-mail.com"], now=NOW
    )

    outcome = mark(ready, lead)

    assert outcome.burn.schedule == existing
    assert ready.scheduled_cancellations.count() == 1
    assert outcome.problems == []


def test_mailboxes_not_yet_scheduled_get_a_schedule_of_their_own(ready, lead):
    jane = Mailbox.objects.get(
        item__order=ready, item__domain="acme-mail.com", email_prefix="jane"
    )
    renewal_schedules.renewal_cancel_schedule(
        order=ready, by=lead, mailbox_ids=[jane.pk], now=NOW
    )

    outcome = mark(ready, lead)

    assert outcome.burn.schedule is not None
    assert outcome.burn.schedule.emails == ["john@acme-mail.com"]
    assert ready.scheduled_cancellations.count() == 2


# --- refusals -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "words"),
    [
        (
            "draft",
            "acme-mail.com is not delivered: Q3 is draft. Only a domain of a ready or "
            "partly cancelled order can be marked burned.",
        ),
        (
            "provisioning",
            "acme-mail.com is not delivered: Q3 is provisioning mailboxes. Only a domain "
            "of a ready or partly cancelled order can be marked burned.",
        ),
        (
            "cancelled",
            "acme-mail.com is not delivered: Q3 is cancelled. Only a domain of a ready "
            "or partly cancelled order can be marked burned.",
        ),
    ],
)
def test_a_domain_that_is_not_delivered_is_refused(workspace, lead, status, words):
    order = make_order(
        workspace,
        lead,
        status=status,
        title="Q3",
        items=[("acme-mail.com", 1, ["jane"])],
        mailbox_status="ready",
    )

    with pytest.raises(burns.BurnError) as refused:
        mark(order, lead)

    assert str(refused.value) == words
    assert not DomainBurn.objects.exists()
    assert not OrderEvent.objects.filter(kind="domain_burned").exists()


def test_a_domain_already_burned_is_refused(ready, lead, operator):
    mark(ready, lead)

    with pytest.raises(
        burns.BurnError, match=r"^acme-mail.com is already marked burned\.$"
    ):
        mark(ready, operator)

    assert DomainBurn.objects.count() == 1


def test_a_wholly_cancelled_domain_is_refused(ready, lead):
    Mailbox.objects.filter(item__order=ready, item__domain="tryacme.org").update(
        status=MailboxStatus.CANCELLED
    )
    Order.objects.filter(pk=ready.pk).update(status=OrderStatus.PARTIALLY_CANCELLED)

    with pytest.raises(
        burns.BurnError,
        match=r"^Every mailbox of tryacme.org is already cancelled\.$",
    ):
        mark(ready, lead, domain="tryacme.org")


def test_a_domain_without_mailboxes_is_refused(workspace, lead):
    order = make_order(
        workspace, lead, order_type="pre_warmed_up", items=[("warm.com", 1, [])]
    )

    with pytest.raises(
        burns.BurnError, match=r"^warm.com has no mailboxes known yet\.$"
    ):
        mark(order, lead, domain="warm.com")


@pytest.mark.parametrize(
    ("reason", "note", "words"),
    [
        ("", "", "Reason: choose why the domain is burned."),
        ("lost", "", "Reason: choose why the domain is burned."),
        (
            "other",
            "x" * 501,
            "Note: at most 500 characters (this one has 501).",
        ),
    ],
)
def test_bad_input_is_refused_naming_the_field(ready, lead, reason, note, words):
    with pytest.raises(burns.BurnError) as refused:
        mark(ready, lead, reason=reason, note=note)

    assert str(refused.value) == words
    assert not DomainBurn.objects.exists()


def test_someone_outside_the_workspace_cannot_mark(ready, other_workspace):
    stranger = member(other_workspace, "admin")

    with pytest.raises(burns.BurnError, match="not a member of this workspace"):
        mark(ready, stranger)


# --- when a part cannot be done, and the follow-ups -----------------------------------------


def test_a_refused_schedule_leaves_the_burn_and_says_why(ready, lead, monkeypatch):
    def refuse(**kwargs: Any) -> None:
        raise renewal_schedules.RenewalScheduleError("A cancellation is in progress.")

    monkeypatch.setattr(renewal_schedules, "renewal_cancel_schedule", refuse)

    outcome = mark(ready, lead)

    assert outcome.burn.schedule is None
    assert outcome.problems == [
        "Its cancellation before the next renewal was not scheduled: A cancellation "
        "is in progress."
    ]
    assert DomainBurn.objects.get().schedule is None
    assert outcome.notice.endswith("check it and submit it for approval.")
    assert "domain_burned" in kinds(ready)
    assert "renewal_cancel_scheduled" not in kinds(ready)


def test_the_cancellation_can_be_proposed_again_once_withdrawn(ready, lead):
    outcome = mark(ready, lead)
    first = outcome.burn.schedule
    assert first is not None
    with pytest.raises(burns.BurnError, match=r"already scheduled\.$"):
        burns.domain_burn_schedule(burn=outcome.burn, by=lead, now=NOW)
    renewal_schedules.renewal_cancel_unschedule(schedule=first, by=lead, now=NOW)

    again = burns.domain_burn_schedule(burn=DomainBurn.objects.get(), by=lead, now=NOW)

    assert again.burn.schedule is not None
    assert again.burn.schedule != first
    assert DomainBurn.objects.get().schedule == again.burn.schedule
    assert again.burn.schedule.status == ScheduleStatus.SCHEDULED


def test_no_schedule_again_once_the_domain_has_nothing_live(ready, lead, monkeypatch):
    monkeypatch.setattr(
        renewal_schedules,
        "renewal_cancel_schedule",
        lambda **kwargs: (_ for _ in ()).throw(
            renewal_schedules.RenewalScheduleError("No.")
        ),
    )
    burn = mark(ready, lead).burn
    monkeypatch.undo()
    Mailbox.objects.filter(item__order=ready, item__domain="acme-mail.com").update(
        status=MailboxStatus.CANCELLED
    )

    with pytest.raises(
        burns.BurnError, match=r"^acme-mail.com has no live mailbox left to cancel\.$"
    ):
        burns.domain_burn_schedule(burn=burn, by=lead, now=NOW)


def test_a_failed_replacement_is_offered_again_as_one_click(ready, lead, monkeypatch):
    real = order_shapes.draft_from_shape

    def broken(**kwargs: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(order_shapes, "draft_from_shape", broken)
    outcome = mark(ready, lead)
    monkeypatch.setattr(order_shapes, "draft_from_shape", real)

    assert outcome.burn.replacement is None
    assert outcome.problems == [
        "The replacement could not be drafted just now; use “Draft the replacement” "
        "to try again."
    ]
    assert outcome.burn.schedule is not None  # the other part was done
    assert outcome.notice == (
        "acme-mail.com is marked burned (Blacklisted). Its mailboxes will be cancelled "
        "on 14 Jan 2027, before the 15 Jan 2027 renewal."
    )

    again = burns.domain_burn_replace(burn=DomainBurn.objects.get(), by=lead)

    assert again.burn.replacement is not None
    assert DomainBurn.objects.get().replacement == again.burn.replacement
    assert [
        m.email_prefix for m in again.burn.replacement.items.get().mailboxes.all()
    ] == [
        "jane",
        "john",
    ]
    with pytest.raises(burns.BurnError, match="already has a replacement draft"):
        burns.domain_burn_replace(burn=DomainBurn.objects.get(), by=lead)


def test_what_the_suggestions_could_not_give_is_said(ready, lead, monkeypatch):
    def empty(**kwargs: Any) -> order_shapes.ShapedDraft:
        from orders import drafts

        order = drafts.order_draft_create(
            workspace=kwargs["workspace"], by=kwargs["by"], order_type="dfy"
        )
        return order_shapes.ShapedDraft(
            order=order, check=None, problems=["No domains were found."]
        )

    monkeypatch.setattr(order_shapes, "draft_from_shape", empty)

    outcome = mark(ready, lead)

    assert outcome.problems == ["Replacement draft: No domains were found."]
    assert outcome.burn.replacement is not None


def test_a_click_on_a_stale_page_drafts_no_second_replacement(ready, lead):
    burn = mark(ready, lead).burn
    first = burn.replacement
    burn.replacement = (
        None  # as a page loaded before the first draft was linked shows it
    )
    burn.replacement_id = None
    orders_before = Order.objects.count()

    again = burns.domain_burn_replace(burn=burn, by=lead)

    assert again.problems == [burns.ALREADY_REPLACED]
    assert Order.objects.count() == orders_before
    assert DomainBurn.objects.get().replacement == first


def test_a_second_click_while_the_first_drafts_drafts_nothing(ready, lead, monkeypatch):
    """The first click is still asking Instantly for suggestions when the second arrives."""
    calls: list[str] = []
    real = order_shapes.draft_from_shape

    def slow_first_click(**kwargs: Any) -> order_shapes.ShapedDraft:
        calls.append("draft")
        if len(calls) == 1:
            second = burns.domain_burn_replace(burn=DomainBurn.objects.get(), by=lead)
            assert second.problems == [
                "The replacement is being drafted already (a second click?): reload "
                "the page in a moment to see it."
            ]
        return real(**kwargs)

    monkeypatch.setattr(order_shapes, "draft_from_shape", slow_first_click)

    outcome = mark(ready, lead)

    assert calls == ["draft"]
    assert outcome.burn.replacement is not None
    assert DomainBurn.objects.get().replacement == outcome.burn.replacement
    # Released: a burn without a replacement may be drafted again later.
    from django.core.cache import cache

    assert cache.get(f"dfy:burn-replacement:{outcome.burn.pk}") is None


def test_without_the_cache_two_drafts_still_link_only_one(ready, lead, monkeypatch):
    from redis.exceptions import ConnectionError as RedisDown

    burn = mark(ready, lead).burn
    first = burn.replacement

    def down(*args: Any, **kwargs: Any) -> None:
        raise RedisDown("cache down")

    from django.core.cache import cache

    monkeypatch.setattr(cache, "add", down)
    monkeypatch.setattr(
        DomainBurn.objects, "filter", _without_fresh_read(DomainBurn.objects.filter)
    )
    burn.replacement = None
    burn.replacement_id = None

    again = burns.domain_burn_replace(burn=burn, by=lead)

    assert again.problems[-1] == burns.ALREADY_REPLACED
    assert DomainBurn.objects.get().replacement == first


def _without_fresh_read(real_filter: Any) -> Any:
    """The race the claim prevents: the fresh read still saw no replacement."""

    def filtered(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("replacement__isnull") is False:
            return real_filter(pk=-1)
        return real_filter(*args, **kwargs)

    return filtered


def test_a_pre_warmed_replacement_names_no_mailboxes_and_extra_accounts_become_dfy(
    workspace, lead
):
    prewarmed = make_order(
        workspace, lead, order_type="pre_warmed_up", items=[("warm.com", 2, ["ann"])]
    )
    extra = make_order(
        workspace, lead, order_type="extra_accounts", items=[("own.com", 1, ["ann"])]
    )

    warm_shape = burns.replacement_shape(
        order=prewarmed,
        item=prewarmed.items.get(),
        mailboxes=list(Mailbox.objects.filter(item__order=prewarmed)),
    )
    extra_shape = burns.replacement_shape(
        order=extra,
        item=extra.items.get(),
        mailboxes=list(Mailbox.objects.filter(item__order=extra)),
    )

    assert warm_shape == order_shapes.OrderShape(
        order_type="pre_warmed_up",
        domains=(order_shapes.DomainShape(provider=2, mailboxes=()),),
    )
    assert extra_shape == order_shapes.OrderShape(
        order_type="dfy",
        domains=(
            order_shapes.DomainShape(
                provider=1, mailboxes=(DraftMailbox("Ann", "Test", "ann"),)
            ),
        ),
    )


# --- both parts through their normal approvals ----------------------------------------------


def test_the_replacement_and_the_cancellation_each_go_through_their_approval(
    ready,
    operator,
    lead,
    lead2,
    remote,
    queue,
    monkeypatch,
    django_capture_on_commit_callbacks,
):
    """An operator marks: nothing is bought or cancelled until a lead approves each part.
    The replacement is quoted by the sandbox and submitted as the builder does, approved
    and placed (one real POST); the cancellation waits for a lead, then runs on its day."""
    from orders import drafts, tasks, workflow
    from tests.integration.support import quote_order
    from tests.task_capture import recorded

    posts = remote.real_posts()
    with django_capture_on_commit_callbacks(execute=True):
        burn = mark(ready, operator).burn
    replacement, schedule = burn.replacement, burn.schedule
    assert replacement is not None
    assert schedule is not None
    assert remote.real_posts() == posts
    assert schedule.status == ScheduleStatus.AWAITING_APPROVAL

    # The replacement: live quote, submit, a lead's approval, placement.
    quote = quote_order(replacement)
    assert quote.is_valid
    replacement.refresh_from_db()
    submitted = drafts.order_submit(
        order=replacement,
        by=operator,
        version=replacement.version,
        fingerprint=quote.fingerprint,
    )
    assert submitted.status == OrderStatus.PENDING_APPROVAL
    assert remote.real_posts() == posts
    with django_capture_on_commit_callbacks(execute=True):
        workflow.order_approve(order=submitted, by=lead)
    queue.drain(django_capture_on_commit_callbacks)
    submitted.refresh_from_db()
    assert submitted.status == OrderStatus.PLACED
    assert remote.real_posts() == posts + 1

    # The cancellation: the operator cannot approve it, a lead can; then its day comes.
    with pytest.raises(renewal_schedules.RenewalScheduleError):
        renewal_schedules.renewal_cancel_approve(
            schedule=schedule, by=operator, now=NOW
        )
    renewal_schedules.renewal_cancel_approve(schedule=schedule, by=lead, now=NOW)
    sent = recorded(monkeypatch, "orders.run_scheduled_cancellation")
    run_day = aware(2027, 1, 14, hour=1)
    with django_capture_on_commit_callbacks(execute=True):
        tasks.run_scheduled_cancellations_task(now=run_day.isoformat())
    while sent:
        with django_capture_on_commit_callbacks(execute=True):
            tasks.run_scheduled_cancellation_task(**sent.pop(0))

    schedule.refresh_from_db()
    assert schedule.status == ScheduleStatus.EXECUTED
    assert sorted(
        Mailbox.objects.filter(
            item__order=ready, item__domain="acme-mail.com"
        ).values_list("status", flat=True)
    ) == ["cancelled", "cancelled"]
    assert Mailbox.objects.get(
        item__order=ready, item__domain="tryacme.org"
    ).status == (MailboxStatus.READY)
    ready.refresh_from_db()
    assert ready.status == OrderStatus.PARTIALLY_CANCELLED


def test_scheduling_again_says_why_when_the_schedule_is_refused(
    ready, lead, monkeypatch
):
    burn = mark(ready, lead).burn
    assert burn.schedule is not None
    renewal_schedules.renewal_cancel_unschedule(
        schedule=burn.schedule, by=lead, now=NOW
    )

    def refuse(**kwargs: Any) -> None:
        raise renewal_schedules.RenewalScheduleError("A cancellation is in progress.")

    monkeypatch.setattr(renewal_schedules, "renewal_cancel_schedule", refuse)

    with pytest.raises(burns.BurnError) as refused:
        burns.domain_burn_schedule(burn=DomainBurn.objects.get(), by=lead, now=NOW)

    assert str(refused.value) == (
        "Its cancellation before the next renewal was not scheduled: A cancellation "
        "is in progress."
    )


def test_the_words_for_a_schedule_that_ended(ready, lead):
    burn = mark(ready, lead).burn
    assert burn.schedule is not None
    renewal_schedules.renewal_cancel_unschedule(
        schedule=burn.schedule, by=lead, now=NOW
    )
    burn.schedule.refresh_from_db()

    assert burns.schedule_words(burn.schedule) == (
        "Its cancellation before the 15 Jan 2027 renewal is withdrawn."
    )
