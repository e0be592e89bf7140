"""Placement: the one claimed attempt, the re-simulation guard and the recorded outcome."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from orders import crypto, notifications, services, tasks
from orders.drafts import order_event_record
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
from orders.models import (
    Order,
    OrderStatus,
    Quote,
)
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
        built = services.instantly_client_for(workspace=order.workspace)
    except (services.InstantlyKeyMissing, crypto.SecretUnreadable) as exc:
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
        claimed = Order.objects.filter(pk=order.pk, status=OrderStatus.APPROVED).update(
            status=OrderStatus.SUBMITTING,
            submission_attempt_id=attempt,
            attempt_started_at=now,
            reconcile_checks=0,
            reconcile_evidence={},
            last_reconciled_at=None,
            next_reconcile_at=None,
            updated_at=now,
        )
        if not claimed:
            return None
        order_event_record(
            order=order,
            by=None,
            kind="claimed",
            from_status=OrderStatus.APPROVED,
            to_status=OrderStatus.SUBMITTING,
            attempt_id=str(attempt),
        )
    return attempt


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

    order_event_record(
        order=order,
        by=None,
        kind="place_request",
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
    return (
        Order.objects.select_for_update()
        .filter(pk=order.pk, submission_attempt_id=attempt, status__in=list(statuses))
        .first()
    )


# An outcome of a sent POST is accepted while the attempt is current, even if the sweeper
# already moved the row on: what Instantly answered beats what we guessed.
OUTCOME_FROM = (
    OrderStatus.SUBMITTING,
    OrderStatus.UNKNOWN,
    OrderStatus.NEEDS_ATTENTION,
)


def _late(order: Order, attempt: uuid.UUID, kind: str, **detail: object) -> Order:
    """An outcome for an attempt that is no longer current: keep it on the record loudly."""
    logger.warning("order %s: %s for a superseded attempt %s", order.pk, kind, attempt)
    order_event_record(
        order=order,
        by=None,
        kind=f"late_{kind}",
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
        kind="placed",
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
    order_event_record(
        order=locked,
        by=None,
        kind="failed",
        from_status=locked.status,
        to_status=OrderStatus.FAILED,
        attempt_id=str(attempt),
        **refusal,
    )
    locked.status = OrderStatus.FAILED
    locked.refusal = refusal
    locked.finished_at = timezone.now()
    fields = ["status", "refusal", "finished_at", "updated_at"]
    if raw_body:
        locked.placement_response = raw_body
        fields.append("placement_response")
    locked.save(update_fields=fields)
    notifications.order_notify(order=locked, event="failed")
    return locked


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
    detail = {
        "message": CHECKOUT_HINT,
        "checkout_required": True,
        "cart_order_id": result.cart_order_id or "",
        # Instantly sends the checkout link only to browser sessions; kept if it ever comes.
        "checkout_url": result.checkout_url or "",
    }
    order_event_record(
        order=locked,
        by=None,
        kind="awaiting_checkout",
        from_status=locked.status,
        to_status=OrderStatus.AWAITING_CHECKOUT,
        attempt_id=str(attempt),
        **detail,
    )
    locked.status = OrderStatus.AWAITING_CHECKOUT
    locked.refusal = detail
    locked.attention_reason = CHECKOUT_HINT
    locked.placement_response = result.raw_body
    locked.save(
        update_fields=[
            "status",
            "refusal",
            "attention_reason",
            "placement_response",
            "updated_at",
        ]
    )
    notifications.order_notify(order=locked, event="awaiting_checkout")
    return locked


@transaction.atomic
def _record_unknown(
    order: Order, attempt: uuid.UUID, message: str, *, stage: str
) -> Order:
    locked = _locked_attempt(order, attempt, [OrderStatus.SUBMITTING])
    if locked is None:
        return _late(order, attempt, "unknown", message=message)
    order_event_record(
        order=locked,
        by=None,
        kind="outcome_unknown",
        from_status=locked.status,
        to_status=OrderStatus.UNKNOWN,
        attempt_id=str(attempt),
        stage=stage,
        message=message,
    )
    locked.status = OrderStatus.UNKNOWN
    locked.attention_reason = message
    locked.save(update_fields=["status", "attention_reason", "updated_at"])
    tasks.reconcile_order_task.delay_on_commit(order_id=locked.pk)
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
    order_event_record(
        order=locked,
        by=None,
        kind="requote_drift",
        from_status=locked.status,
        to_status=OrderStatus.NEEDS_REAPPROVAL,
        attempt_id=str(attempt),
        **detail,
    )
    locked.status = OrderStatus.NEEDS_REAPPROVAL
    # The new quote is what a lead approves next; the old one stays in `drift` and events.
    locked.approved_quote = new_quote
    locked.drift = detail
    locked.approver = None
    locked.save(
        update_fields=["status", "approved_quote", "drift", "approver", "updated_at"]
    )
    notifications.order_notify(order=locked, event="needs_reapproval")
    return locked


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
        order_event_record(
            order=locked,
            by=None,
            kind="needs_attention",
            from_status=locked.status,
            to_status=OrderStatus.NEEDS_ATTENTION,
            attempt_id=str(attempt),
            reason=message,
        )
        locked.status = OrderStatus.NEEDS_ATTENTION
        locked.attention_reason = message
        locked.reconcile_evidence = {"nothing_sent": True, "tries": tries}
        locked.placement_tries = tries
        locked.save(
            update_fields=[
                "status",
                "attention_reason",
                "reconcile_evidence",
                "placement_tries",
                "updated_at",
            ]
        )
        notifications.order_notify(order=locked, event="needs_attention")
        return locked
    order_event_record(
        order=locked,
        by=None,
        kind="claim_released",
        from_status=locked.status,
        to_status=OrderStatus.APPROVED,
        attempt_id=str(attempt),
        reason=reason,
        tries=tries,
    )
    locked.status = OrderStatus.APPROVED
    locked.placement_tries = tries
    locked.save(update_fields=["status", "placement_tries", "updated_at"])
    return locked
