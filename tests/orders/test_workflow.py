"""Approval: four-eyes, approval limits, the workspace policy and the monthly budget; and the
rule that an edit after submission voids the request. Against the in-process sandbox."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core import mail

from orders import drafts, workflow
from orders.models import ApprovalPolicy, Membership, OrderStatus
from tests.factories import MembershipFactory, UserFactory
from tests.integration.support import JANE, submitted_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def lead2(workspace):
    return MembershipFactory(
        workspace=workspace,
        role="lead",
        user=UserFactory(username="lina"),
        approval_limit=Decimal("100"),
    ).user


def test_submit_under_always_policy_waits_and_tells_the_approvers(
    workspace,
    operator,
    lead,
    ws_admin,
    remote,
    queue,
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        order = submitted_order(workspace, operator)

    assert order.status == OrderStatus.PENDING_APPROVAL
    assert queue.sent == []
    assert sorted(m.to[0] for m in mail.outbox) == [
        "ada@example.test",
        "leo@example.test",
    ]
    assert mail.outbox[0].subject == "Approval needed: Q3"
    assert "$25.00 due now, $10.00 per month" in mail.outbox[0].body


def test_lead_cannot_approve_their_own_order(workspace, lead, remote, queue):
    order = submitted_order(workspace, lead)

    with pytest.raises(workflow.ApprovalRefused, match="Four-eyes"):
        workflow.order_approve(order=order, by=lead)

    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_APPROVAL
    assert queue.sent == []


def test_self_approval_when_the_workspace_allows_it(
    workspace, lead, remote, queue, django_capture_on_commit_callbacks
):
    workspace.allow_self_approval = True
    workspace.save()
    order = submitted_order(workspace, lead)

    with django_capture_on_commit_callbacks(execute=True):
        approved = workflow.order_approve(order=order, by=lead, comment="fine")

    assert approved.status == OrderStatus.APPROVED
    assert approved.approver == lead
    assert approved.decided_at is not None
    assert queue.sent == [("place_order_task", {"order_id": order.pk})]


def test_approval_above_the_leads_limit_is_refused(workspace, operator, lead2, remote):
    items = [(f"acme-mail-{i}.com", 1, [JANE]) for i in range(6)]  # 6 x (15 + 5) = 120
    order = submitted_order(workspace, operator, items=items)

    with pytest.raises(
        workflow.ApprovalRefused,
        match=r"\$120.00 is above your approval limit of \$100.00",
    ):
        workflow.order_approve(order=order, by=lead2)


def test_admin_without_a_limit_approves_any_amount(
    workspace, operator, ws_admin, remote, queue, django_capture_on_commit_callbacks
):
    items = [(f"acme-mail-{i}.com", 1, [JANE]) for i in range(6)]
    order = submitted_order(workspace, operator, items=items)

    with django_capture_on_commit_callbacks(execute=True):
        approved = workflow.order_approve(order=order, by=ws_admin)

    assert approved.status == OrderStatus.APPROVED
    assert mail.outbox[-1].to == ["olivia@example.test"]
    assert mail.outbox[-1].subject == "Approved: Q3"


def test_operator_cannot_approve(workspace, operator, remote):
    other = MembershipFactory(workspace=workspace, role="operator").user
    order = submitted_order(workspace, operator)

    with pytest.raises(workflow.ApprovalRefused, match="Only a lead"):
        workflow.order_approve(order=order, by=other)


def test_policy_never_auto_approves_and_enqueues_placement_on_commit(
    workspace, operator, remote, queue, django_capture_on_commit_callbacks
):
    workspace.approval_policy = ApprovalPolicy.NEVER
    workspace.save()

    with django_capture_on_commit_callbacks(execute=True):
        order = submitted_order(workspace, operator)

    assert order.status == OrderStatus.APPROVED
    assert order.approver is None
    assert order.events.filter(kind="auto_approved").exists()
    assert queue.sent == [("place_order_task", {"order_id": order.pk})]


@pytest.mark.parametrize(
    ("threshold", "expected"),
    [("25.00", OrderStatus.APPROVED), ("24.99", OrderStatus.PENDING_APPROVAL)],
)
def test_policy_above_amount_needs_approval_only_above_it(
    workspace, operator, remote, queue, threshold, expected
):
    workspace.approval_policy = ApprovalPolicy.ABOVE_AMOUNT
    workspace.approval_threshold = Decimal(threshold)
    workspace.save()

    order = submitted_order(
        workspace,
        operator,
        items=[("acme-mail.com", 1, [JANE, ("John", "Roe", "john")])],
    )

    assert order.approved_quote.due_now == Decimal("25.00")
    assert order.status == expected


def test_monthly_budget_blocks_approval_with_the_numbers(
    workspace, operator, lead, remote, queue, django_capture_on_commit_callbacks
):
    workspace.monthly_budget = Decimal("12.00")
    workspace.save()
    first = submitted_order(
        workspace,
        operator,
        items=[("acme-mail.com", 1, [JANE, ("John", "Roe", "john")])],
    )
    with django_capture_on_commit_callbacks(execute=True):
        workflow.order_approve(order=first, by=lead)  # $10/month committed
    second = submitted_order(workspace, operator, items=[("other-mail.com", 1, [JANE])])

    check = workflow.approval_check(
        order=second, membership=Membership.objects.get(user=lead)
    )
    with pytest.raises(workflow.ApprovalRefused, match=r"^Over budget: ") as refused:
        workflow.order_approve(order=second, by=lead)

    assert check.budget.committed == Decimal("10.00")
    assert check.budget.this_order == Decimal("5.00")
    assert check.budget.exceeded
    assert (
        "$10.00/month already committed + $5.00/month for this order = $15.00/month, "
        "over the monthly budget of $12.00." in str(refused.value)
    )
    second.refresh_from_db()
    assert second.status == OrderStatus.PENDING_APPROVAL


def test_budget_blocks_auto_approval_and_asks_a_person(
    workspace, operator, lead, remote, queue, django_capture_on_commit_callbacks
):
    workspace.approval_policy = ApprovalPolicy.NEVER
    workspace.monthly_budget = Decimal("4.00")
    workspace.save()

    with django_capture_on_commit_callbacks(execute=True):
        order = submitted_order(
            workspace, operator, items=[("acme-mail.com", 1, [JANE])]
        )

    blocked = order.events.get(kind="auto_approval_blocked")
    assert order.status == OrderStatus.PENDING_APPROVAL
    assert blocked.detail["budget"] == {
        "budget": "4.00",
        "committed": "0.00",
        "this_order": "5.00",
        "total": "5.00",
    }
    assert queue.sent == []
    assert [m.to for m in mail.outbox] == [["leo@example.test"]]


def test_rejection_needs_a_comment_and_tells_the_requester(
    workspace, operator, lead, remote, django_capture_on_commit_callbacks
):
    order = submitted_order(workspace, operator)
    with pytest.raises(workflow.WorkflowError, match="Say why"):
        workflow.order_reject(order=order, by=lead, comment="  ")

    with django_capture_on_commit_callbacks(execute=True):
        rejected = workflow.order_reject(
            order=order, by=lead, comment="Too many domains"
        )

    assert rejected.status == OrderStatus.REJECTED
    assert rejected.decided_by == lead
    assert rejected.decision_comment == "Too many domains"
    assert mail.outbox[-1].subject == "Rejected: Q3"
    assert "Too many domains" in mail.outbox[-1].body


def test_an_edit_after_submission_voids_the_request(
    workspace, operator, lead, remote, queue
):
    order = submitted_order(workspace, operator)
    quote = order.approved_quote
    drafts.order_reopen(order=order, by=operator)

    with pytest.raises(workflow.WorkflowError, match="not waiting for approval"):
        workflow.order_approve(order=order, by=lead, quote_id=quote.pk)

    order.refresh_from_db()
    assert order.status == OrderStatus.DRAFT
    assert order.approved_quote is None
    assert queue.sent == []


def test_approving_a_quote_other_than_the_one_shown_is_refused(
    workspace, operator, lead, remote
):
    order = submitted_order(workspace, operator)

    with pytest.raises(workflow.WorkflowError, match="quote changed"):
        workflow.order_approve(
            order=order, by=lead, quote_id=order.approved_quote_id + 1000
        )


def test_a_decided_order_cannot_be_approved_twice(
    workspace,
    operator,
    lead,
    ws_admin,
    remote,
    queue,
    django_capture_on_commit_callbacks,
):
    order = submitted_order(workspace, operator)
    with django_capture_on_commit_callbacks(execute=True):
        workflow.order_approve(order=order, by=lead)

    with pytest.raises(workflow.ApprovalRefused, match="not waiting for approval"):
        workflow.order_approve(order=order, by=ws_admin)

    assert queue.names() == ["place_order_task"]
