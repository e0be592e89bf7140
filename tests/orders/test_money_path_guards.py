"""Guards of the money path that an audit found unprotected (issue #12), each against the
in-process sandbox and counting the real order POSTs that reached it:

- validity drift between approval and placement, the approver's limit on re-submission, a
  transient error after the order POST was sent, half-up cents, and the cancel preview's
  knowledge of mailboxes bought outside the order (each of these was a planted bug that no
  test caught);
- the guards around them: invalid quotes on submit and approve, who may re-submit, every
  outcome of an attempt that is no longer current, the cancel read-back, a refused mirror
  refresh and a resumed domain check.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

import httpx
import pytest
from django.utils import timezone

from orders import (
    cancellation,
    cancellation_runs,
    drafts,
    finders,
    instantly_keys,
    mirror,
    tasks,
    workflow,
)
from orders.instantly import InstantlyTransientError, OutcomeUnknown
from orders.models import (
    CheckStatus,
    DomainCheck,
    Mailbox,
    MailboxStatus,
    Membership,
    Order,
    OrderStatus,
    Quote,
    RemoteAccount,
    RemoteDomain,
)
from orders.quotes import cents
from sandbox.models import DfyAccount, RequestLog
from sandbox.rules import Provider
from sandbox.switches import switches_set
from sandbox.testing import in_process_transport
from tests.integration.support import (
    JANE,
    JOHN,
    draft_order,
    quote_order,
    submitted_order,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def approved(
    workspace, operator, lead, remote, queue, django_capture_on_commit_callbacks
):
    """Approved by the lead (limit $500); the placement message recorded, not yet run."""
    order = submitted_order(workspace, operator)
    with django_capture_on_commit_callbacks(execute=True):
        workflow.order_approve(order=order, by=lead)
    assert queue.names() == ["place_order_task"]
    queue.sent.clear()
    order.refresh_from_db()
    assert order.approved_quote.due_now == Decimal("25.00")
    return order


def kinds(order: Order) -> list[str]:
    return list(order.events.values_list("kind", flat=True))


def client_for(order: Order):  # type: ignore[no-untyped-def]
    return instantly_keys.instantly_client_for(workspace=order.workspace)


# --- validity drift ---------------------------------------------------------------------


def test_validity_drift_at_the_same_price_posts_nothing_and_asks_again(
    approved, remote, ws_admin, queue, django_capture_on_commit_callbacks
):
    # Google mailboxes become unavailable: the re-quote says "invalid" at an unchanged price,
    # so only the validity check stands between this order and a refused real POST.
    switches_set(workspace=remote.sandbox, unavailable_providers=[int(Provider.GOOGLE)])

    with django_capture_on_commit_callbacks(execute=True):
        tasks.place_order_task(order_id=approved.pk)

    approved.refresh_from_db()
    assert approved.status == OrderStatus.NEEDS_REAPPROVAL
    assert remote.real_posts() == 0
    assert approved.drift["valid"] == [True, False]
    # The new quote is the one to approve, and what the history sorts this order by.
    assert approved.approved_quote is not None
    assert approved.approved_quote_id == approved.drift["quote_id"]
    assert approved.approved_due_now == approved.approved_quote.due_now
    assert approved.drift["order_error"] == ["", "provider_unavailable"]
    assert not {"due_now", "per_month", "per_year", "fingerprint"} & set(approved.drift)
    assert approved.approved_quote.is_valid is False
    assert kinds(approved)[-2:] == ["claimed", "requote_drift"]

    # The invalid re-quote is what would be approved next: nobody can approve it.
    with pytest.raises(
        workflow.ApprovalRefused, match="latest simulation refuses this order"
    ):
        workflow.order_approve(order=approved, by=ws_admin)
    approved.refresh_from_db()
    assert approved.status == OrderStatus.NEEDS_REAPPROVAL
    assert queue.sent == []
    assert remote.real_posts() == 0


# --- re-submission ------------------------------------------------------------------------


def needs_attention(order: Order) -> Order:
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.NEEDS_ATTENTION)
    order.refresh_from_db()
    return order


def test_resubmission_respects_the_approvers_amount_limit(
    approved, lead, remote, queue, django_capture_on_commit_callbacks
):
    order = needs_attention(approved)
    # The $25.00 order is above this lead's limit (the audit's case: $120 over a $100 limit).
    Membership.objects.filter(user=lead, workspace=order.workspace).update(
        approval_limit=Decimal("20.00")
    )

    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(
            workflow.ApprovalRefused, match=r"\$25\.00 is above your approval limit"
        ),
    ):
        workflow.order_resubmit(order=order, by=lead)

    order.refresh_from_db()
    assert order.status == OrderStatus.NEEDS_ATTENTION
    assert "resubmitted" not in kinds(order)
    assert queue.sent == []
    assert remote.real_posts() == 0


def test_resubmission_within_the_limit_places_once(
    approved, lead, remote, queue, django_capture_on_commit_callbacks
):
    order = needs_attention(approved)
    Membership.objects.filter(user=lead, workspace=order.workspace).update(
        approval_limit=Decimal("25.00")
    )

    with django_capture_on_commit_callbacks(execute=True):
        workflow.order_resubmit(order=order, by=lead)
    queue.drain(django_capture_on_commit_callbacks)

    order.refresh_from_db()
    assert order.status == OrderStatus.PLACED
    assert remote.real_posts() == 1


def test_only_a_lead_may_resubmit(approved, operator, remote, queue):
    order = needs_attention(approved)

    with pytest.raises(
        workflow.ApprovalRefused,
        match="Only a lead or a workspace admin can re-submit an order",
    ):
        workflow.order_resubmit(order=order, by=operator)

    order.refresh_from_db()
    assert order.status == OrderStatus.NEEDS_ATTENTION
    assert "resubmitted" not in kinds(order)
    assert queue.sent == []
    assert remote.real_posts() == 0


# --- a transient error after the POST was sent ---------------------------------------------


def test_transient_error_after_the_post_was_sent_is_unknown_never_a_release(
    approved, remote, queue, django_capture_on_commit_callbacks
):
    client = client_for(approved)
    send = client.place_order

    def sent_then_lost(payload):  # type: ignore[no-untyped-def]
        send(payload)
        raise InstantlyTransientError("connection reset after sending")

    client.place_order = sent_then_lost

    with django_capture_on_commit_callbacks(execute=True):
        workflow.order_place(order=approved, client=client)

    approved.refresh_from_db()
    assert approved.status == OrderStatus.UNKNOWN
    assert approved.placement_tries == 0
    assert "claim_released" not in kinds(approved)
    assert remote.real_posts() == 1
    assert queue.names() == ["reconcile_order_task"]
    # A stray placement message finds nothing to claim; reconciliation finds the order.
    workflow.order_place(order=approved, client=client)
    queue.drain(django_capture_on_commit_callbacks)
    approved.refresh_from_db()
    assert approved.status == OrderStatus.PLACED
    assert kinds(approved).count("claimed") == 1
    assert remote.real_posts() == 1


def test_transient_error_before_the_post_left_releases_the_claim(approved, remote):
    client = client_for(approved)

    def never_sent(payload):  # type: ignore[no-untyped-def]
        raise InstantlyTransientError("could not connect", request_sent=False)

    client.place_order = never_sent

    workflow.order_place(order=approved, client=client)

    approved.refresh_from_db()
    assert approved.status == OrderStatus.APPROVED
    assert approved.placement_tries == 1
    assert kinds(approved)[-1] == "claim_released"
    assert remote.real_posts() == 0


# --- money in cents -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        ("0.005", "0.01"),
        ("0.125", "0.13"),
        ("2.675", "2.68"),
        ("0.665", "0.67"),
        ("-0.125", "-0.13"),
        ("10", "10.00"),
    ],
)
def test_cents_round_half_up(amount, expected):
    # Ties: half-even would give 0.00, 0.12, 2.68, 0.66, -0.12.
    assert str(cents(Decimal(amount))) == expected


def test_a_stored_quote_rounds_a_half_cent_up(draft_with_half_cent_quote):
    quote = draft_with_half_cent_quote
    assert quote.due_now == Decimal("25.01")
    assert quote.discount == Decimal("0.13")


@pytest.fixture
def draft_with_half_cent_quote(workspace, operator, remote):  # type: ignore[no-untyped-def]
    from orders import instantly, quotes
    from orders.payload import fingerprint, order_payload

    order = draft_order(workspace, operator)
    payload = order_payload(order)
    body = (
        '{"simulation": true, "order_placed": false, "order_is_valid": true,'
        ' "total_price": 25.005, "total_price_per_month": 10.005,'
        ' "total_price_per_year": 15, "total_discount": 0.125, "items": []}'
    )
    result = instantly.parse_order_result(body)
    return quotes.quote_store(
        order=order, payload=payload, digest=fingerprint(payload), result=result
    )


# --- the cancel preview and the cancel read-back ------------------------------------------


@pytest.fixture
def placed(approved, queue, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        tasks.place_order_task(order_id=approved.pk)
    queue.drain(django_capture_on_commit_callbacks)
    approved.refresh_from_db()
    assert approved.status == OrderStatus.PLACED
    return approved


def mailbox(order: Order, email: str) -> Mailbox:
    prefix, domain = email.split("@")
    return Mailbox.objects.get(
        item__order=order, item__domain=domain, email_prefix=prefix
    )


def test_cancel_preview_counts_mailboxes_instantly_lists_outside_this_order(
    placed, workspace
):
    # Bought at Instantly outside this order (another tool, another portal order long gone).
    RemoteAccount.objects.create(
        workspace=workspace,
        remote_id="outside-1",
        email="sales@acme-mail.com",
        domain="acme-mail.com",
        provider=1,
    )

    preview = cancellation.cancellation_preview(order=placed, domains=["acme-mail.com"])

    (consequence,) = preview.domains
    assert consequence.remaining == ("sales@acme-mail.com",)
    assert not consequence.cancels_domain
    assert preview.domains_cancelled == []


def test_cancel_preview_ignores_remote_mailboxes_already_cancelled(placed, workspace):
    RemoteAccount.objects.create(
        workspace=workspace,
        remote_id="outside-1",
        email="sales@acme-mail.com",
        domain="acme-mail.com",
        provider=1,
        cancelled_remote_at=timezone.now(),
    )

    preview = cancellation.cancellation_preview(order=placed, domains=["acme-mail.com"])

    assert preview.domains_cancelled == ["acme-mail.com"]


class CancelAnswerLost(httpx.BaseTransport):
    """The cancel POST reaches the sandbox, then its answer is lost as a read timeout; reads
    of the accounts list fail as well when `reads_fail`."""

    def __init__(self, *, reads_fail: bool = False) -> None:
        self.inner = in_process_transport()
        self.reads_fail = reads_fail

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET" and self.reads_fail:
            raise httpx.ConnectError("list unreachable", request=request)
        response = self.inner.handle_request(request)
        if request.method == "POST" and request.url.path.endswith("/accounts/cancel"):
            response.read()
            raise httpx.ReadTimeout("timed out after sending", request=request)
        return response


def test_a_lost_cancel_answer_is_read_back_from_the_accounts_list(placed, lead, remote):
    client = instantly_keys.instantly_client_for(
        workspace=placed.workspace, transport=CancelAnswerLost()
    )

    outcome = cancellation_runs.order_cancel_mailboxes(
        order=placed,
        by=lead,
        mailbox_ids=[mailbox(placed, "jane@acme-mail.com").pk],
        confirmation="cancel 1 mailbox",
        client=client,
    )

    placed.refresh_from_db()
    assert outcome.results == [("jane@acme-mail.com", "cancelled")]
    assert mailbox(placed, "jane@acme-mail.com").status == MailboxStatus.CANCELLED
    assert mailbox(placed, "john@acme-mail.com").status != MailboxStatus.CANCELLED
    assert placed.status == OrderStatus.PARTIALLY_CANCELLED
    assert remote.requests("accounts/cancel") == 1
    assert DfyAccount.objects.get(email="jane@acme-mail.com").timestamp_cancelled
    assert remote.real_posts() == 1


def test_a_lost_cancel_answer_that_cannot_be_read_back_stays_unknown(
    placed, lead, remote
):
    client = instantly_keys.instantly_client_for(
        workspace=placed.workspace, transport=CancelAnswerLost(reads_fail=True)
    )

    outcome = cancellation_runs.order_cancel_mailboxes(
        order=placed,
        by=lead,
        mailbox_ids=[mailbox(placed, "jane@acme-mail.com").pk],
        confirmation="cancel 1 mailbox",
        client=client,
    )

    placed.refresh_from_db()
    assert outcome.results == [("jane@acme-mail.com", "unknown")]
    assert mailbox(placed, "jane@acme-mail.com").status != MailboxStatus.CANCELLED
    assert placed.status == OrderStatus.PLACED
    # Sent once, never again, even though its outcome is unknown.
    assert remote.requests("accounts/cancel") == 1
    assert cancellation.last_cancellation(placed) == [
        (
            "jane@acme-mail.com",
            "Unknown: Instantly's answer was lost; the next poll will tell",
        )
    ]


# --- an attempt that is no longer current -------------------------------------------------
# Each case supersedes the running attempt in the middle of its HTTP call (as the sweeper plus
# a re-submission and a new claim would), then checks that the late outcome is recorded as an
# event and changes nothing else.


def supersede(order: Order) -> uuid.UUID:
    newer = uuid.uuid4()
    Order.objects.filter(pk=order.pk).update(submission_attempt_id=newer)
    return newer


def superseded_place(order, client):  # type: ignore[no-untyped-def]
    before = Order.objects.values_list("status", flat=True).get(pk=order.pk)
    assert before == OrderStatus.APPROVED
    result = workflow.order_place(order=order, client=client)
    order.refresh_from_db()
    return result


@pytest.fixture
def superseding_client(approved):  # type: ignore[no-untyped-def]
    client = client_for(approved)
    client.newer = None

    def wrap(name, after=None, instead=None):  # type: ignore[no-untyped-def]
        real = getattr(client, name)

        def call(payload):  # type: ignore[no-untyped-def]
            if instead is not None:
                client.newer = supersede(approved)
                raise instead
            answer = real(payload)
            client.newer = supersede(approved)
            if after is not None:
                raise after
            return answer

        setattr(client, name, call)

    client.wrap = wrap
    return client


def assert_late(order: Order, kind: str, newer: uuid.UUID) -> dict[str, object]:
    assert (
        order.status == OrderStatus.SUBMITTING
    )  # what the newer attempt set, untouched
    assert order.submission_attempt_id == newer
    assert kinds(order)[-1] == f"late_{kind}"
    event = order.events.last()
    assert event.detail["attempt_id"] != str(newer)
    return event.detail


def test_late_placed_is_recorded_and_changes_nothing(
    approved, superseding_client, remote, queue
):
    superseding_client.wrap("place_order")

    superseded_place(approved, superseding_client)

    detail = assert_late(approved, "placed", superseding_client.newer)
    assert '"order_placed"' in detail["outcome"]["response"]
    assert approved.placed_at is None
    assert approved.placement_response == ""
    assert remote.real_posts() == 1
    assert queue.sent == []


def test_late_failed_is_recorded_and_changes_nothing(
    approved, superseding_client, remote, queue
):
    switches_set(workspace=remote.sandbox, payment_failure_reason="card_expired")
    superseding_client.wrap("place_order")

    superseded_place(approved, superseding_client)

    detail = assert_late(approved, "failed", superseding_client.newer)
    assert detail["outcome"]["refusal"]["payment_failure_reason"] == "card_expired"
    assert approved.refusal == {}
    assert approved.finished_at is None
    assert remote.real_posts() == 1


def test_late_unknown_is_recorded_and_starts_no_reconciliation(
    approved, superseding_client, remote, queue
):
    superseding_client.wrap("place_order", after=OutcomeUnknown("answer lost"))

    superseded_place(approved, superseding_client)

    detail = assert_late(approved, "unknown", superseding_client.newer)
    assert detail["outcome"] == {"message": "answer lost"}
    assert approved.attention_reason == ""
    assert queue.sent == []
    assert remote.real_posts() == 1


def test_late_drift_stores_no_quote_and_posts_nothing(
    approved, superseding_client, remote, queue
):
    switches_set(workspace=remote.sandbox, google_price_per_month=Decimal("7"))
    superseding_client.wrap("simulate_order")
    quotes_before = Quote.objects.filter(order=approved).count()

    superseded_place(approved, superseding_client)

    detail = assert_late(approved, "drift", superseding_client.newer)
    assert detail["outcome"]["drift"]["due_now"] == ["25.00", "29.00"]
    assert Quote.objects.filter(order=approved).count() == quotes_before
    assert approved.drift == {}
    assert remote.real_posts() == 0


def test_late_release_gives_nothing_back(approved, superseding_client, remote, queue):
    superseding_client.wrap(
        "simulate_order",
        instead=InstantlyTransientError("re-quote timed out", request_sent=False),
    )

    superseded_place(approved, superseding_client)

    detail = assert_late(approved, "release", superseding_client.newer)
    assert "re-quote failed" in detail["outcome"]["reason"]
    assert approved.placement_tries == 0
    assert remote.real_posts() == 0


# --- invalid quotes on submit -------------------------------------------------------------


def test_an_invalid_quote_cannot_be_submitted(workspace, operator, remote, queue):
    switches_set(workspace=remote.sandbox, unavailable_providers=[int(Provider.GOOGLE)])
    order = draft_order(workspace, operator)
    quote = quote_order(order)
    order.refresh_from_db()
    assert quote.is_valid is False

    with pytest.raises(drafts.DraftError, match="simulation says this order would be"):
        drafts.order_submit(
            order=order,
            by=operator,
            version=order.version,
            fingerprint=quote.fingerprint,
        )

    order.refresh_from_db()
    assert order.status == OrderStatus.DRAFT
    assert order.approved_quote is None
    assert queue.sent == []
    assert remote.real_posts() == 0


def test_an_order_whose_quote_became_invalid_cannot_be_approved(
    workspace, operator, lead, remote, queue
):
    order = submitted_order(workspace, operator)
    Quote.objects.filter(pk=order.approved_quote_id).update(
        is_valid=False, order_error="provider_unavailable"
    )
    order.refresh_from_db()

    with pytest.raises(
        workflow.ApprovalRefused, match="latest simulation refuses this order"
    ):
        workflow.order_approve(order=order, by=lead)

    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_APPROVAL
    assert order.approver is None
    assert queue.sent == []
    assert remote.real_posts() == 0


# --- owned-domains refresh ----------------------------------------------------------------


def test_a_refused_owned_domains_refresh_stops_the_panel_waiting(
    workspace, remote, caplog
):
    mirror.refresh_requested(workspace=workspace)
    assert mirror.refresh_state(workspace=workspace).running
    remote.sandbox.keys.update(revoked_at=timezone.now())

    tasks.refresh_remote_mirror_task(workspace_id=workspace.pk)  # no retry: no raise

    state = mirror.refresh_state(workspace=workspace)
    assert not state.running
    assert state.done_at is not None
    assert RemoteDomain.objects.filter(workspace=workspace).count() == 0
    # Refused once and not retried (a revoked key's requests belong to no sandbox workspace).
    assert list(
        RequestLog.objects.filter(
            path__contains="dfy-email-account-orders"
        ).values_list("method", "status_code")
    ) == [("GET", 401)]
    assert "refused" in caplog.text
    assert remote.key not in caplog.text
    assert remote.real_posts() == 0


def test_a_transient_refresh_failure_is_retried_and_the_panel_keeps_waiting(
    workspace, remote, monkeypatch
):
    class Unreachable(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectError("unreachable", request=request)

    factory = instantly_keys.instantly_client_for

    def unreachable(*, workspace, **overrides):  # type: ignore[no-untyped-def]
        return factory(workspace=workspace, transport=Unreachable(), **overrides)

    monkeypatch.setattr(instantly_keys, "instantly_client_for", unreachable)
    mirror.refresh_requested(workspace=workspace)

    # Called directly (not by a worker), Celery's autoretry re-raises the error.
    with pytest.raises(InstantlyTransientError, match="could not connect"):
        tasks.refresh_remote_mirror_task(workspace_id=workspace.pk)

    assert mirror.refresh_state(workspace=workspace).running


# --- resuming a domain check --------------------------------------------------------------


def test_a_partly_checked_domain_check_resumes_with_the_rest_only(
    workspace, operator, remote
):
    order = draft_order(workspace, operator, items=[("acme-mail.com", 1, [JANE, JOHN])])
    done = [f"done{n}-mail.com" for n in range(60)]
    rest = ["fresh-mail.com", "google-team.com"]
    # A worker died after the first batch: its results are saved, the status says running.
    check = DomainCheck.objects.create(
        workspace=workspace,
        order=order,
        domains=[*done, *rest],
        results={d: {"state": "taken"} for d in done},
        status=CheckStatus.RUNNING,
    )
    client = client_for(order)
    asked: list[list[str]] = []
    check_domains = client.check_domains

    def recording(domains):  # type: ignore[no-untyped-def]
        asked.append(list(domains))
        return check_domains(domains)

    client.check_domains = recording

    finders.domain_check_run(check=check, client=client)

    check.refresh_from_db()
    assert asked == [rest]
    assert remote.requests("domains/check") == 1
    assert remote.real_posts() == 0
    assert check.status == CheckStatus.DONE
    assert check.finished_at is not None
    assert check.checked == 62
    # What the first run found stays, though the sandbox would now call these available.
    assert check.results["done0-mail.com"] == {"state": "taken"}
    assert check.results["fresh-mail.com"] == {"state": "available"}
    assert check.results["google-team.com"] == {
        "state": "restricted",
        "keyword": "google",
    }


def _run_check_task_as_worker(monkeypatch, check_id: int, retries: int) -> bool:  # type: ignore[no-untyped-def]
    """Run the task body as a worker would on its `retries`-th retry; True when it asked to
    be retried."""
    from celery.exceptions import Retry

    from orders import tasks

    task = tasks.check_domains_task
    monkeypatch.setattr(task, "retry", lambda **options: Retry("retry requested"))
    task.push_request(called_directly=False, retries=retries)
    try:
        task.run(check_id=check_id)
    except Retry:
        return True
    finally:
        task.pop_request()
    return False


def test_a_domain_check_instantly_never_answers_fails_on_the_last_retry(
    workspace, operator, remote, monkeypatch
):
    from orders import tasks
    from orders.instantly import InstantlyTransientError

    order = draft_order(workspace, operator, items=[("acme-mail.com", 1, [JANE])])
    check = DomainCheck.objects.create(
        workspace=workspace,
        order=order,
        domains=["fresh-mail.com"],
        status=CheckStatus.RUNNING,
    )

    def down(self, domains):  # type: ignore[no-untyped-def]
        raise InstantlyTransientError("HTTP 503 from Instantly")

    monkeypatch.setattr("orders.instantly.InstantlyClient.check_domains", down)

    first = _run_check_task_as_worker(monkeypatch, check.pk, retries=0)
    check.refresh_from_db()
    assert first is True
    assert check.status == CheckStatus.RUNNING  # a retry will come

    last = _run_check_task_as_worker(
        monkeypatch, check.pk, retries=tasks.CHECK_MAX_RETRIES
    )

    check.refresh_from_db()
    assert last is False
    assert check.status == CheckStatus.FAILED
    assert check.finished_at is not None
    assert "did not answer after several tries" in check.error
