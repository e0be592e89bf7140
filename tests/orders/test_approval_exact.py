"""Approval to the letter (orders/workflow/approval.py): the words a lead reads when refused,
the audit row an approval or rejection leaves, the fields it writes, the budget's sums and the
editors the four-eyes rule counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

import pytest
from django.contrib.auth.models import User

from orders import enqueue, lifecycle, workflow
from orders.lifecycle import order_event_record
from orders.models import Membership, Order, OrderEdit, OrderEvent, OrderStatus
from orders.workflow import approval, common
from tests.factories import MembershipFactory, OrderFactory, UserFactory
from tests.integration.support import submitted_order

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


@pytest.fixture(autouse=True)
def sent(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Notifications and the placement task are recorded when asked for, not sent."""
    sent: list[str] = []
    monkeypatch.setattr(
        lifecycle,
        "order_notify",
        lambda *, order_id, notice: sent.append(notice),
    )
    monkeypatch.setattr(enqueue, "place_order", lambda **kw: sent.append("place"))
    return sent


@pytest.fixture
def pending(workspace, operator, remote, sent) -> Order:
    order = submitted_order(workspace, operator)
    sent.clear()
    return order


# --- the budget's sums ------------------------------------------------------------------------


def check(budget: str | None, committed: str, this_order: str) -> approval.BudgetCheck:
    return approval.BudgetCheck(
        budget=None if budget is None else Decimal(budget),
        committed=Decimal(committed),
        this_order=Decimal(this_order),
    )


def test_the_budget_left_is_the_budget_minus_what_is_committed():
    assert check("1000.00", "300.00", "50.00").remaining == Decimal("700.00")
    assert check(None, "300.00", "50.00").remaining is None


def test_the_budget_summary_says_within_over_or_unset():
    sums = "$1,200.00/month already committed + $50.00/month for this order = $1,250.00/month"
    assert check("2000", "1200.00", "50.00").summary() == (
        f"{sums}, within the monthly budget of $2,000.00."
    )
    assert check("1249.99", "1200.00", "50.00").summary() == (
        f"{sums}, over the monthly budget of $1,249.99."
    )
    assert check(None, "1200.00", "50.00").summary() == (
        f"{sums}; no monthly budget is set."
    )


def test_the_budget_detail_is_stored_as_text():
    assert check("2000.00", "1.50", "2.25").as_detail() == {
        "budget": "2000.00",
        "committed": "1.50",
        "this_order": "2.25",
        "total": "3.75",
    }
    assert check(None, "1.50", "2.25").as_detail()["budget"] is None


# --- four-eyes: which edits count and how they are named ----------------------------------


@pytest.mark.parametrize(
    ("versions", "words"),
    [
        ([3], "version 3"),
        ([5, 3], "versions 3 and 5"),
        ([4, 1, 2, 2], "versions 1, 2 and 4"),
    ],
)
def test_edits_are_named_by_their_versions_in_order(pending, lead, versions, words):
    conflicts = approval.four_eyes_conflicts(
        order=pending, user_id=lead.pk, editors={lead.pk: versions}
    )
    assert conflicts == [f"You edited this order ({words})."]


def at(row: OrderEvent | OrderEdit, moment: datetime) -> None:
    type(row).objects.filter(pk=row.pk).update(created_at=moment)


def edit(order: Order, by: User, version: int, moment: datetime) -> None:
    at(OrderEdit.objects.create(order=order, editor=by, version=version), moment)


def decision(order: Order, moment: datetime) -> None:
    at(order_event_record(order=order, by=None, kind="rejected"), moment)


def test_only_the_orders_own_latest_decision_bounds_its_edits(workspace, operator):
    order = cast(Order, OrderFactory(workspace=workspace, submitted_at=T0))
    other = cast(Order, OrderFactory(workspace=workspace, submitted_at=T0))
    edit(order, operator, 2, T0 - 10 * MINUTE)
    decision(other, T0 - 5 * MINUTE)  # another order's decision bounds nothing here
    assert approval.order_editors([order.pk]) == {order.pk: {operator.pk: [2]}}


def test_the_latest_decision_is_the_latest_in_time_not_the_latest_written(
    workspace, operator
):
    order = cast(Order, OrderFactory(workspace=workspace, submitted_at=T0))
    decision(order, T0 - 5 * MINUTE)  # written first, decided last
    decision(order, T0 - 20 * MINUTE)
    edit(order, operator, 2, T0 - 10 * MINUTE)  # before the latest decision
    edit(order, operator, 3, T0 - 2 * MINUTE)
    assert approval.order_editors([order.pk]) == {order.pk: {operator.pk: [3]}}


# --- approving -----------------------------------------------------------------------------


def test_an_approval_records_what_was_approved_and_by_whom(pending, lead, sent):
    quote = pending.approved_quote
    assert quote is not None
    approved = workflow.order_approve(order=pending, by=lead)

    approved.refresh_from_db()
    assert approved.status == OrderStatus.APPROVED
    assert (approved.approver, approved.decided_by) == (lead, lead)
    assert approved.decided_at is not None
    assert approved.decision_comment == ""
    event = approved.events.get(to_status=OrderStatus.APPROVED)
    assert (event.kind, event.actor, event.from_status) == (
        "approved",
        lead,
        OrderStatus.PENDING_APPROVAL,
    )
    budget = approval.budget_check(order=approved).as_detail()
    assert event.detail == {
        "quote_id": quote.pk,
        "due_now": str(quote.due_now),
        "per_month": str(quote.per_month),
        "fingerprint": quote.fingerprint,
        "comment": "",
        "budget": budget,
    }
    assert sent == ["place", "approved"]


def test_an_approval_keeps_the_comment_trimmed(pending, lead):
    workflow.order_approve(order=pending, by=lead, comment="  fine  ")
    pending.refresh_from_db()
    assert pending.decision_comment == "fine"


def test_every_reason_against_an_approval_is_given_in_one_message(
    pending, workspace, operator
):
    Membership.objects.filter(user=operator, workspace=workspace).update(role="lead")
    with pytest.raises(common.ApprovalRefused) as refused:
        workflow.order_approve(order=pending, by=operator)
    assert str(refused.value) == (
        "You submitted this order. You edited this order (version 2). Four-eyes rule: a "
        "lead who neither submitted nor edited it must approve it."
    )


def test_an_approval_of_a_quote_no_longer_current_says_so(pending, lead):
    with pytest.raises(common.WorkflowError) as changed:
        workflow.order_approve(
            order=pending, by=lead, quote_id=cast(int, pending.approved_quote_id) + 1
        )
    assert str(changed.value) == (
        "The quote changed since this page was loaded; check the new price and approve "
        "again."
    )


# --- rejecting -----------------------------------------------------------------------------


def test_a_rejection_records_the_reason_and_who_decided(pending, lead, sent):
    workflow.order_reject(order=pending, by=lead, comment="  Too many domains. ")
    pending.refresh_from_db()
    assert pending.status == OrderStatus.REJECTED
    assert pending.decided_by == lead
    assert pending.decision_comment == "Too many domains."
    event = pending.events.get(kind="rejected")
    assert (event.actor, event.from_status, event.to_status) == (
        lead,
        OrderStatus.PENDING_APPROVAL,
        OrderStatus.REJECTED,
    )
    assert event.detail == {"comment": "Too many domains."}
    assert sent == ["rejected"]


def test_a_rejection_needs_a_reason(pending, lead):
    with pytest.raises(common.WorkflowError) as refused:
        workflow.order_reject(order=pending, by=lead, comment="   ")
    assert str(refused.value) == (
        "Say why the order is rejected; the requester will read it."
    )


def test_only_a_lead_rejects(pending, operator):
    with pytest.raises(common.ApprovalRefused) as refused:
        workflow.order_reject(order=pending, by=operator, comment="no")
    assert str(refused.value) == "Only a lead or a workspace admin can reject orders."
    assert Order.objects.get(pk=pending.pk).status == OrderStatus.PENDING_APPROVAL


def test_only_a_waiting_order_is_rejected(workspace, lead):
    draft = cast(Order, OrderFactory(workspace=workspace))
    with pytest.raises(common.WorkflowError) as refused:
        workflow.order_reject(order=draft, by=lead, comment="no")
    assert str(refused.value) == "This order is draft, not waiting for approval."


# --- the navigation's count ----------------------------------------------------------------


def test_only_leads_see_the_count_of_waiting_requests(
    pending, workspace, operator, lead
):
    assert approval.pending_approvals_for(membership=None) == 0
    as_operator = Membership.objects.get(user=operator, workspace=workspace)
    assert approval.pending_approvals_for(membership=as_operator) == 0
    as_lead = Membership.objects.get(user=lead, workspace=workspace)
    assert approval.pending_approvals_for(membership=as_lead) == 1
    stranger = cast(
        Membership, MembershipFactory(user=UserFactory(username="sam"), role="lead")
    )
    assert approval.pending_approvals_for(membership=stranger) == 0


@pytest.fixture
def interfering(monkeypatch: pytest.MonkeyPatch) -> None:
    """Another writer changes a field between the decision's read of the row and its save."""
    record = order_event_record

    def record_then_interfere(**kwargs: Any) -> OrderEvent:
        Order.objects.filter(pk=kwargs["order"].pk).update(reconcile_checks=7)
        return record(**kwargs)

    monkeypatch.setattr(lifecycle, "order_event_record", record_then_interfere)


@pytest.mark.usefixtures("interfering")
def test_decisions_write_only_their_own_fields(pending, workspace, operator, lead):
    workflow.order_approve(order=pending, by=lead)
    assert Order.objects.get(pk=pending.pk).reconcile_checks == 7
    other = submitted_order(workspace, operator)
    workflow.order_reject(order=other, by=lead, comment="No.")
    assert Order.objects.get(pk=other.pk).reconcile_checks == 7


# --- the checks behind the approve button ----------------------------------------------------


def test_a_total_exactly_at_the_budget_is_within_it():
    assert check("1250.00", "1200.00", "50.00").exceeded is False
    assert check("1249.99", "1200.00", "50.00").exceeded is True
    assert check(None, "1200.00", "50.00").exceeded is False


def membership_of(user: User, workspace) -> Membership:  # type: ignore[no-untyped-def]
    return Membership.objects.get(user=user, workspace=workspace)


def test_each_reason_against_approving_is_worded_for_the_person(
    pending, workspace, operator, lead
):
    draft = cast(Order, OrderFactory(workspace=workspace))
    assert approval.approval_check(
        order=draft, membership=membership_of(operator, workspace)
    ).reasons == (
        "This order is draft, not waiting for approval.",
        "Only a lead or a workspace admin can approve orders.",
        "There is no quote to approve.",
    )
    quote = pending.approved_quote
    assert quote is not None
    type(quote).objects.filter(pk=quote.pk).update(is_valid=False)
    pending.refresh_from_db()
    assert approval.approval_check(
        order=pending, membership=membership_of(lead, workspace)
    ).reasons == (
        "Instantly's latest simulation refuses this order; it must be edited first.",
    )


def test_what_the_inbox_already_read_is_not_read_again(
    pending, workspace, lead, django_assert_num_queries
):
    """The inbox passes the committed spend and the editors it read for every row."""
    membership = membership_of(lead, workspace)
    pending.workspace = workspace
    with django_assert_num_queries(0):
        check = approval.approval_check(
            order=pending, membership=membership, committed=Decimal("0.00"), editors={}
        )
    assert check.allowed is True
    assert check.budget.committed == Decimal("0.00")


def test_auto_approval_says_which_policy_approved_it(workspace, operator, remote):
    workspace.approval_policy = "never"
    workspace.save()
    order = submitted_order(workspace, operator)
    assert order.status == OrderStatus.APPROVED
    event = order.events.get(kind="auto_approved")
    assert event.actor is None
    assert event.detail["comment"] == "Auto-approved: no approval (auto-approve)."


def test_an_auto_approval_over_budget_is_recorded_and_waits_for_a_person(
    workspace, operator, remote, sent
):
    workspace.approval_policy = "never"
    workspace.monthly_budget = Decimal("1.00")
    workspace.save()
    order = submitted_order(workspace, operator)
    assert order.status == OrderStatus.PENDING_APPROVAL
    event = order.events.get(kind="auto_approval_blocked")
    assert (event.actor, event.from_status, event.to_status) == (
        operator,
        OrderStatus.PENDING_APPROVAL,
        OrderStatus.PENDING_APPROVAL,
    )
    budget = approval.budget_check(order=order)
    assert event.detail == {
        "reason": f"Over budget: {budget.summary()}",
        "budget": budget.as_detail(),
    }
    assert sent == ["approval_requested"]
