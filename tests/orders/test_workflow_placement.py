"""Placement exactly once, against the in-process sandbox, counting real POSTs at the sandbox:
the claim, duplicate delivery, re-quote drift, definitive refusals, unknown outcomes and their
reconciliation, crashes found by the sweeper, and a person resolving what remains."""

from __future__ import annotations

import ast
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from orders import instantly_keys, tasks, workflow
from orders.models import Order, OrderStatus
from orders.workflow import placement
from sandbox.models import DfyAccount, DomainOrder
from sandbox.switches import switches_set
from sandbox.testing import in_process_transport
from tests.integration.support import (
    JANE,
    JOHN,
    TimeoutAfterSend,
    submitted_order,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def approved(
    workspace, operator, lead, remote, queue, django_capture_on_commit_callbacks
):
    """An approved order whose placement message is queued but not yet delivered."""
    order = submitted_order(workspace, operator)
    with django_capture_on_commit_callbacks(execute=True):
        workflow.order_approve(order=order, by=lead)
    assert queue.names() == ["place_order_task"]
    queue.sent.clear()
    order.refresh_from_db()
    return order


def kinds(order):
    return list(order.events.values_list("kind", flat=True))


def test_placement_buys_once_and_keeps_the_whole_answer(
    approved, remote, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        tasks.place_order_task(order_id=approved.pk)

    approved.refresh_from_db()
    assert approved.status == OrderStatus.PLACED
    assert approved.placed_at is not None
    assert (
        '"order_placed": true' in approved.placement_response
        or '"order_placed":true' in approved.placement_response
    )
    assert remote.real_posts() == 1
    assert DomainOrder.objects.filter(workspace=remote.sandbox).count() == 1
    assert kinds(approved)[-3:] == ["claimed", "place_request", "placed"]
    assert mail.outbox[-1].subject == "Placed: Q3"


def test_the_same_task_delivered_twice_posts_once(approved, remote, queue):
    tasks.place_order_task(order_id=approved.pk)
    tasks.place_order_task(order_id=approved.pk)

    approved.refresh_from_db()
    assert approved.status == OrderStatus.PLACED
    assert remote.real_posts() == 1
    assert kinds(approved).count("claimed") == 1


def test_price_drift_buys_nothing_and_asks_again_with_the_difference(
    approved, remote, lead, ws_admin, queue, django_capture_on_commit_callbacks
):
    switches_set(workspace=remote.sandbox, google_price_per_month=Decimal("7"))

    with django_capture_on_commit_callbacks(execute=True):
        tasks.place_order_task(order_id=approved.pk)

    approved.refresh_from_db()
    assert approved.status == OrderStatus.NEEDS_REAPPROVAL
    assert remote.real_posts() == 0
    assert approved.drift["due_now"] == ["25.00", "29.00"]
    assert approved.drift["per_month"] == ["10.00", "14.00"]
    assert approved.approved_quote.due_now == Decimal("29.00")
    assert "Price changed, approve again: Q3" in [m.subject for m in mail.outbox]

    with django_capture_on_commit_callbacks(execute=True):
        workflow.order_approve(order=approved, by=ws_admin)
    queue.drain(django_capture_on_commit_callbacks)

    approved.refresh_from_db()
    assert approved.status == OrderStatus.PLACED
    assert approved.drift == {}
    assert remote.real_posts() == 1


def test_payment_failure_is_a_definitive_refusal_in_plain_words(
    approved, remote, django_capture_on_commit_callbacks
):
    switches_set(workspace=remote.sandbox, payment_failure_reason="card_expired")

    with django_capture_on_commit_callbacks(execute=True):
        tasks.place_order_task(order_id=approved.pk)

    approved.refresh_from_db()
    assert approved.status == OrderStatus.FAILED
    assert approved.refusal["message"] == (
        "Instantly refused the order: the payment did not go through: the card on file has expired."
    )
    assert approved.refusal["payment_failure_reason"] == "card_expired"
    assert approved.finished_at is not None
    assert remote.real_posts() == 1
    assert mail.outbox[-1].subject == "Refused by Instantly: Q3"


@pytest.mark.parametrize(
    ("change", "status_code", "words"),
    [
        ({"plan_active": False}, 402, "no active paid plan"),
        ({"revoke": True}, 401, "refused the API key"),
    ],
)
def test_401_and_402_fail_the_order_without_a_post(
    approved, remote, change, status_code, words
):
    if change.get("revoke"):
        remote.sandbox.keys.update(revoked_at=timezone.now())
    else:
        type(remote.sandbox).objects.filter(pk=remote.sandbox.pk).update(**change)

    tasks.place_order_task(order_id=approved.pk)

    approved.refresh_from_db()
    assert approved.status == OrderStatus.FAILED
    assert approved.refusal["http_status"] == status_code
    assert words in approved.refusal["message"]
    assert remote.real_posts() == 0


def test_timeout_after_the_remote_recorded_goes_unknown_then_placed(
    approved, remote, workspace, queue, django_capture_on_commit_callbacks
):
    client = instantly_keys.instantly_client_for(
        workspace=workspace, transport=TimeoutAfterSend(in_process_transport())
    )

    with django_capture_on_commit_callbacks(execute=True):
        workflow.order_place(order=approved, client=client)

    approved.refresh_from_db()
    assert approved.status == OrderStatus.UNKNOWN
    assert queue.names() == ["reconcile_order_task"]
    queue.drain(django_capture_on_commit_callbacks)
    approved.refresh_from_db()
    assert approved.status == OrderStatus.PLACED
    assert approved.reconcile_evidence["found"] == ["acme-mail.com"]
    assert "reconciled_placed" in kinds(approved)
    assert remote.real_posts() == 1


def test_timeout_without_a_record_needs_a_person_and_never_posts_again(
    approved, remote, queue, django_capture_on_commit_callbacks
):
    switches_set(
        workspace=remote.sandbox,
        timeout_without_record=True,
        timeout_after_record_seconds=0,
    )
    with django_capture_on_commit_callbacks(execute=True):
        tasks.place_order_task(order_id=approved.pk)
    approved.refresh_from_db()
    assert approved.status == OrderStatus.UNKNOWN

    # A simulated day of sweeps every 10 minutes, each followed by what it enqueued.
    with time_machine.travel(timezone.now(), tick=False) as clock:
        for _ in range(6 * 24):
            clock.shift(timedelta(minutes=10))
            with django_capture_on_commit_callbacks(execute=True):
                workflow.orders_sweep()
            queue.drain(django_capture_on_commit_callbacks)

    approved.refresh_from_db()
    assert approved.status == OrderStatus.NEEDS_ATTENTION
    assert 1 < approved.reconcile_checks <= workflow.reconcile_max_checks()
    assert approved.reconcile_evidence["missing"] == ["acme-mail.com"]
    assert remote.real_posts() == 1
    assert DomainOrder.objects.count() == 0
    assert mail.outbox[-1].subject == "Needs attention: Q3"


class WorkerKilled(BaseException):
    """Stands for SIGKILL: not an Exception, so nothing in the code path may swallow it."""


def test_worker_killed_after_the_post_is_reconciled_to_placed(
    approved, remote, queue, monkeypatch, django_capture_on_commit_callbacks
):
    def killed(*args, **kwargs):
        raise WorkerKilled

    with monkeypatch.context() as patched:
        patched.setattr(placement, "_record_placed", killed)
        with pytest.raises(WorkerKilled):
            tasks.place_order_task(order_id=approved.pk)
    approved.refresh_from_db()
    assert approved.status == OrderStatus.SUBMITTING
    assert remote.real_posts() == 1

    with django_capture_on_commit_callbacks(execute=True):
        early = workflow.orders_sweep()
    with time_machine.travel(timezone.now() + timedelta(minutes=6), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            late = workflow.orders_sweep()
        queue.drain(django_capture_on_commit_callbacks)

    approved.refresh_from_db()
    assert early["stranded"] == 0
    assert late["stranded"] == 1
    assert approved.status == OrderStatus.PLACED
    assert kinds(approved)[-2:] == ["stranded", "reconciled_placed"]
    assert remote.real_posts() == 1


def test_stranded_approval_is_re_enqueued_by_the_sweeper(
    approved, queue, django_capture_on_commit_callbacks
):
    assert workflow.orders_sweep()["requeued"] == 0

    with (
        time_machine.travel(timezone.now() + timedelta(minutes=3), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        counts = workflow.orders_sweep()

    assert counts["requeued"] == 1
    assert queue.sent == [("place_order_task", {"order_id": approved.pk})]


class RefuseRealPosts(httpx.BaseTransport):
    """Instantly answers 429 to the real POST without recording it; counts the real POSTs."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.real_posts = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if (
            request.method == "POST"
            and b'"simulation":false' in request.content.replace(b" ", b"")
        ):
            self.real_posts += 1
            return httpx.Response(
                429,
                json={
                    "statusCode": 429,
                    "error": "Too Many Requests",
                    "message": "Rate limit exceeded",
                },
            )
        return self.inner.handle_request(request)


def test_429_on_the_post_is_an_unknown_outcome_reconciled_before_any_second_post(
    approved, remote, workspace, queue, django_capture_on_commit_callbacks
):
    transport = RefuseRealPosts(in_process_transport())
    client = instantly_keys.instantly_client_for(
        workspace=workspace, transport=transport
    )

    with django_capture_on_commit_callbacks(execute=True):
        first = workflow.order_place(order=approved, client=client)

    assert first.status == OrderStatus.UNKNOWN
    assert "429" in first.attention_reason
    assert first.placement_tries == 0
    assert queue.names() == ["reconcile_order_task"]
    assert transport.real_posts == 1
    # A stray placement message finds nothing to claim: no second POST before reconciling.
    workflow.order_place(order=approved, client=client)
    assert transport.real_posts == 1
    assert remote.real_posts() == 0
    assert kinds(first).count("claimed") == 1


def test_a_person_resubmits_an_order_that_needs_attention(
    approved,
    remote,
    workspace,
    ws_admin,
    queue,
    settings,
    django_capture_on_commit_callbacks,
):
    settings.DFY_RECONCILE_MAX_CHECKS = 1
    switches_set(
        workspace=remote.sandbox,
        timeout_without_record=True,
        timeout_after_record_seconds=0,
    )
    with django_capture_on_commit_callbacks(execute=True):
        tasks.place_order_task(order_id=approved.pk)
    queue.drain(django_capture_on_commit_callbacks)
    approved.refresh_from_db()
    old_attempt = approved.submission_attempt_id
    assert approved.status == OrderStatus.NEEDS_ATTENTION
    switches_set(workspace=remote.sandbox, timeout_without_record=False)

    with django_capture_on_commit_callbacks(execute=True):
        workflow.order_resubmit(
            order=approved, by=ws_admin, comment="Not in Instantly's billing"
        )
    queue.drain(django_capture_on_commit_callbacks)

    approved.refresh_from_db()
    assert approved.status == OrderStatus.PLACED
    assert approved.submission_attempt_id != old_attempt
    assert remote.real_posts() == 2
    assert "resubmitted" in kinds(approved)


def test_submitter_cannot_resubmit_their_own_order(
    approved,
    operator,
    lead,
    settings,
    remote,
    queue,
    django_capture_on_commit_callbacks,
):
    Order.objects.filter(pk=approved.pk).update(status=OrderStatus.NEEDS_ATTENTION)
    approved.refresh_from_db()
    approved.submitted_by = lead
    approved.save(update_fields=["submitted_by"])

    with pytest.raises(workflow.ApprovalRefused, match="Four-eyes"):
        workflow.order_resubmit(order=approved, by=lead)


def test_a_person_marks_an_order_placed(
    approved, lead, django_capture_on_commit_callbacks
):
    Order.objects.filter(pk=approved.pk).update(status=OrderStatus.NEEDS_ATTENTION)
    approved.refresh_from_db()

    with django_capture_on_commit_callbacks(execute=True):
        placed = workflow.order_mark_placed(
            order=approved, by=lead, comment="Seen on the billing page"
        )

    assert placed.status == OrderStatus.PLACED
    assert placed.events.last().detail["comment"] == "Seen on the billing page"
    assert mail.outbox[-1].subject == "Placed: Q3"


def test_extra_accounts_are_reconciled_by_their_mailboxes(
    workspace, operator, lead, remote, queue, django_capture_on_commit_callbacks
):
    first = submitted_order(workspace, operator, items=[("acme-mail.com", 1, [JANE])])
    with django_capture_on_commit_callbacks(execute=True):
        workflow.order_approve(order=first, by=lead)
    queue.drain(django_capture_on_commit_callbacks)
    extra = submitted_order(
        workspace,
        operator,
        items=[("acme-mail.com", 1, [JOHN])],
        order_type="extra_accounts",
    )
    with django_capture_on_commit_callbacks(execute=True):
        workflow.order_approve(order=extra, by=lead)
    queue.sent.clear()
    client = instantly_keys.instantly_client_for(
        workspace=workspace, transport=TimeoutAfterSend(in_process_transport())
    )

    with django_capture_on_commit_callbacks(execute=True):
        workflow.order_place(order=extra, client=client)
    queue.drain(django_capture_on_commit_callbacks)

    extra.refresh_from_db()
    assert extra.status == OrderStatus.PLACED
    assert extra.reconcile_evidence == {
        **extra.reconcile_evidence,
        "endpoint": "accounts",
        "found": ["john@acme-mail.com"],
        "missing": [],
    }
    assert DfyAccount.objects.count() == 2
    assert remote.real_posts() == 2


def test_a_revoked_key_during_reconciliation_still_ends_with_a_person(
    approved, remote, workspace, settings, queue, django_capture_on_commit_callbacks
):
    settings.DFY_RECONCILE_MAX_CHECKS = 2
    client = instantly_keys.instantly_client_for(
        workspace=workspace, transport=TimeoutAfterSend(in_process_transport())
    )
    with django_capture_on_commit_callbacks(execute=True):
        workflow.order_place(order=approved, client=client)
    queue.sent.clear()
    remote.sandbox.keys.update(revoked_at=timezone.now())

    with time_machine.travel(timezone.now(), tick=False) as clock:
        for _ in range(2):
            with django_capture_on_commit_callbacks(execute=True):
                tasks.reconcile_order_task(order_id=approved.pk)
            clock.shift(timedelta(seconds=workflow.reconcile_backoff_seconds()))

    approved.refresh_from_db()
    assert approved.status == OrderStatus.NEEDS_ATTENTION
    assert approved.attention_reason.startswith(
        "Instantly's lists could not be read: 401"
    )
    assert remote.real_posts() == 1


def _is_enqueue(target: ast.expr) -> bool:
    """`enqueue.place_order` queues the placement task; it spends nothing itself."""
    return isinstance(target, ast.Name) and target.id == "enqueue"


def test_the_real_order_is_placed_from_one_site_only():
    """Besides the client's own definition, one call site spends money: the claimed placement."""
    root = Path(__file__).resolve().parents[2]
    sites = []
    for path in sorted((root / "orders").rglob("*.py")):
        tree = ast.parse(path.read_text())
        for func in ast.walk(tree):
            if not isinstance(func, ast.FunctionDef):
                continue
            for node in ast.walk(func):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "place_order"
                    and not _is_enqueue(node.func.value)
                ):
                    sites.append((path.relative_to(root).as_posix(), func.name))

    assert sites == [("orders/workflow/placement.py", "_place_claimed")]
