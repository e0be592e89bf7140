"""Behaviours that mutation testing (`make mutate`, docs/testing.md) showed no test pinned:
each test here failed against at least one surviving mutant of the money path."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import cast

import pytest
import time_machine
from django.contrib.auth.models import User
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from orders import (
    cancellation,
    cancellation_runs,
    instantly,
    instantly_keys,
    lifecycle,
    rules,
    workflow,
)
from orders.models import (
    Mailbox,
    MailboxStatus,
    Order,
    OrderItem,
    OrderStatus,
    Quote,
)
from orders.quotes import QuoteUnavailable, cents, current_quote, quote_for_order
from orders.workflow import common as workflow_common
from sandbox.switches import switches_set
from tests.factories import MembershipFactory, OrderFactory
from tests.integration.support import TaskQueue, submitted_order
from tests.orders.test_builder_views import HX, JANE, build_url, form_state

pytestmark = pytest.mark.django_db


@pytest.fixture
def quoted(operator_client, workspace, remote):
    """A draft with one domain, priced once by the sandbox through the builder."""
    operator_client.post(
        reverse("orders:new", args=[workspace.slug]), {"order_type": "dfy"}
    )
    order = Order.objects.get()
    operator_client.post(
        build_url(order),
        form_state(order, items=[("acme-mail.com", 1, [JANE])]),
        headers=HX,
    )
    assert Quote.objects.filter(order=order).count() == 1
    return order


class Refusing:
    """An Instantly client whose simulation fails with `error` (the mapping under test)."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def simulate_order(self, payload: object) -> instantly.OrderResult:
        raise self.error


def refusing(error: Exception) -> instantly.InstantlyClient:
    return cast(instantly.InstantlyClient, Refusing(error))


def test_money_is_rounded_half_up_to_cents():
    assert cents(Decimal("10.125")) == Decimal("10.13")
    assert cents(Decimal("0.005")) == Decimal("0.01")
    assert cents(None) == Decimal("0.00")


def test_an_empty_draft_asks_for_a_domain_not_instantly(workspace):
    order = cast(Order, OrderFactory(workspace=workspace))

    with pytest.raises(QuoteUnavailable) as caught:
        quote_for_order(order=order, client=refusing(AssertionError("no call")))

    assert str(caught.value) == "Add a domain to get a quote."
    assert caught.value.retry is False


def test_a_quote_is_reused_only_within_the_reuse_window(quoted, workspace):
    client = instantly_keys.instantly_client_for(workspace=workspace)

    again = quote_for_order(order=quoted, client=client, reuse_seconds=120)
    assert again.reused is True

    with time_machine.travel(timezone.now() + timedelta(seconds=121)):
        later = quote_for_order(order=quoted, client=client, reuse_seconds=120)

    assert later.reused is False
    assert Quote.objects.filter(order=quoted).count() == 2


def test_a_quote_of_an_edited_draft_is_not_current(quoted):
    assert current_quote(quoted) == Quote.objects.get(order=quoted)

    OrderItem.objects.filter(order=quoted).update(domain="other-mail.com")

    assert current_quote(quoted) is None


@pytest.mark.parametrize(
    ("error", "message", "retry", "fix_key"),
    [
        (
            instantly.RateLimited("429"),
            "Quote delayed: Instantly asked us to slow down.",
            True,
            False,
        ),
        (
            instantly.InstantlyTransientError("timed out"),
            "Quote delayed: Instantly did not answer in time.",
            True,
            False,
        ),
        (instantly.InstantlyScopeError("403"), instantly.FORBIDDEN_HINT, False, True),
        (
            instantly.InstantlyAuthError("The API key is invalid or revoked."),
            "The API key is invalid or revoked.",
            False,
            True,
        ),
        (
            instantly.InstantlyPlanError("No active paid plan."),
            "No active paid plan.",
            False,
            True,
        ),
        (
            instantly.InstantlyNotFound("no such endpoint"),
            "Instantly refused the quote request: no such endpoint",
            False,
            False,
        ),
    ],
)
def test_each_remote_failure_says_what_to_do(quoted, error, message, retry, fix_key):
    with pytest.raises(QuoteUnavailable) as caught:
        quote_for_order(order=quoted, client=refusing(error), reuse_seconds=0)

    assert (str(caught.value), caught.value.retry, caught.value.fix_key) == (
        message,
        retry,
        fix_key,
    )


# orders/rules.py: where each finding is shown (its field), how hard it is (its severity)
# and what it says are all part of what the builder shows a person.


def _one(findings: list[rules.Finding]) -> tuple[str, str, str, str]:
    assert len(findings) == 1, findings
    f = findings[0]
    return (f.field, f.code, f.message, f.severity)


def _mailbox(prefix: str = "jane") -> rules.DraftMailbox:
    return rules.DraftMailbox("Jane", "Roe", prefix)


def test_an_empty_order_is_an_error_on_the_items():
    assert _one(rules.check_draft(rules.DFY, [])) == (
        "items",
        "empty_order",
        "The order has no domains yet; add at least one",
        "error",
    )


def test_a_domain_without_mailboxes_points_at_the_mailboxes():
    findings = rules.check_draft(rules.DFY, [rules.DraftItem("acme-mail.com")])

    assert _one(findings) == (
        "mailboxes",
        "domains_without_accounts",
        "acme-mail.com: has no mailboxes; add at least one",
        "error",
    )


def test_an_invalid_domain_points_at_the_domain():
    item = rules.DraftItem("acme_mail.com", mailboxes=(_mailbox(),))

    field, code, _message, severity = _one(rules.check_draft(rules.DFY, [item]))

    assert (field, code, severity) == ("domain", "invalid_domain", "error")


@pytest.mark.parametrize("prefix", ["Zoe", "Yann", "jAne"])
def test_any_upper_case_letter_in_a_prefix_is_named_as_such(prefix):
    assert rules.prefix_problem(prefix) == "has upper-case letters; use lower case"


def test_forwarding_to_the_domain_itself_says_so():
    item = rules.DraftItem(
        "acme-mail.com", forwarding_domain="ACME-mail.com", mailboxes=(_mailbox(),)
    )

    assert _one(rules.check_draft(rules.DFY, [item])) == (
        "forwarding_domain",
        "forwarding_same_as_domain",
        "acme-mail.com: the forwarding domain must differ from the domain itself",
        "error",
    )


def test_forwarding_on_an_extra_mailbox_order_says_where_to_change_it():
    item = rules.DraftItem(
        "acme-mail.com", forwarding_domain="acme.com", mailboxes=(_mailbox(),)
    )

    assert _one(rules.check_draft(rules.EXTRA_ACCOUNTS, [item])) == (
        "forwarding_domain",
        "forwarding_on_extra_accounts",
        "acme-mail.com: forwarding cannot be set by an extra-mailbox order; "
        "change the domain's forwarding instead",
        "error",
    )


def test_counts_instantly_may_accept_only_warn(monkeypatch):
    # Today every provider's builder maximum is also Instantly's; when Instantly accepts more
    # than the builder offers, a count in between warns and leaves the quote to decide.
    wider = dict(rules.PROVIDER_RULES)
    wider[rules.GOOGLE] = replace(wider[rules.GOOGLE], accepted_max=8)
    monkeypatch.setattr(rules, "PROVIDER_RULES", wider)
    item = rules.DraftItem(
        "acme-mail.com", mailboxes=tuple(_mailbox(f"m{n}") for n in range(6))
    )

    field, code, message, severity = _one(rules.check_draft(rules.DFY, [item]))

    assert (field, code, severity) == ("mailboxes", "too_many_mailboxes", "warning")
    assert "accept up to 8" in message


# orders/workflow/placement.py: the claim given back when nothing reached Instantly.


@pytest.fixture
def approved(
    workspace, operator, lead, remote, monkeypatch, django_capture_on_commit_callbacks
):
    """Approved by the lead; the placement message recorded (TaskQueue), not yet run."""
    TaskQueue(monkeypatch)
    order = submitted_order(workspace, operator)
    with django_capture_on_commit_callbacks(execute=True):
        workflow.order_approve(order=order, by=lead)
    order.refresh_from_db()
    return order


def _never_sent(workspace, monkeypatch):  # type: ignore[no-untyped-def]
    client = instantly_keys.instantly_client_for(workspace=workspace)

    def unreachable(payload: object) -> None:
        raise instantly.InstantlyTransientError("could not connect", request_sent=False)

    monkeypatch.setattr(client, "place_order", unreachable)
    return client


def test_too_many_unsent_tries_ask_a_person_and_say_nothing_was_sent(
    approved,
    remote,
    workspace,
    settings,
    mailoutbox,
    monkeypatch,
    django_capture_on_commit_callbacks,
):
    settings.DFY_PLACE_MAX_TRIES = 2
    mailoutbox.clear()  # the approval's own notice

    with django_capture_on_commit_callbacks(execute=True):
        first = workflow.order_place(
            order=approved, client=_never_sent(workspace, monkeypatch)
        )
    assert (first.status, first.placement_tries) == (OrderStatus.APPROVED, 1)
    assert first.events.last().kind == "claim_released"
    assert mailoutbox == []

    with django_capture_on_commit_callbacks(execute=True):
        second = workflow.order_place(
            order=first, client=_never_sent(workspace, monkeypatch)
        )

    second.refresh_from_db()
    assert second.status == OrderStatus.NEEDS_ATTENTION
    assert second.placement_tries == 2
    assert second.attention_reason == (
        "Instantly could not be reached to place the order after 2 tries "
        "(last: not sent: could not connect). Nothing was sent; re-submit when Instantly "
        "answers again."
    )
    assert second.reconcile_evidence == {"nothing_sent": True, "tries": 2}
    event = second.events.last()
    assert (event.kind, event.from_status, event.to_status) == (
        "needs_attention",
        OrderStatus.SUBMITTING,
        OrderStatus.NEEDS_ATTENTION,
    )
    assert event.detail["reason"] == second.attention_reason
    assert len(mailoutbox) == 1  # the person asked to act
    assert remote.real_posts() == 0


# orders/cancellation.py: what Instantly answered decides what is recorded as cancelled.


THREE = ["jane@acme-mail.com", "john@acme-mail.com", "jane@tryacme.org"]


def _account(email: str, cancelled: bool) -> SimpleNamespace:
    return SimpleNamespace(email=email.upper(), is_cancelled=cancelled)


class CancelAnswers:
    """Instantly's answers to a cancel request: the accounts it returned, or an error; and
    the accounts list a lost answer is read back from."""

    def __init__(self, *, answer=None, error=None, listing=()):  # type: ignore[no-untyped-def]
        self.answer, self.error, self.listing = answer, error, listing
        self.calls = 0

    def cancel_accounts(self, emails):  # type: ignore[no-untyped-def]
        self.calls += 1
        if self.error is not None:
            raise self.error
        return self.answer

    def iter_accounts(self):  # type: ignore[no-untyped-def]
        return iter(self.listing)


def _cancel_three(order, lead, answers):  # type: ignore[no-untyped-def]
    ids = [
        Mailbox.objects.get(
            item__order=order,
            item__domain=e.split("@")[1],
            email_prefix=e.split("@")[0],
        ).pk
        for e in THREE
    ]
    return cancellation_runs.order_cancel_mailboxes(
        order=order,
        by=lead,
        mailbox_ids=ids,
        confirmation="cancel 3 mailboxes",
        client=cast(instantly.InstantlyClient, answers),
    )


def _status(order: Order) -> dict[str, str]:
    return {m.email: m.status for m in Mailbox.objects.filter(item__order=order)}


def test_only_the_accounts_instantly_reports_cancelled_are_cancelled(cancellable, lead):
    answers = CancelAnswers(
        answer=[_account(THREE[0], True), _account(THREE[1], False)]
    )

    outcome = _cancel_three(cancellable, lead, answers)

    assert outcome.results == [
        ("jane@acme-mail.com", "cancelled"),
        ("john@acme-mail.com", "not_cancelled"),
        ("jane@tryacme.org", "not_cancelled"),
    ]
    jane = Mailbox.objects.get(
        item__order=cancellable, email_prefix="jane", item__domain="acme-mail.com"
    )
    assert jane.status == MailboxStatus.CANCELLED
    assert jane.cancelled_at is not None
    assert _status(cancellable)["john@acme-mail.com"] != MailboxStatus.CANCELLED
    cancellable.refresh_from_db()
    assert cancellable.status == OrderStatus.PARTIALLY_CANCELLED


def test_a_lost_answer_counts_only_listed_cancelled_accounts(cancellable, lead):
    answers = CancelAnswers(
        error=instantly.OutcomeUnknown("connection reset after sending"),
        # jane@acme-mail.com is cancelled, john is live, jane@tryacme.org is not listed.
        listing=[_account(THREE[0], True), _account(THREE[1], False)],
    )

    outcome = _cancel_three(cancellable, lead, answers)

    assert dict(outcome.results) == {
        "jane@acme-mail.com": "cancelled",
        "john@acme-mail.com": "not_cancelled",
        "jane@tryacme.org": "not_cancelled",
    }
    assert answers.calls == 1


def test_a_refused_cancel_is_recorded_and_cancels_nothing(cancellable, lead):
    answers = CancelAnswers(
        error=instantly.InstantlyValidationError("accounts not found", status_code=400)
    )

    with pytest.raises(cancellation.CancelError) as caught:
        _cancel_three(cancellable, lead, answers)

    assert str(caught.value) == "Instantly did not cancel anything: accounts not found"
    event = cancellable.events.last()
    assert (event.kind, event.actor, event.from_status, event.to_status) == (
        "cancel_failed",
        lead,
        OrderStatus.PLACED,
        OrderStatus.PLACED,
    )
    assert (event.detail["message"], event.detail["http_status"]) == (
        "accounts not found",
        400,
    )
    assert MailboxStatus.CANCELLED not in _status(cancellable).values()
    assert answers.calls == 1


def test_the_reuse_window_comes_from_the_settings(quoted, workspace, settings):
    settings.DFY_QUOTE_REUSE_SECONDS = 0
    client = instantly_keys.instantly_client_for(workspace=workspace)

    again = quote_for_order(order=quoted, client=client)

    assert again.reused is False
    assert Quote.objects.filter(order=quoted).count() == 2


def test_a_quote_stores_the_discount_and_no_error_when_valid(
    operator_client, workspace, remote
):
    switches_set(workspace=remote.sandbox, discount_percent=Decimal("10"))
    operator_client.post(
        reverse("orders:new", args=[workspace.slug]), {"order_type": "dfy"}
    )
    order = Order.objects.get()
    operator_client.post(
        build_url(order),
        form_state(order, items=[("acme-mail.com", 1, [JANE])]),
        headers=HX,
    )

    quote = Quote.objects.get(order=order)
    assert quote.is_valid is True
    assert quote.order_error == ""
    assert quote.discount == (quote.due_now * Decimal("0.10")).quantize(Decimal("0.01"))
    assert quote.discount > 0


def test_a_person_marking_an_order_placed_clears_the_attention(
    approved, lead, workspace, settings, monkeypatch
):
    settings.DFY_PLACE_MAX_TRIES = 1
    stuck = workflow.order_place(
        order=approved, client=_never_sent(workspace, monkeypatch)
    )
    assert stuck.status == OrderStatus.NEEDS_ATTENTION
    before = timezone.now()

    placed = workflow.order_mark_placed(order=stuck, by=lead, comment=" seen it ")

    placed.refresh_from_db()
    assert placed.status == OrderStatus.PLACED
    assert placed.attention_reason == ""
    assert placed.placed_at >= before
    assert placed.last_progress_at >= before
    event = placed.events.last()
    assert (event.kind, event.actor, event.from_status, event.to_status) == (
        "marked_placed",
        lead,
        OrderStatus.NEEDS_ATTENTION,
        OrderStatus.PLACED,
    )
    assert event.detail["comment"] == "seen it"


# orders/workflow/common.py: every bound is read from the settings (docs/lifecycle-bounds.md),
# so an operator's value is the one used.
BOUNDS = [
    ("reconcile_max_checks", "DFY_RECONCILE_MAX_CHECKS"),
    ("reconcile_max_age_seconds", "DFY_RECONCILE_MAX_AGE_SECONDS"),
    ("reconcile_backoff_seconds", "DFY_RECONCILE_BACKOFF_SECONDS"),
    ("reconcile_backoff_cap_seconds", "DFY_RECONCILE_BACKOFF_CAP_SECONDS"),
    ("pending_approval_remind_seconds", "DFY_PENDING_APPROVAL_REMIND_SECONDS"),
    ("needs_reapproval_remind_seconds", "DFY_NEEDS_REAPPROVAL_REMIND_SECONDS"),
    ("awaiting_checkout_remind_seconds", "DFY_AWAITING_CHECKOUT_REMIND_SECONDS"),
    ("approved_max_seconds", "DFY_APPROVED_MAX_SECONDS"),
    ("submitting_stale_seconds", "DFY_SUBMITTING_STALE_SECONDS"),
    ("approved_stale_seconds", "DFY_APPROVED_STALE_SECONDS"),
    ("reconcile_clock_skew_seconds", "DFY_RECONCILE_CLOCK_SKEW_SECONDS"),
    ("place_max_tries", "DFY_PLACE_MAX_TRIES"),
]


@pytest.mark.parametrize(("accessor", "name"), BOUNDS)
def test_each_bound_is_the_configured_one(accessor, name, settings):
    setattr(settings, name, 7)

    assert getattr(workflow_common, accessor)() == 7


def test_an_edited_draft_is_priced_again_within_the_reuse_window(quoted, workspace):
    first = Quote.objects.get(order=quoted)
    OrderItem.objects.filter(order=quoted).update(domain="other-mail.com")
    client = instantly_keys.instantly_client_for(workspace=workspace)

    again = quote_for_order(order=quoted, client=client, reuse_seconds=120)

    assert again.reused is False
    assert again.quote.fingerprint != first.fingerprint
    assert again.quote.payload["items"][0]["domain"] == "other-mail.com"


def test_an_invalid_quote_keeps_instantlys_reason(quoted, workspace, remote):
    switches_set(workspace=remote.sandbox, unavailable_providers=[1])
    client = instantly_keys.instantly_client_for(workspace=workspace)

    outcome = quote_for_order(order=quoted, client=client, reuse_seconds=0)

    outcome.quote.refresh_from_db()
    assert outcome.quote.is_valid is False
    assert outcome.quote.order_error == "provider_unavailable"


def test_a_lead_of_another_workspace_cannot_resolve_this_order(
    approved, workspace, other_workspace, settings, monkeypatch
):
    settings.DFY_PLACE_MAX_TRIES = 1
    stuck = workflow.order_place(
        order=approved, client=_never_sent(workspace, monkeypatch)
    )
    membership = MembershipFactory(workspace=other_workspace, role="admin")
    outsider = cast(User, membership.user)

    with pytest.raises(workflow.ApprovalRefused, match="Only a lead"):
        workflow.order_mark_placed(order=stuck, by=outsider)

    stuck.refresh_from_db()
    assert stuck.status == OrderStatus.NEEDS_ATTENTION


def test_prefetched_rows_are_used_instead_of_read_again(
    quoted, workspace, django_assert_num_queries
):
    """The quote endpoint passes the rows it already read: only the quotes are queried."""
    client = instantly_keys.instantly_client_for(workspace=workspace)
    items = list(OrderItem.objects.filter(order=quoted).prefetch_related("mailboxes"))
    stored = Quote.objects.get(order=quoted)

    with django_assert_num_queries(1):  # the newest quote
        assert current_quote(quoted, items) == stored
    with django_assert_num_queries(1):  # the reusable quote
        again = quote_for_order(order=quoted, client=client, items=items)
    assert again.reused is True
    assert again.quote == stored


def test_the_lock_brings_the_approved_quote_along(
    workspace, operator, remote, django_assert_num_queries
):
    order = submitted_order(workspace, operator)
    with transaction.atomic(), django_assert_num_queries(2):  # order+quote, workspace
        locked = lifecycle.order_lock(order, with_workspace=True)
        assert locked.approved_quote == order.approved_quote
        assert locked.workspace.pk == workspace.pk


def test_marking_placed_writes_only_its_own_fields(workspace, operator, remote):
    """A concurrent writer's change to another field (here the check count) survives."""
    order = submitted_order(workspace, operator)
    # Reconciliation finds orders placed only from an unknown outcome.
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.UNKNOWN)
    with transaction.atomic():
        locked = lifecycle.order_lock(order, with_workspace=True)
        Order.objects.filter(pk=order.pk).update(reconcile_checks=7)
        workflow_common.mark_placed(
            locked, by=None, kind=lifecycle.EventKind.RECONCILED_PLACED
        )
    order.refresh_from_db()
    assert order.status == OrderStatus.PLACED
    assert order.placed_at is not None
    assert order.reconcile_checks == 7
