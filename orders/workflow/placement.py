"""Placement: the one claimed attempt, the re-simulation guard and the recorded outcome."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from orders import crypto, enqueue, instantly_keys, lifecycle
from orders.instantly import (
    AUTH_FAILURES,
    FORBIDDEN_HINT,
    InstantlyClient,
    InstantlyError,
    InstantlyTransientError,
    OrderResult,
    OutcomeUnknown,
    SimulationNotEchoed,
)
from orders.lifecycle import EventKind, Notice
from orders.models import (
    Order,
    OrderStatus,
    Quote,
)
from orders.models.order import quote_frozen
from orders.payload import fingerprint, order_payload
from orders.quotes import cents, quote_store
from orders.workflow.common import REFUSAL_LISTS, mark_placed, place_max_tries

logger = logging.getLogger(__name__)


# --- Placement ----------------------------------------------------------------------------


def order_place(*, order: Order, client: InstantlyClient | None = None) -> Order:
    """Claim an approved order and place it at most once. Idempotent: anything but an
    `approved` order (already claimed, placed, reverted to draft) is left as it is.

    Never call inside a transaction: the claim must be committed before the first HTTP call
    (its atomic block is durable, so nesting fails loudly).
    """
    attempt = _claim(order)
    if attempt is None:
        logger.info(
            "place_order: order %s not approved any more; nothing to do", order.pk
        )
        order.refresh_from_db()
        return order
    order.refresh_from_db()
    if client is not None:
        return _place_claimed(order, attempt, client)
    try:
        built = instantly_keys.instantly_client_for(workspace=order.workspace)
    except (instantly_keys.InstantlyKeyMissing, crypto.SecretUnreadable) as exc:
        return _record_failed(
            order,
            attempt,
            refusal={
                "message": "The workspace has no usable Instantly API key: "
                f"{exc}. A workspace admin must add the key in Settings."
            },
        )
    with built:
        return _place_claimed(order, attempt, built)


def _claim(order: Order) -> uuid.UUID | None:
    attempt = uuid.uuid4()
    now = timezone.now()
    with transaction.atomic(durable=True):
        claimed = lifecycle.order_claim(
            order,
            from_status=OrderStatus.APPROVED,
            to=OrderStatus.SUBMITTING,
            kind=EventKind.CLAIMED,
            changes={
                "submission_attempt_id": attempt,
                "attempt_started_at": now,
                "reconcile_checks": 0,
                "reconcile_evidence": {},
                "last_reconciled_at": None,
                "next_reconcile_at": None,
                "updated_at": now,
            },
            attempt_id=str(attempt),
        )
    return attempt if claimed else None


def _quote_drift(quote: Quote, digest: str, result: OrderResult) -> dict[str, Any]:
    """What differs between the approved quote and the re-quote: {field: [approved, now]}."""
    drift: dict[str, Any] = {}
    if digest != quote.fingerprint:
        drift["fingerprint"] = [quote.fingerprint, digest]
    if result.order_is_valid is not quote.is_valid:
        drift["valid"] = [quote.is_valid, result.order_is_valid]
        if result.order_error:
            drift["order_error"] = ["", result.order_error]
    for name, now_value in (
        ("due_now", cents(result.total_price)),
        ("per_month", cents(result.total_price_per_month)),
        ("per_year", cents(result.total_price_per_year)),
        ("discount", cents(result.total_discount)),
    ):
        before: Decimal = getattr(quote, name)
        if before != now_value:
            drift[name] = [str(before), str(now_value)]
    return drift


def _place_claimed(order: Order, attempt: uuid.UUID, client: InstantlyClient) -> Order:
    quote = order.approved_quote
    if quote is None:
        return _record_failed(
            order, attempt, refusal={"message": "The order has no approved quote."}
        )
    payload = order_payload(order)
    if not payload["items"]:
        # Instantly once answered an empty order "placed" while buying nothing.
        return _record_failed(
            order,
            attempt,
            refusal={"message": "The order has no domains; nothing was sent."},
        )
    digest = fingerprint(payload)
    try:
        requote = client.simulate_order(payload)
    except SimulationNotEchoed as exc:
        if exc.order_placed:
            # The "simulation" claims to have placed an order: money may have moved.
            return _record_unknown(order, attempt, str(exc), stage="requote")
        return _release(order, attempt, f"unusable re-quote: {exc}")
    except InstantlyTransientError as exc:
        return _release(order, attempt, f"re-quote failed: {exc}")
    except InstantlyError as exc:
        return _record_failed(order, attempt, refusal=_http_refusal(exc))

    drift = _quote_drift(quote, digest, requote)
    if drift:
        return _record_drift(order, attempt, payload, digest, requote, drift)

    lifecycle.order_event_record(
        order=order,
        by=None,
        kind=EventKind.PLACE_REQUEST,
        from_status=OrderStatus.SUBMITTING,
        to_status=OrderStatus.SUBMITTING,
        attempt_id=str(attempt),
        fingerprint=digest,
        due_now=str(quote.due_now),
    )
    # The only real order POST in the portal. Sent once; never retried from here. A 429 to
    # it arrives as OutcomeUnknown (reconcile before any second POST); only a request that
    # never left the portal (the local limiter's wait, a refused connection) gives the claim
    # back.
    try:
        result = client.place_order(payload)
    except OutcomeUnknown as exc:
        return _record_unknown(order, attempt, str(exc), stage="place")
    except InstantlyTransientError as exc:
        if not exc.request_sent:
            return _release(order, attempt, f"not sent: {exc}")
        return _record_unknown(order, attempt, str(exc), stage="place")
    except InstantlyError as exc:
        return _record_failed(order, attempt, refusal=_http_refusal(exc))
    if result.order_placed:
        return _record_placed(order, attempt, result)
    if result.checkout_required:
        return _record_awaiting_checkout(order, attempt, result)
    return _record_failed(
        order, attempt, refusal=_order_refusal(result), raw_body=result.raw_body
    )


def _http_refusal(exc: InstantlyError) -> dict[str, Any]:
    plain = {
        401: "Instantly refused the API key (invalid or revoked).",
        402: "The Instantly workspace has no active paid plan.",
        403: FORBIDDEN_HINT,
    }
    message = plain.get(exc.status_code or 0, f"Instantly refused the request: {exc}")
    return {
        "message": message,
        "http_status": exc.status_code,
        "remote_message": exc.message,
        "key_problem": isinstance(exc, AUTH_FAILURES),
    }


PAYMENT_WORDS = {
    "payment_method_not_supported": "the card on file is not supported",
    "authentication_required": "the bank asks for authentication (3-D Secure)",
    "card_expired": "the card on file has expired",
    "generic_decline": "the card was declined",
}
ERROR_WORDS = {
    "unavailable_domains": "some domains cannot be bought any more",
    "blacklist_domains": "some domains contain restricted (trademark) keywords",
    "invalid_domains": "some domains are malformed or have an unsupported ending",
    "invalid_forwarding_domains": "some forwarding domains are invalid",
    "invalid_accounts": "some mailboxes are invalid",
    "payment_failed": "the payment did not go through",
    "missing_domain_orders": "extra mailboxes were asked for on domains never ordered",
    "domains_without_accounts": "some domains have no mailboxes",
    "provider_mismatch": "a domain already uses another mailbox provider",
    "unsupported_provider": "the domain's provider does not take extra mailboxes",
    "provider_unavailable": "a mailbox provider is not available right now",
}


def _order_refusal(result: OrderResult) -> dict[str, Any]:
    error = result.order_error or ""
    words = ERROR_WORDS.get(error, error or "Instantly did not place the order")
    if error == "payment_failed" and result.payment_failure_reason:
        reason = result.payment_failure_reason
        words = f"{words}: {PAYMENT_WORDS.get(reason, reason)}"
    lists: dict[str, list[Any]] = {
        name: list(getattr(result, name))
        for name in REFUSAL_LISTS
        if getattr(result, name)
    }
    return {
        "message": f"Instantly refused the order: {words}.",
        "order_error": error,
        "payment_failure_reason": result.payment_failure_reason or "",
        "lists": lists,
        "invalid_accounts": [
            {"email": a.email, "reason": a.reason} for a in result.invalid_accounts
        ],
    }


def _locked_attempt(
    order: Order, attempt: uuid.UUID, statuses: Iterable[str]
) -> Order | None:
    """The row locked if it still belongs to this attempt and is in one of `statuses`."""
    return lifecycle.order_lock_first(
        Order.objects.select_for_update().filter(
            pk=order.pk, submission_attempt_id=attempt, status__in=list(statuses)
        )
    )


# An outcome of a sent POST is accepted while the attempt is current, even if the sweeper
# already moved the row on: what Instantly answered beats what we guessed.
OUTCOME_FROM = (
    OrderStatus.SUBMITTING,
    OrderStatus.UNKNOWN,
    OrderStatus.NEEDS_ATTENTION,
)


def _late(order: Order, attempt: uuid.UUID, outcome: str, **detail: object) -> Order:
    """An outcome for an attempt that is no longer current: keep it on the record loudly."""
    logger.warning(
        "order %s: %s for a superseded attempt %s", order.pk, outcome, attempt
    )
    lifecycle.order_event_record(
        order=order,
        by=None,
        kind=EventKind(f"late_{outcome}"),
        attempt_id=str(attempt),
        outcome=detail,
    )
    order.refresh_from_db()
    return order


@transaction.atomic
def _record_placed(order: Order, attempt: uuid.UUID, result: OrderResult) -> Order:
    locked = _locked_attempt(order, attempt, OUTCOME_FROM)
    if locked is None:
        return _late(order, attempt, "placed", response=result.raw_body[:2000])
    locked.placement_response = result.raw_body
    return mark_placed(
        locked,
        by=None,
        kind=EventKind.PLACED,
        extra_fields=["placement_response"],
        attempt_id=str(attempt),
        total_price=str(cents(result.total_price)),
        domains=result.number_of_domains_ordered,
        mailboxes=result.number_of_accounts_ordered,
    )


@transaction.atomic
def _record_failed(
    order: Order,
    attempt: uuid.UUID,
    *,
    refusal: dict[str, Any],
    raw_body: str = "",
) -> Order:
    locked = _locked_attempt(order, attempt, OUTCOME_FROM)
    if locked is None:
        return _late(order, attempt, "failed", refusal=refusal)
    changes: dict[str, Any] = {"refusal": refusal, "finished_at": timezone.now()}
    if raw_body:
        changes["placement_response"] = raw_body
    return lifecycle.order_transition(
        locked,
        OrderStatus.FAILED,
        kind=EventKind.FAILED,
        changes=changes,
        notify=Notice.FAILED,
        attempt_id=str(attempt),
        **refusal,
    )


CHECKOUT_HINT = (
    "Instantly has no default payment method for this workspace, so it asked for a payment "
    "through its own checkout and bought nothing. Someone with billing access adds a card "
    "in Instantly (Settings, Billing), then a lead chooses “Try again” here. "
    "Trying again asks for a fresh quote first and sends one new order."
)


@transaction.atomic
def _record_awaiting_checkout(
    order: Order, attempt: uuid.UUID, result: OrderResult
) -> Order:
    """checkout_required: nothing was bought and nothing is retried by itself; a person acts
    in Instantly, then re-submits (docs/lifecycle-bounds.md)."""
    locked = _locked_attempt(order, attempt, OUTCOME_FROM)
    if locked is None:
        return _late(
            order, attempt, "awaiting_checkout", response=result.raw_body[:2000]
        )
    detail: dict[str, Any] = {
        "message": CHECKOUT_HINT,
        "checkout_required": True,
        "cart_order_id": result.cart_order_id or "",
        # Instantly sends the checkout link only to browser sessions; kept if it ever comes.
        "checkout_url": result.checkout_url or "",
    }
    return lifecycle.order_transition(
        locked,
        OrderStatus.AWAITING_CHECKOUT,
        kind=EventKind.AWAITING_CHECKOUT,
        changes={
            "refusal": detail,
            "attention_reason": CHECKOUT_HINT,
            "placement_response": result.raw_body,
        },
        notify=Notice.AWAITING_CHECKOUT,
        attempt_id=str(attempt),
        **detail,
    )


@transaction.atomic
def _record_unknown(
    order: Order, attempt: uuid.UUID, message: str, *, stage: str
) -> Order:
    locked = _locked_attempt(order, attempt, [OrderStatus.SUBMITTING])
    if locked is None:
        return _late(order, attempt, "unknown", message=message)
    locked = lifecycle.order_transition(
        locked,
        OrderStatus.UNKNOWN,
        kind=EventKind.OUTCOME_UNKNOWN,
        changes={"attention_reason": message},
        attempt_id=str(attempt),
        stage=stage,
        message=message,
    )
    enqueue.reconcile_order(order_id=locked.pk)
    return locked


@transaction.atomic
def _record_drift(
    order: Order,
    attempt: uuid.UUID,
    payload: dict[str, Any],
    digest: str,
    requote: OrderResult,
    drift: dict[str, Any],
) -> Order:
    locked = _locked_attempt(order, attempt, [OrderStatus.SUBMITTING])
    if locked is None:
        return _late(order, attempt, "drift", drift=drift)
    previous = locked.approved_quote_id
    new_quote = quote_store(
        order=locked, payload=payload, digest=digest, result=requote
    )
    detail = {**drift, "previous_quote_id": previous, "quote_id": new_quote.pk}
    return lifecycle.order_transition(
        locked,
        OrderStatus.NEEDS_REAPPROVAL,
        kind=EventKind.REQUOTE_DRIFT,
        # The new quote is what a lead approves next; the old one stays in `drift` and events.
        changes={**quote_frozen(new_quote), "drift": detail, "approver": None},
        notify=Notice.NEEDS_REAPPROVAL,
        attempt_id=str(attempt),
        **detail,
    )


@transaction.atomic
def _release(order: Order, attempt: uuid.UUID, reason: str) -> Order:
    """Nothing reached Instantly (the re-quote failed, or the POST never left the portal):
    give the claim back so a later run tries again, or ask a person after too many tries.
    Safe because no real order POST was sent for this claim."""
    locked = _locked_attempt(order, attempt, [OrderStatus.SUBMITTING])
    if locked is None:
        return _late(order, attempt, "release", reason=reason)
    tries = locked.placement_tries + 1
    if tries >= place_max_tries():
        message = (
            f"Instantly could not be reached to place the order after {tries} tries "
            f"(last: {reason}). Nothing was sent; re-submit when Instantly answers again."
        )
        return lifecycle.order_transition(
            locked,
            OrderStatus.NEEDS_ATTENTION,
            kind=EventKind.NEEDS_ATTENTION,
            changes={
                "attention_reason": message,
                "reconcile_evidence": {"nothing_sent": True, "tries": tries},
                "placement_tries": tries,
            },
            notify=Notice.NEEDS_ATTENTION,
            attempt_id=str(attempt),
            reason=message,
        )
    return lifecycle.order_transition(
        locked,
        OrderStatus.APPROVED,
        kind=EventKind.CLAIM_RELEASED,
        changes={"placement_tries": tries},
        attempt_id=str(attempt),
        reason=reason,
        tries=tries,
    )
