"""Placement to the letter (orders/workflow/placement.py): what the claim writes, what the
re-quote is compared with, the words a person reads for every refusal, the audit row each
outcome leaves (its exact detail), the fields each outcome writes and no others, which
statuses an outcome may still change, what an outcome of a superseded attempt leaves, and
what is told or enqueued. Instantly is a fake that answers what each test needs and counts
the real order POSTs; a few cases run against the in-process sandbox and count them there."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

import httpx
import msgspec
import pytest
import time_machine
from django.db import transaction

from orders import enqueue, instantly_keys, lifecycle, workflow
from orders.instantly import (
    FORBIDDEN_HINT,
    InstantlyAuthError,
    InstantlyClient,
    InstantlyError,
    InstantlyNotFound,
    InstantlyPlanError,
    InstantlyProtocolError,
    InstantlyScopeError,
    InstantlyTransientError,
    InstantlyValidationError,
    InvalidAccount,
    OrderResult,
    OutcomeUnknown,
    RateLimited,
    SimulationNotEchoed,
)
from orders.models import InstantlyKey, Order, OrderEvent, OrderStatus, Quote
from orders.payload import fingerprint, order_payload
from orders.workflow import placement
from sandbox.switches import switches_set
from sandbox.testing import in_process_transport
from tests.factories import OrderFactory
from tests.integration.support import TimeoutAfterSend, submitted_order

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
EARLIER = NOW - timedelta(hours=5)
OLD_ATTEMPT = uuid.UUID("00000000-0000-4000-8000-000000000001")
S = OrderStatus

CHECKOUT_WORDS = (
    "Instantly has no default payment method for this workspace, so it asked for a payment "
    "through its own checkout and bought nothing. Someone with billing access adds a card "
    "in Instantly (Settings, Billing), then a lead chooses “Try again” here. "
    "Trying again asks for a fresh quote first and sends one new order."
)


# --- what is told and enqueued, Instantly as a fake -------------------------------------------


@pytest.fixture(autouse=True)
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, object]]:
    """Notices ("notify", (order id, notice)) and task messages ("place"/"reconcile",
    kwargs), recorded when asked for instead of sent."""
    sent: list[tuple[str, object]] = []

    def notify(*, order_id: int, notice: str) -> None:
        sent.append(("notify", (order_id, notice)))

    monkeypatch.setattr(lifecycle, "order_notify", notify)
    monkeypatch.setattr(enqueue, "place_order", lambda **kw: sent.append(("place", kw)))
    monkeypatch.setattr(
        enqueue, "reconcile_order", lambda **kw: sent.append(("reconcile", kw))
    )
    return sent


class Fake:
    """Instantly answering `requote` to the simulation and `answer` to the real order (either
    may be an error to raise). Keeps every payload sent; `posted` are the real order POSTs."""

    def __init__(
        self,
        requote: OrderResult | Exception,
        answer: OrderResult | Exception | None = None,
        *,
        on_simulate: Callable[[], None] | None = None,
        on_place: Callable[[], None] | None = None,
    ) -> None:
        self.requote = requote
        self.answer = answer
        self.on_simulate = on_simulate
        self.on_place = on_place
        self.simulated: list[dict[str, Any]] = []
        self.posted: list[dict[str, Any]] = []
        self.closed = False

    def simulate_order(self, payload: dict[str, Any]) -> OrderResult:
        self.simulated.append(payload)
        if self.on_simulate is not None:
            self.on_simulate()
        if isinstance(self.requote, Exception):
            raise self.requote
        return self.requote

    def place_order(self, payload: dict[str, Any]) -> OrderResult:
        self.posted.append(payload)
        if self.on_place is not None:
            self.on_place()
        if isinstance(self.answer, Exception):
            raise self.answer
        assert self.answer is not None, "this test expects no real order POST"
        return self.answer

    def __enter__(self) -> Fake:
        return self

    def __exit__(self, *exc: object) -> None:
        self.closed = True


def place(order: Order, fake: Fake) -> Order:
    return placement.order_place(order=order, client=cast(InstantlyClient, fake))


def requote_of(quote: Quote, **changes: Any) -> OrderResult:
    """A simulation answer equal to `quote`, but for `changes`."""
    fields: dict[str, Any] = {
        "order_placed": False,
        "order_is_valid": quote.is_valid,
        "simulation": True,
        "total_price": quote.due_now,
        "total_price_per_month": quote.per_month,
        "total_price_per_year": quote.per_year,
        "total_discount": quote.discount,
        "raw_body": '{"simulation": true, "order_placed": false}',
    }
    return OrderResult(**{**fields, **changes})


PLACED = OrderResult(
    order_placed=True,
    order_is_valid=True,
    total_price=Decimal("25.005"),
    number_of_domains_ordered=1,
    number_of_accounts_ordered=2,
    raw_body='{"order_placed": true, "total_price": 25.005}',
)
CHECKOUT = OrderResult(
    order_placed=False,
    order_is_valid=True,
    checkout_required=True,
    cart_order_id="cart-77",
    checkout_url="https://instantly.example/checkout/77",
    raw_body='{"order_placed": false, "checkout_required": true}',
)
REFUSED = OrderResult(
    order_placed=False,
    order_is_valid=False,
    order_error="unavailable_domains",
    unavailable_domains=("acme-mail.com",),
    raw_body='{"order_placed": false, "order_error": "unavailable_domains"}',
)


# --- orders and their trail -----------------------------------------------------------------


@pytest.fixture
def approved(workspace, operator, lead, remote, sent) -> Order:
    """Quoted by the sandbox ($25.00 due now, $10.00 a month) and approved by the lead."""
    order = submitted_order(workspace, operator)
    workflow.order_approve(order=order, by=lead)
    sent.clear()
    return Order.objects.get(pk=order.pk)


def quote_of(order: Order) -> Quote:
    quote = order.approved_quote
    assert quote is not None
    return quote


def fresh(order: Order) -> Order:
    return Order.objects.get(pk=order.pk)


Trail = list[tuple[str, str, str, int | None, dict[str, Any]]]


def trail(order: Order) -> Trail:
    """(kind, from, to, actor id, detail) of every event since the order's last approval."""
    rows = OrderEvent.objects.filter(order_id=order.pk).order_by("pk")
    last = rows.filter(kind="approved").last()
    if last is not None:
        rows = rows.filter(pk__gt=last.pk)
    return [(e.kind, e.from_status, e.to_status, e.actor_id, e.detail) for e in rows]


def attempt_of(order: Order) -> str:
    return str(fresh(order).submission_attempt_id)


def claimed_row(attempt: str) -> tuple[str, str, str, None, dict[str, Any]]:
    return ("claimed", S.APPROVED, S.SUBMITTING, None, {"attempt_id": attempt})


def place_request_row(
    order: Order, attempt: str, due_now: str = "25.00"
) -> tuple[str, str, str, None, dict[str, Any]]:
    return (
        "place_request",
        S.SUBMITTING,
        S.SUBMITTING,
        None,
        {
            "attempt_id": attempt,
            "fingerprint": fingerprint(order_payload(order)),
            "due_now": due_now,
        },
    )


# --- the claim ------------------------------------------------------------------------------


def test_the_claim_takes_the_order_for_one_attempt_before_anything_is_sent(approved):
    Order.objects.filter(pk=approved.pk).update(
        reconcile_checks=3,
        reconcile_evidence={"found": ["old.com"]},
        last_reconciled_at=EARLIER,
        next_reconcile_at=EARLIER,
        placement_tries=2,
        submission_attempt_id=OLD_ATTEMPT,
        attempt_started_at=EARLIER,
    )
    seen: list[Order] = []
    fake = Fake(
        requote_of(quote_of(approved)),
        PLACED,
        on_simulate=lambda: seen.append(fresh(approved)),
    )

    with time_machine.travel(NOW, tick=False):
        place(approved, fake)

    (claimed,) = seen
    attempt = str(claimed.submission_attempt_id)
    uuid.UUID(attempt)
    assert claimed.submission_attempt_id != OLD_ATTEMPT
    assert claimed.status == S.SUBMITTING
    assert claimed.attempt_started_at == NOW
    assert claimed.updated_at == NOW
    assert claimed.reconcile_checks == 0
    assert claimed.reconcile_evidence == {}
    assert claimed.last_reconciled_at is None
    assert claimed.next_reconcile_at is None
    assert claimed.placement_tries == 2  # counted by releases only, never by the claim
    assert trail(approved)[0] == claimed_row(attempt)
    assert fresh(approved).submission_attempt_id == claimed.submission_attempt_id


@pytest.mark.parametrize(
    "status", [S.DRAFT, S.NEEDS_REAPPROVAL, S.SUBMITTING, S.UNKNOWN, S.PLACED]
)
def test_an_order_that_is_not_approved_is_left_as_it_is(approved, status, sent, caplog):
    Order.objects.filter(pk=approved.pk).update(status=status)
    fake = Fake(requote_of(quote_of(approved)), PLACED)

    with caplog.at_level(logging.INFO, logger="orders.workflow.placement"):
        result = place(approved, fake)  # `approved` is stale: it still says approved

    assert result.status == status
    assert fresh(approved).submission_attempt_id is None
    assert (fake.simulated, fake.posted, sent, trail(approved)) == ([], [], [], [])
    assert caplog.messages == [
        f"place_order: order {approved.pk} not approved any more; nothing to do"
    ]


def test_the_claim_refuses_to_run_inside_a_transaction(approved):
    fake = Fake(requote_of(quote_of(approved)), PLACED)
    with (
        pytest.raises(RuntimeError, match="durable"),
        transaction.atomic(),
    ):
        place(approved, fake)
    assert (fake.simulated, fake.posted) == ([], [])
    assert fresh(approved).status == S.APPROVED


def test_placement_compares_with_the_approved_quote_as_stored_not_as_passed(approved):
    stale = fresh(approved)
    old = quote_of(stale)
    newer = Quote.objects.create(
        order=approved,
        payload=old.payload,
        fingerprint=old.fingerprint,
        response_body=old.response_body,
        due_now=Decimal("30.00"),
        per_month=old.per_month,
        per_year=old.per_year,
        discount=old.discount,
        is_valid=True,
    )
    Order.objects.filter(pk=approved.pk).update(approved_quote=newer)
    fake = Fake(requote_of(newer), PLACED)

    place(stale, fake)

    assert fresh(approved).status == S.PLACED
    assert trail(approved)[1] == place_request_row(
        approved, attempt_of(approved), "30.00"
    )
    assert len(fake.posted) == 1


# --- the client for the workspace's key -------------------------------------------------------


def test_a_workspace_without_a_key_fails_the_order_with_words_for_an_admin(
    approved, remote, sent
):
    InstantlyKey.objects.filter(workspace=approved.workspace).delete()
    message = (
        "The workspace has no usable Instantly API key: workspace acme has no Instantly "
        "API key. A workspace admin must add the key in Settings."
    )

    with time_machine.travel(NOW, tick=False):
        result = placement.order_place(order=approved)

    order = fresh(approved)
    attempt = str(order.submission_attempt_id)
    assert result.status == order.status == S.FAILED
    assert order.refusal == {"message": message}
    assert order.finished_at == NOW
    assert trail(order) == [
        claimed_row(attempt),
        (
            "failed",
            S.SUBMITTING,
            S.FAILED,
            None,
            {"attempt_id": attempt, "message": message},
        ),
    ]
    assert sent == [("notify", (order.pk, "failed"))]
    assert remote.real_posts() == 0


def test_a_key_that_cannot_be_decrypted_fails_the_order_the_same_way(approved, remote):
    InstantlyKey.objects.filter(workspace=approved.workspace).update(
        secret_encrypted="not-a-fernet-token"
    )

    placement.order_place(order=approved)

    order = fresh(approved)
    assert order.status == S.FAILED
    assert order.refusal == {
        "message": "The workspace has no usable Instantly API key: stored secret cannot "
        "be decrypted with the configured keys. A workspace admin must add the key in "
        "Settings."
    }
    assert remote.real_posts() == 0


def test_the_client_built_for_the_workspace_is_used_once_and_closed(
    approved, monkeypatch
):
    fake = Fake(requote_of(quote_of(approved)), PLACED)
    built: list[object] = []

    def client_for(*, workspace, **overrides):
        built.append(workspace)
        return fake

    monkeypatch.setattr(instantly_keys, "instantly_client_for", client_for)

    placement.order_place(order=approved)

    assert built == [approved.workspace]
    assert len(fake.simulated) == len(fake.posted) == 1
    assert fake.closed
    assert fresh(approved).status == S.PLACED


def test_a_client_passed_in_is_used_instead_of_building_one(approved, monkeypatch):
    def client_for(**kwargs):
        raise AssertionError("a client was passed in")

    monkeypatch.setattr(instantly_keys, "instantly_client_for", client_for)
    fake = Fake(requote_of(quote_of(approved)), PLACED)

    place(approved, fake)

    assert len(fake.posted) == 1
    assert not fake.closed  # the caller owns it


# --- what the re-quote is compared with -----------------------------------------------------


def stored_quote(**fields: Any) -> Quote:
    values: dict[str, Any] = {
        "fingerprint": "approved-fp",
        "is_valid": True,
        "due_now": Decimal("25.00"),
        "per_month": Decimal("10.00"),
        "per_year": Decimal("120.00"),
        "discount": Decimal("0.00"),
    }
    return Quote(**{**values, **fields})


def answer(**fields: Any) -> OrderResult:
    values: dict[str, Any] = {
        "order_placed": False,
        "order_is_valid": True,
        "total_price": Decimal("25"),
        "total_price_per_month": Decimal("10"),
        "total_price_per_year": Decimal("120"),
        "total_discount": Decimal("0"),
    }
    return OrderResult(**{**values, **fields})


@pytest.mark.parametrize(
    ("quote", "digest", "result", "drift"),
    [
        (stored_quote(), "approved-fp", answer(), {}),
        (
            stored_quote(),
            "approved-fp",
            answer(total_price=Decimal("25.004")),  # the same cent
            {},
        ),
        (
            stored_quote(),
            "another-fp",
            answer(),
            {"fingerprint": ["approved-fp", "another-fp"]},
        ),
        (
            stored_quote(),
            "approved-fp",
            answer(order_is_valid=False, order_error="provider_unavailable"),
            {"valid": [True, False], "order_error": ["", "provider_unavailable"]},
        ),
        (
            stored_quote(),
            "approved-fp",
            answer(order_is_valid=False),
            {"valid": [True, False]},
        ),
        (
            stored_quote(is_valid=False),
            "approved-fp",
            answer(order_is_valid=True, order_error="stale"),
            {"valid": [False, True], "order_error": ["", "stale"]},
        ),
        (
            stored_quote(is_valid=False),
            "approved-fp",
            answer(order_is_valid=False, order_error="provider_unavailable"),
            {},
        ),
        (
            stored_quote(),
            "approved-fp",
            answer(total_price=Decimal("25.01")),
            {"due_now": ["25.00", "25.01"]},
        ),
        (
            stored_quote(),
            "approved-fp",
            answer(total_price_per_month=Decimal("9.99")),
            {"per_month": ["10.00", "9.99"]},
        ),
        (
            stored_quote(),
            "approved-fp",
            answer(total_price_per_year=Decimal("121")),
            {"per_year": ["120.00", "121.00"]},
        ),
        (
            stored_quote(),
            "approved-fp",
            answer(total_discount=Decimal("0.01")),
            {"discount": ["0.00", "0.01"]},
        ),
        (
            stored_quote(discount=Decimal("1.50")),
            "approved-fp",
            answer(total_discount=None),  # an absent amount reads as zero
            {"discount": ["1.50", "0.00"]},
        ),
        (
            stored_quote(),
            "approved-fp",
            answer(total_discount=None),
            {},
        ),
        (
            stored_quote(),
            "other",
            answer(
                order_is_valid=False,
                order_error="unavailable_domains",
                total_price=Decimal("26"),
                total_price_per_month=Decimal("11"),
                total_price_per_year=Decimal("132"),
                total_discount=Decimal("2"),
            ),
            {
                "fingerprint": ["approved-fp", "other"],
                "valid": [True, False],
                "order_error": ["", "unavailable_domains"],
                "due_now": ["25.00", "26.00"],
                "per_month": ["10.00", "11.00"],
                "per_year": ["120.00", "132.00"],
                "discount": ["0.00", "2.00"],
            },
        ),
    ],
)
def test_the_drift_names_each_difference_as_approved_then_now(
    quote, digest, result, drift
):
    assert placement._quote_drift(quote, digest, result) == drift


def test_a_changed_price_buys_nothing_and_asks_again_with_the_new_quote(
    approved, lead, sent
):
    old = quote_of(approved)
    assert approved.approver == lead
    requote = requote_of(
        old,
        total_price=Decimal("29"),
        total_price_per_month=Decimal("14"),
        raw_body='{"total_price": 29}',
    )
    fake = Fake(requote)
    quotes_before = Quote.objects.filter(order=approved).count()

    result = place(approved, fake)

    order = fresh(approved)
    new = quote_of(order)
    attempt = str(order.submission_attempt_id)
    drift = {
        "due_now": ["25.00", "29.00"],
        "per_month": ["10.00", "14.00"],
        "previous_quote_id": old.pk,
        "quote_id": new.pk,
    }
    assert result.status == order.status == S.NEEDS_REAPPROVAL
    assert order.drift == drift
    assert order.approver is None
    assert Quote.objects.filter(order=approved).count() == quotes_before + 1
    assert new.pk != old.pk
    assert (new.due_now, new.per_month, new.per_year, new.discount) == (
        Decimal("29.00"),
        Decimal("14.00"),
        old.per_year,
        old.discount,
    )
    assert new.fingerprint == old.fingerprint == fingerprint(order_payload(order))
    assert new.payload == order_payload(order)
    assert new.response_body == '{"total_price": 29}'
    assert (new.is_valid, new.order_error) == (True, "")
    assert trail(order) == [
        claimed_row(attempt),
        (
            "requote_drift",
            S.SUBMITTING,
            S.NEEDS_REAPPROVAL,
            None,
            {"attempt_id": attempt, **drift},
        ),
    ]
    assert fake.simulated == [order_payload(order)]
    assert fake.posted == []
    assert sent == [("notify", (order.pk, "needs_reapproval"))]


def test_a_re_quote_turned_invalid_is_stored_as_the_quote_to_approve_next(approved):
    requote = requote_of(
        quote_of(approved), order_is_valid=False, order_error="provider_unavailable"
    )
    fake = Fake(requote)

    place(approved, fake)

    order = fresh(approved)
    new = quote_of(order)
    assert order.status == S.NEEDS_REAPPROVAL
    assert (new.is_valid, new.order_error) == (False, "provider_unavailable")
    assert order.drift == {
        "valid": [True, False],
        "order_error": ["", "provider_unavailable"],
        "previous_quote_id": approved.approved_quote_id,
        "quote_id": new.pk,
    }
    assert fake.posted == []


# --- a re-quote that did not work ------------------------------------------------------------


def test_a_simulation_that_says_it_placed_an_order_is_an_unknown_outcome(
    approved, sent
):
    error = SimulationNotEchoed(
        "simulation answer echoed simulation=False, order_placed=True",
        order_placed=True,
    )
    fake = Fake(error)

    result = place(approved, fake)

    order = fresh(approved)
    attempt = str(order.submission_attempt_id)
    assert result.status == order.status == S.UNKNOWN
    assert order.attention_reason == (
        "simulation answer echoed simulation=False, order_placed=True"
    )
    assert order.placement_tries == 0
    assert trail(order) == [
        claimed_row(attempt),
        (
            "outcome_unknown",
            S.SUBMITTING,
            S.UNKNOWN,
            None,
            {
                "attempt_id": attempt,
                "stage": "requote",
                "message": "simulation answer echoed simulation=False, order_placed=True",
            },
        ),
    ]
    assert sent == [("reconcile", {"order_id": order.pk})]
    assert fake.posted == []


def released_row(attempt: str, reason: str, tries: int) -> tuple[Any, ...]:
    return (
        "claim_released",
        S.SUBMITTING,
        S.APPROVED,
        None,
        {"attempt_id": attempt, "reason": reason, "tries": tries},
    )


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (
            SimulationNotEchoed("echoed simulation=None", order_placed=False),
            "unusable re-quote: echoed simulation=None",
        ),
        (
            SimulationNotEchoed("echoed nothing", order_placed=None),
            "unusable re-quote: echoed nothing",
        ),
        (
            InstantlyTransientError("HTTP 503 from Instantly"),
            "re-quote failed: HTTP 503 from Instantly",
        ),
        (
            RateLimited("HTTP 429", request_sent=False, retry_after=3.0),
            "re-quote failed: HTTP 429",
        ),
    ],
)
def test_a_re_quote_that_did_not_work_gives_the_claim_back_sending_nothing(
    approved, error, reason, sent
):
    fake = Fake(error)

    result = place(approved, fake)

    order = fresh(approved)
    attempt = str(order.submission_attempt_id)
    assert result.status == order.status == S.APPROVED
    assert order.placement_tries == 1
    assert order.attention_reason == ""
    assert trail(order) == [
        claimed_row(attempt),
        released_row(attempt, reason, 1),
    ]
    assert fake.posted == []
    assert sent == []  # nobody told, nothing enqueued: the sweeper re-enqueues later


def test_a_re_quote_refused_for_the_key_fails_the_order_sending_nothing(approved, sent):
    fake = Fake(InstantlyAuthError("Key revoked", status_code=401))

    place(approved, fake)

    order = fresh(approved)
    attempt = str(order.submission_attempt_id)
    refusal = {
        "message": "Instantly refused the API key (invalid or revoked).",
        "http_status": 401,
        "remote_message": "Key revoked",
        "key_problem": True,
    }
    assert order.status == S.FAILED
    assert order.refusal == refusal
    assert trail(order)[-1] == (
        "failed",
        S.SUBMITTING,
        S.FAILED,
        None,
        {"attempt_id": attempt, **refusal},
    )
    assert fake.posted == []
    assert sent == [("notify", (order.pk, "failed"))]


# --- an order Instantly cannot be asked about -------------------------------------------------


def test_an_approved_order_without_an_approved_quote_fails_asking_nothing(
    workspace, sent
):
    order = cast(Order, OrderFactory(workspace=workspace, status=S.APPROVED))
    fake = Fake(InstantlyError("never asked"))

    place(order, fake)

    order = fresh(order)
    attempt = str(order.submission_attempt_id)
    assert order.status == S.FAILED
    assert order.refusal == {"message": "The order has no approved quote."}
    assert trail(order) == [
        claimed_row(attempt),
        (
            "failed",
            S.SUBMITTING,
            S.FAILED,
            None,
            {"attempt_id": attempt, "message": "The order has no approved quote."},
        ),
    ]
    assert (fake.simulated, fake.posted) == ([], [])
    assert sent == [("notify", (order.pk, "failed"))]


def test_an_approved_order_without_domains_fails_asking_nothing(approved):
    approved.items.all().delete()
    fake = Fake(InstantlyError("never asked"))

    place(approved, fake)

    order = fresh(approved)
    assert order.status == S.FAILED
    assert order.refusal == {"message": "The order has no domains; nothing was sent."}
    assert trail(order)[-1][4] == {
        "attempt_id": str(order.submission_attempt_id),
        "message": "The order has no domains; nothing was sent.",
    }
    assert (fake.simulated, fake.posted) == ([], [])


# --- the one real POST ----------------------------------------------------------------------


def test_the_order_is_recorded_then_posted_once_with_the_payload_re_quoted(
    approved, sent
):
    Order.objects.filter(pk=approved.pk).update(attention_reason="earlier words")
    trail_at_post: list[Trail] = []
    fake = Fake(
        requote_of(quote_of(approved)),
        PLACED,
        on_place=lambda: trail_at_post.append(trail(approved)),
    )

    with time_machine.travel(NOW, tick=False):
        result = place(approved, fake)

    order = fresh(approved)
    attempt = str(order.submission_attempt_id)
    payload = order_payload(order)
    assert fake.simulated == fake.posted == [payload]
    assert trail_at_post == [[claimed_row(attempt), place_request_row(order, attempt)]]
    assert result.status == order.status == S.PLACED
    assert order.placement_response == PLACED.raw_body
    assert order.placed_at == order.last_progress_at == NOW
    assert order.attention_reason == ""
    assert order.finished_at is None
    assert trail(order)[2:] == [
        (
            "placed",
            S.SUBMITTING,
            S.PLACED,
            None,
            {
                "attempt_id": attempt,
                "total_price": "25.01",
                "domains": 1,
                "mailboxes": 2,
            },
        )
    ]
    assert sent == [("notify", (order.pk, "placed"))]


def test_the_sandbox_order_is_posted_once_and_recorded_as_answered(approved, remote):
    result = placement.order_place(order=approved)

    order = fresh(approved)
    attempt = str(order.submission_attempt_id)
    assert result.status == order.status == S.PLACED
    assert remote.real_posts() == 1
    assert msgspec.json.decode(order.placement_response)["order_placed"] is True
    assert [row[0] for row in trail(order)] == ["claimed", "place_request", "placed"]
    assert trail(order)[1] == place_request_row(order, attempt)
    assert trail(order)[2][4] == {
        "attempt_id": attempt,
        "total_price": "25.00",
        "domains": 1,
        "mailboxes": 2,
    }


@pytest.mark.parametrize(
    "error",
    [
        OutcomeUnknown("order outcome unknown: read timed out"),
        InstantlyTransientError("connection reset after sending"),
        InstantlyTransientError("HTTP 503", request_sent=True, status_code=503),
    ],
)
def test_a_post_whose_answer_was_lost_is_an_unknown_outcome_to_reconcile(
    approved, error, sent
):
    fake = Fake(requote_of(quote_of(approved)), error)

    result = place(approved, fake)

    order = fresh(approved)
    attempt = str(order.submission_attempt_id)
    assert result.status == order.status == S.UNKNOWN
    assert order.attention_reason == str(error)
    assert order.placement_tries == 0
    assert order.finished_at is None
    assert trail(order)[2:] == [
        (
            "outcome_unknown",
            S.SUBMITTING,
            S.UNKNOWN,
            None,
            {"attempt_id": attempt, "stage": "place", "message": str(error)},
        )
    ]
    assert len(fake.posted) == 1
    assert sent == [("reconcile", {"order_id": order.pk})]


@pytest.mark.parametrize(
    "error",
    [
        InstantlyTransientError("could not connect", request_sent=False),
        RateLimited("local limiter: wait too long", request_sent=False),
    ],
)
def test_a_post_that_never_left_the_portal_gives_the_claim_back(approved, error, sent):
    fake = Fake(requote_of(quote_of(approved)), error)

    place(approved, fake)

    order = fresh(approved)
    attempt = str(order.submission_attempt_id)
    assert order.status == S.APPROVED
    assert order.placement_tries == 1
    assert trail(order)[2:] == [released_row(attempt, f"not sent: {error}", 1)]
    assert sent == []


class RealPost429(httpx.BaseTransport):
    """Answers 429 to the real order POST without passing it on; counts those POSTs."""

    def __init__(self) -> None:
        self.inner = in_process_transport()
        self.real_posts = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if (
            request.method == "POST"
            and b'"simulation":false' in request.content.replace(b" ", b"")
        ):
            self.real_posts += 1
            return httpx.Response(
                429,
                json={"statusCode": 429, "error": "Too Many Requests", "message": ""},
            )
        return self.inner.handle_request(request)


def test_a_429_to_the_real_post_is_an_unknown_outcome_never_a_release(
    approved, remote, sent
):
    transport = RealPost429()
    client = instantly_keys.instantly_client_for(
        workspace=approved.workspace, transport=transport
    )

    placement.order_place(order=approved, client=client)

    order = fresh(approved)
    words = "order outcome unknown: HTTP 429 (rate limited) to the real order"
    assert order.status == S.UNKNOWN
    assert order.attention_reason == words
    assert order.placement_tries == 0
    assert trail(order)[-1] == (
        "outcome_unknown",
        S.SUBMITTING,
        S.UNKNOWN,
        None,
        {
            "attempt_id": str(order.submission_attempt_id),
            "stage": "place",
            "message": words,
        },
    )
    assert transport.real_posts == 1
    assert remote.real_posts() == 0
    assert sent == [("reconcile", {"order_id": order.pk})]


def test_a_timeout_after_the_sandbox_recorded_the_order_is_an_unknown_outcome(
    approved, remote, sent
):
    client = instantly_keys.instantly_client_for(
        workspace=approved.workspace, transport=TimeoutAfterSend(in_process_transport())
    )

    placement.order_place(order=approved, client=client)

    order = fresh(approved)
    assert order.status == S.UNKNOWN
    assert (
        order.attention_reason
        == "order outcome unknown: timed out after sending (ReadTimeout)"
    )
    assert trail(order)[-1][4]["stage"] == "place"
    assert remote.real_posts() == 1
    assert sent == [("reconcile", {"order_id": order.pk})]


def test_a_refused_request_to_the_real_post_fails_the_order(approved, sent):
    error = InstantlyValidationError("items.0.domain is invalid", status_code=400)
    fake = Fake(requote_of(quote_of(approved)), error)
    Order.objects.filter(pk=approved.pk).update(placement_response="earlier answer")

    with time_machine.travel(NOW, tick=False):
        place(approved, fake)

    order = fresh(approved)
    refusal = {
        "message": "Instantly refused the request: items.0.domain is invalid",
        "http_status": 400,
        "remote_message": "items.0.domain is invalid",
        "key_problem": False,
    }
    assert order.status == S.FAILED
    assert order.refusal == refusal
    assert order.finished_at == NOW
    assert order.placement_response == "earlier answer"  # no answer body to keep
    assert trail(order)[2:] == [
        (
            "failed",
            S.SUBMITTING,
            S.FAILED,
            None,
            {"attempt_id": str(order.submission_attempt_id), **refusal},
        )
    ]
    assert len(fake.posted) == 1
    assert sent == [("notify", (order.pk, "failed"))]


def test_an_order_instantly_refused_fails_keeping_its_answer(approved, sent):
    fake = Fake(requote_of(quote_of(approved)), REFUSED)

    with time_machine.travel(NOW, tick=False):
        place(approved, fake)

    order = fresh(approved)
    refusal = {
        "message": "Instantly refused the order: some domains cannot be bought any more.",
        "order_error": "unavailable_domains",
        "payment_failure_reason": "",
        "lists": {"unavailable_domains": ["acme-mail.com"]},
        "invalid_accounts": [],
    }
    assert order.status == S.FAILED
    assert order.refusal == refusal
    assert order.finished_at == NOW
    assert order.placement_response == REFUSED.raw_body
    assert trail(order)[2:] == [
        (
            "failed",
            S.SUBMITTING,
            S.FAILED,
            None,
            {"attempt_id": str(order.submission_attempt_id), **refusal},
        )
    ]
    assert sent == [("notify", (order.pk, "failed"))]


def test_a_payment_the_sandbox_declined_is_refused_in_plain_words(approved, remote):
    switches_set(workspace=remote.sandbox, payment_failure_reason="card_expired")

    placement.order_place(order=approved)

    order = fresh(approved)
    assert order.refusal == {
        "message": "Instantly refused the order: the payment did not go through: the "
        "card on file has expired.",
        "order_error": "payment_failed",
        "payment_failure_reason": "card_expired",
        "lists": {},
        "invalid_accounts": [],
    }
    assert msgspec.json.decode(order.placement_response)["order_error"] == (
        "payment_failed"
    )
    assert remote.real_posts() == 1


@pytest.mark.parametrize(
    ("cart", "url"),
    [("cart-77", "https://instantly.example/checkout/77"), (None, None)],
)
def test_a_payment_asked_for_at_instantly_waits_for_a_person(approved, cart, url, sent):
    answer = msgspec.structs.replace(CHECKOUT, cart_order_id=cart, checkout_url=url)
    fake = Fake(requote_of(quote_of(approved)), answer)

    result = place(approved, fake)

    order = fresh(approved)
    detail = {
        "message": CHECKOUT_WORDS,
        "checkout_required": True,
        "cart_order_id": cart or "",
        "checkout_url": url or "",
    }
    assert placement.CHECKOUT_HINT == CHECKOUT_WORDS
    assert result.status == order.status == S.AWAITING_CHECKOUT
    assert order.refusal == detail
    assert order.attention_reason == CHECKOUT_WORDS
    assert order.placement_response == CHECKOUT.raw_body
    assert order.finished_at is None
    assert order.placed_at is None
    assert trail(order)[2:] == [
        (
            "awaiting_checkout",
            S.SUBMITTING,
            S.AWAITING_CHECKOUT,
            None,
            {"attempt_id": str(order.submission_attempt_id), **detail},
        )
    ]
    assert len(fake.posted) == 1
    assert sent == [("notify", (order.pk, "awaiting_checkout"))]


def test_an_answer_that_says_placed_wins_over_a_checkout_flag(approved):
    answer = msgspec.structs.replace(PLACED, checkout_required=True)
    place(approved, Fake(requote_of(quote_of(approved)), answer))
    assert fresh(approved).status == S.PLACED


# --- the words of a refusal -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "refusal"),
    [
        (
            InstantlyAuthError("Key revoked", status_code=401),
            {
                "message": "Instantly refused the API key (invalid or revoked).",
                "http_status": 401,
                "remote_message": "Key revoked",
                "key_problem": True,
            },
        ),
        (
            InstantlyPlanError("Payment required", status_code=402),
            {
                "message": "The Instantly workspace has no active paid plan.",
                "http_status": 402,
                "remote_message": "Payment required",
                "key_problem": True,
            },
        ),
        (
            InstantlyScopeError("Forbidden", status_code=403),
            {
                "message": FORBIDDEN_HINT,
                "http_status": 403,
                "remote_message": "Forbidden",
                "key_problem": True,
            },
        ),
        (
            InstantlyNotFound("No such route", status_code=404),
            {
                "message": "Instantly refused the request: No such route",
                "http_status": 404,
                "remote_message": "No such route",
                "key_problem": False,
            },
        ),
        (
            InstantlyProtocolError("order: not JSON"),
            {
                "message": "Instantly refused the request: order: not JSON",
                "http_status": None,
                "remote_message": "order: not JSON",
                "key_problem": False,
            },
        ),
        (
            # The words follow the status; whether the key is at fault follows the kind.
            InstantlyError("odd", status_code=401),
            {
                "message": "Instantly refused the API key (invalid or revoked).",
                "http_status": 401,
                "remote_message": "odd",
                "key_problem": False,
            },
        ),
    ],
)
def test_an_http_refusal_is_put_in_words_with_what_instantly_said(error, refusal):
    assert placement._http_refusal(error) == refusal


def refused(**fields: Any) -> OrderResult:
    return OrderResult(order_placed=False, order_is_valid=False, **fields)


@pytest.mark.parametrize(
    ("error", "words"),
    [
        ("unavailable_domains", "some domains cannot be bought any more"),
        (
            "blacklist_domains",
            "some domains contain restricted (trademark) keywords",
        ),
        (
            "invalid_domains",
            "some domains are malformed or have an unsupported ending",
        ),
        ("invalid_forwarding_domains", "some forwarding domains are invalid"),
        ("invalid_accounts", "some mailboxes are invalid"),
        ("payment_failed", "the payment did not go through"),
        (
            "missing_domain_orders",
            "extra mailboxes were asked for on domains never ordered",
        ),
        ("domains_without_accounts", "some domains have no mailboxes"),
        ("provider_mismatch", "a domain already uses another mailbox provider"),
        (
            "unsupported_provider",
            "the domain's provider does not take extra mailboxes",
        ),
        ("provider_unavailable", "a mailbox provider is not available right now"),
        ("brand_new_error", "brand_new_error"),
        (None, "Instantly did not place the order"),
        ("", "Instantly did not place the order"),
    ],
)
def test_an_order_error_is_put_in_plain_words(error, words):
    assert placement._order_refusal(refused(order_error=error)) == {
        "message": f"Instantly refused the order: {words}.",
        "order_error": error or "",
        "payment_failure_reason": "",
        "lists": {},
        "invalid_accounts": [],
    }


def test_every_worded_error_and_payment_reason_is_pinned_here():
    assert len(placement.ERROR_WORDS) == 11
    assert len(placement.PAYMENT_WORDS) == 4


@pytest.mark.parametrize(
    ("error", "reason", "words"),
    [
        (
            "payment_failed",
            "payment_method_not_supported",
            "the payment did not go through: the card on file is not supported",
        ),
        (
            "payment_failed",
            "authentication_required",
            "the payment did not go through: the bank asks for authentication "
            "(3-D Secure)",
        ),
        (
            "payment_failed",
            "card_expired",
            "the payment did not go through: the card on file has expired",
        ),
        (
            "payment_failed",
            "generic_decline",
            "the payment did not go through: the card was declined",
        ),
        (
            "payment_failed",
            "insufficient_funds",
            "the payment did not go through: insufficient_funds",
        ),
        ("payment_failed", None, "the payment did not go through"),
        ("payment_failed", "", "the payment did not go through"),
        # A payment reason beside another error is kept, not worded.
        ("invalid_accounts", "card_expired", "some mailboxes are invalid"),
    ],
)
def test_a_declined_payment_says_why_in_plain_words(error, reason, words):
    refusal = placement._order_refusal(
        refused(order_error=error, payment_failure_reason=reason)
    )
    assert refusal["message"] == f"Instantly refused the order: {words}."
    assert refusal["payment_failure_reason"] == (reason or "")


def test_a_refusal_keeps_every_non_empty_list_and_each_invalid_mailbox():
    result = refused(
        order_error="invalid_accounts",
        unavailable_domains=("a.com",),
        blacklist_domains=("google-team.com",),
        blacklist_keywords=("google",),
        invalid_domains=("bad_domain",),
        invalid_forwarding_domains=("fw.bad",),
        missing_domain_orders=("m.com",),
        provider_mismatch_domains=("p.com", "q.com"),
        unsupported_provider_domains=("u.com",),
        unavailable_email_providers=(2,),
        domains_without_accounts=("d.com",),
        free_domains=("free.com",),  # not a refusal
        invalid_accounts=(
            InvalidAccount(
                email="x@a.com", reason="First name is required", domain="a"
            ),
            InvalidAccount(email="y@a.com", reason="Taken"),
        ),
    )
    assert placement._order_refusal(result) == {
        "message": "Instantly refused the order: some mailboxes are invalid.",
        "order_error": "invalid_accounts",
        "payment_failure_reason": "",
        "lists": {
            "unavailable_domains": ["a.com"],
            "blacklist_domains": ["google-team.com"],
            "blacklist_keywords": ["google"],
            "invalid_domains": ["bad_domain"],
            "invalid_forwarding_domains": ["fw.bad"],
            "missing_domain_orders": ["m.com"],
            "provider_mismatch_domains": ["p.com", "q.com"],
            "unsupported_provider_domains": ["u.com"],
            "unavailable_email_providers": [2],
            "domains_without_accounts": ["d.com"],
        },
        "invalid_accounts": [
            {"email": "x@a.com", "reason": "First name is required"},
            {"email": "y@a.com", "reason": "Taken"},
        ],
    }


def test_a_refusal_keeps_only_the_lists_instantly_filled():
    result = refused(order_error="blacklist_domains", blacklist_keywords=("apple",))
    assert placement._order_refusal(result)["lists"] == {
        "blacklist_keywords": ["apple"]
    }


# --- claims given back and the bound on them ----------------------------------------------


@pytest.mark.parametrize(("tries_before", "tries"), [(0, 1), (1, 2)])
def test_a_claim_given_back_below_the_bound_counts_the_try(
    approved, settings, tries_before, tries, sent
):
    settings.DFY_PLACE_MAX_TRIES = 3
    Order.objects.filter(pk=approved.pk).update(placement_tries=tries_before)

    place(approved, Fake(InstantlyTransientError("Instantly did not answer")))

    order = fresh(approved)
    assert order.status == S.APPROVED
    assert order.placement_tries == tries
    assert trail(order)[-1] == released_row(
        str(order.submission_attempt_id),
        "re-quote failed: Instantly did not answer",
        tries,
    )
    assert sent == []


@pytest.mark.parametrize(
    ("max_tries", "tries_before", "tries"), [(3, 2, 3), (3, 5, 6), (1, 0, 1)]
)
def test_the_last_claim_given_back_asks_a_person_saying_nothing_was_sent(
    approved, settings, max_tries, tries_before, tries, sent
):
    settings.DFY_PLACE_MAX_TRIES = max_tries
    Order.objects.filter(pk=approved.pk).update(placement_tries=tries_before)

    result = place(approved, Fake(InstantlyTransientError("Instantly did not answer")))

    order = fresh(approved)
    reason = (
        f"Instantly could not be reached to place the order after {tries} tries (last: "
        "re-quote failed: Instantly did not answer). Nothing was sent; re-submit when "
        "Instantly answers again."
    )
    assert result.status == order.status == S.NEEDS_ATTENTION
    assert order.attention_reason == reason
    assert order.reconcile_evidence == {"nothing_sent": True, "tries": tries}
    assert order.placement_tries == tries
    assert trail(order)[-1] == (
        "needs_attention",
        S.SUBMITTING,
        S.NEEDS_ATTENTION,
        None,
        {"attempt_id": str(order.submission_attempt_id), "reason": reason},
    )
    assert sent == [("notify", (order.pk, "needs_attention"))]


# --- each outcome, recorded directly on a claimed order --------------------------------------


@pytest.fixture
def claimed(approved) -> tuple[Order, uuid.UUID]:
    attempt = placement._claim(approved)
    assert attempt is not None
    return approved, attempt


LONG = "x" * 2500


def record(name: str, order: Order, attempt: uuid.UUID) -> Order:
    """Record outcome `name` of `attempt` as the placement would."""
    if name == "placed":
        return placement._record_placed(
            order, attempt, msgspec.structs.replace(PLACED, raw_body=LONG)
        )
    if name == "failed":
        return placement._record_failed(order, attempt, refusal={"message": "No."})
    if name == "awaiting_checkout":
        return placement._record_awaiting_checkout(
            order, attempt, msgspec.structs.replace(CHECKOUT, raw_body=LONG)
        )
    if name == "unknown":
        return placement._record_unknown(order, attempt, "answer lost", stage="place")
    if name == "drift":
        payload = order_payload(order)
        requote = requote_of(quote_of(fresh(order)), total_price=Decimal("29"))
        return placement._record_drift(
            order,
            attempt,
            payload,
            fingerprint(payload),
            requote,
            {"due_now": ["25.00", "29.00"]},
        )
    assert name == "release"
    return placement._release(order, attempt, "could not connect")


OUTCOMES = {
    # name: (status it records, event kind, what a superseded attempt's event keeps)
    "placed": (S.PLACED, "placed", {"response": "x" * 2000}),
    "failed": (S.FAILED, "failed", {"refusal": {"message": "No."}}),
    "awaiting_checkout": (
        S.AWAITING_CHECKOUT,
        "awaiting_checkout",
        {"response": "x" * 2000},
    ),
    "unknown": (S.UNKNOWN, "outcome_unknown", {"message": "answer lost"}),
    "drift": (
        S.NEEDS_REAPPROVAL,
        "requote_drift",
        {"drift": {"due_now": ["25.00", "29.00"]}},
    ),
    "release": (S.APPROVED, "claim_released", {"reason": "could not connect"}),
}
# What Instantly answered beats what the sweeper guessed: an answer to the real POST is still
# taken from these statuses; everything else only while the claim is untouched.
ANSWERS = {"placed", "failed", "awaiting_checkout"}
STATUSES = [S.SUBMITTING, S.UNKNOWN, S.NEEDS_ATTENTION, S.APPROVED, S.PLACED]


def taken(name: str, status: str) -> bool:
    if status == S.SUBMITTING:
        return True
    return name in ANSWERS and status in (S.UNKNOWN, S.NEEDS_ATTENTION)


def test_the_answer_statuses_are_exactly_these():
    assert placement.OUTCOME_FROM == (S.SUBMITTING, S.UNKNOWN, S.NEEDS_ATTENTION)


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("name", list(OUTCOMES))
def test_an_outcome_changes_the_order_only_from_the_statuses_it_may_leave(
    claimed, name, status, sent, caplog
):
    order, attempt = claimed
    Order.objects.filter(pk=order.pk).update(status=status)
    to, kind, late = OUTCOMES[name]

    with caplog.at_level(logging.WARNING, logger="orders.workflow.placement"):
        result = record(name, order, attempt)

    now = fresh(order)
    last = trail(order)[-1]
    if taken(name, status):
        assert result.status == now.status == to
        assert last[:4] == (kind, status, to, None)
        assert caplog.messages == []
        return
    assert result.status == now.status == status  # read back, not as passed in
    assert last == (
        "late_" + name,
        "",
        "",
        None,
        {"attempt_id": str(attempt), "outcome": late},
    )
    assert len(trail(order)) == 2  # claimed, then the late event only
    assert caplog.messages == [
        f"order {order.pk}: {name} for a superseded attempt {attempt}"
    ]
    assert sent == []


@pytest.mark.parametrize("name", list(OUTCOMES))
def test_an_outcome_of_a_superseded_attempt_is_kept_and_changes_nothing(
    claimed, name, sent
):
    order, attempt = claimed
    newer = uuid.uuid4()
    Order.objects.filter(pk=order.pk).update(
        submission_attempt_id=newer, placement_response="newer answer"
    )
    before = Quote.objects.filter(order=order).count()
    _, _, late = OUTCOMES[name]

    result = record(name, order, attempt)

    now = fresh(order)
    assert result.submission_attempt_id == now.submission_attempt_id == newer
    assert now.status == S.SUBMITTING
    assert (now.placement_response, now.refusal, now.drift, now.placement_tries) == (
        "newer answer",
        {},
        {},
        0,
    )
    assert (now.placed_at, now.finished_at, now.attention_reason) == (None, None, "")
    assert Quote.objects.filter(order=order).count() == before
    assert trail(order)[-1] == (
        "late_" + name,
        "",
        "",
        None,
        {"attempt_id": str(attempt), "outcome": late},
    )
    assert sent == []


@pytest.fixture
def meddler(monkeypatch: pytest.MonkeyPatch) -> Callable[[Order], None]:
    """Another writer sets `reconcile_checks` to 7 right after each audit row, that is after
    the outcome read its row and before it saved it: an outcome that saved every field would
    put its stale 0 back."""

    def install(order: Order) -> None:
        real = lifecycle.order_event_record

        def recording(**kwargs: Any) -> OrderEvent:
            event = real(**kwargs)
            Order.objects.filter(pk=order.pk).update(reconcile_checks=7)
            return event

        monkeypatch.setattr(lifecycle, "order_event_record", recording)

    return install


@pytest.mark.parametrize("name", list(OUTCOMES))
def test_an_outcome_writes_only_its_own_fields(claimed, meddler, name):
    order, attempt = claimed
    assert fresh(order).reconcile_checks == 0  # as the claim left it
    meddler(order)

    record(name, order, attempt)

    now = fresh(order)
    assert now.status == OUTCOMES[name][0]
    assert now.reconcile_checks == 7


def test_the_last_claim_given_back_writes_only_its_own_fields(
    claimed, meddler, settings
):
    settings.DFY_PLACE_MAX_TRIES = 1
    order, attempt = claimed
    meddler(order)

    placement._release(order, attempt, "could not connect")

    now = fresh(order)
    assert now.status == S.NEEDS_ATTENTION
    assert now.reconcile_checks == 7


def test_a_claim_takes_only_its_own_order(approved, workspace, lead):
    other = cast(
        Order,
        OrderFactory(
            workspace=workspace,
            status=S.APPROVED,
            approver=lead,
            approved_quote=approved.approved_quote,
        ),
    )

    place(approved, Fake(requote_of(quote_of(approved)), PLACED))

    assert fresh(approved).status == S.PLACED
    now = fresh(other)
    assert (now.status, now.submission_attempt_id) == (S.APPROVED, None)
    assert not now.events.exists()


def test_an_outcome_never_touches_another_orders_row(claimed, workspace, sent):
    # Attempt ids are random, so two rows never share one; if they did, an outcome must
    # still only ever write the order it belongs to.
    order, attempt = claimed
    other = cast(
        Order,
        OrderFactory(
            workspace=workspace, status=S.SUBMITTING, submission_attempt_id=attempt
        ),
    )
    Order.objects.filter(pk=order.pk).update(submission_attempt_id=uuid.uuid4())

    placement._record_placed(order, attempt, PLACED)

    now = fresh(other)
    assert (now.status, now.placement_response, now.placed_at) == (
        S.SUBMITTING,
        "",
        None,
    )
    assert not now.events.exists()
    assert trail(order)[-1][0] == "late_placed"
    assert sent == []


def test_a_failure_with_the_answer_body_keeps_it_and_one_without_keeps_the_last(
    claimed,
):
    order, attempt = claimed
    Order.objects.filter(pk=order.pk).update(placement_response="earlier answer")

    placement._record_failed(order, attempt, refusal={"message": "No."})
    assert fresh(order).placement_response == "earlier answer"

    Order.objects.filter(pk=order.pk).update(status=S.SUBMITTING)
    placement._record_failed(
        order, attempt, refusal={"message": "No."}, raw_body='{"order_placed": false}'
    )
    assert fresh(order).placement_response == '{"order_placed": false}'


@pytest.mark.parametrize("status", [S.UNKNOWN, S.NEEDS_ATTENTION])
def test_an_answer_after_the_sweeper_moved_on_settles_the_order(claimed, status, sent):
    order, attempt = claimed
    Order.objects.filter(pk=order.pk).update(
        status=status, attention_reason="the sweeper's guess"
    )

    placement._record_placed(order, attempt, PLACED)

    now = fresh(order)
    assert now.status == S.PLACED
    assert now.attention_reason == ""
    assert now.placement_response == PLACED.raw_body
    assert trail(order)[-1] == (
        "placed",
        status,
        S.PLACED,
        None,
        {
            "attempt_id": str(attempt),
            "total_price": "25.01",
            "domains": 1,
            "mailboxes": 2,
        },
    )
    assert sent == [("notify", (order.pk, "placed"))]
