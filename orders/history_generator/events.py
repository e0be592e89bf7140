"""The event timeline of generated orders: the OrderEvent rows the real workflow would have
written on the way to each order's status, at the times its timeline says."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from orders.models import Order, OrderEvent, OrderStatus


def order_events(
    orders: Sequence[Order], timelines: Sequence[dict[str, datetime]]
) -> list[OrderEvent]:
    """The events of each order, unsaved; `timelines` holds each order's step times."""
    events: list[OrderEvent] = []

    def add(
        order: Order,
        when: datetime,
        kind: str,
        before: str,
        after: str,
        by: Any = None,
        **detail: Any,
    ) -> None:
        events.append(
            OrderEvent(
                order=order,
                actor=by,
                kind=kind,
                from_status=before,
                to_status=after,
                detail=detail,
                created_at=when,
            )
        )

    S = OrderStatus
    for order, steps in zip(orders, timelines, strict=True):
        status = order.status
        add(order, steps["created"], "created", "", S.DRAFT, order.requester)
        if "submitted" in steps:
            add(
                order,
                steps["submitted"],
                "submitted",
                S.DRAFT,
                S.PENDING_APPROVAL,
                order.requester,
            )
        if status == S.REJECTED:
            add(
                order,
                steps["decided"],
                "rejected",
                S.PENDING_APPROVAL,
                S.REJECTED,
                order.decided_by,
                comment=order.decision_comment,
            )
        elif "decided" in steps:
            add(
                order,
                steps["decided"],
                "approved",
                S.PENDING_APPROVAL,
                S.APPROVED,
                order.approver,
            )
        if status == S.NEEDS_REAPPROVAL:
            add(
                order,
                steps["decided"],
                "requote_drift",
                S.APPROVED,
                S.NEEDS_REAPPROVAL,
                drift=order.drift,
            )
        if "attempt" in steps:
            add(
                order,
                steps["attempt"],
                "claimed",
                S.APPROVED,
                S.SUBMITTING,
                attempt=str(order.submission_attempt_id),
            )
        if status == S.FAILED:
            add(
                order,
                steps["attempt"],
                "failed",
                S.SUBMITTING,
                S.FAILED,
                **order.refusal,
            )
        if status in (S.UNKNOWN, S.NEEDS_ATTENTION):
            add(
                order,
                steps["attempt"],
                "outcome_unknown",
                S.SUBMITTING,
                S.UNKNOWN,
                error="read timeout",
            )
        if status == S.NEEDS_ATTENTION:
            add(
                order,
                steps["attempt"] + timedelta(minutes=30),
                "needs_attention",
                S.UNKNOWN,
                S.NEEDS_ATTENTION,
                reason=order.attention_reason,
            )
        if "placed" in steps:
            add(order, steps["placed"], "placed", S.SUBMITTING, S.PLACED)
        if status != S.PLACED and "provisioning" in steps:
            add(
                order,
                steps["provisioning"],
                S.PROVISIONING,
                S.PLACED,
                S.PROVISIONING,
            )
        if "ready" in steps:
            add(order, steps["ready"], S.READY, S.PROVISIONING, S.READY)
        if "cancelled" in steps:
            add(
                order,
                steps["cancelled"],
                "mailboxes_cancelled",
                S.READY,
                status,
                order.requester,
            )
    return events
