"""Telling people what happened to an order: email (Django's mail backend) and the
workspace's optional webhook (JSON over HTTP).

Sent after the transaction that caused them commits; a failure is logged, never raised, so a
notification can neither undo nor block a transition. Nothing secret is ever sent: no key, no
password, no raw Instantly answer.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import logging
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.core.mail import send_mass_mail
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from orders.models import Membership, Order, Role

logger = logging.getLogger(__name__)

APPROVERS: Final = "approvers"
REQUESTER: Final = "requester"
# Tests swap in httpx.MockTransport; None means real HTTP.
webhook_transport: httpx.BaseTransport | None = None


@dataclass(frozen=True)
class EventSpec:
    audience: str
    subject: str
    sentence: str


EVENTS: Final[dict[str, EventSpec]] = {
    "approval_requested": EventSpec(
        APPROVERS,
        "Approval needed: {order}",
        "{requester} asks for approval of {order}: ${due_now} due now, "
        "${per_month} per month.",
    ),
    "needs_reapproval": EventSpec(
        APPROVERS,
        "Price changed, approve again: {order}",
        "Instantly's answer for {order} changed after approval, so nothing was bought. "
        "The new quote is ${due_now} due now, ${per_month} per month.",
    ),
    "approved": EventSpec(
        REQUESTER,
        "Approved: {order}",
        "{order} was approved ({decider}) and is being placed with Instantly.",
    ),
    "rejected": EventSpec(
        REQUESTER,
        "Rejected: {order}",
        "{order} was rejected by {decider}: {comment}",
    ),
    "placed": EventSpec(
        REQUESTER,
        "Placed: {order}",
        "{order} was placed with Instantly; its mailboxes are being set up.",
    ),
    "failed": EventSpec(
        REQUESTER,
        "Refused by Instantly: {order}",
        "{order} was not placed. {refusal}",
    ),
    "ready": EventSpec(
        REQUESTER,
        "Ready: {order}",
        "Every mailbox of {order} is ready to use.",
    ),
    "stuck": EventSpec(
        REQUESTER,
        "No progress: {order}",
        "{order} has made no progress for a long time; Instantly may need a nudge.",
    ),
    "needs_attention": EventSpec(
        REQUESTER,
        "Needs attention: {order}",
        "{order} needs a person: {reason}",
    ),
}


def order_notify(*, order: Order, event: str) -> None:
    """Send `event` about `order` once the current transaction commits (now if none)."""
    if event not in EVENTS:
        raise ValueError(f"unknown notification event {event!r}")
    transaction.on_commit(
        functools.partial(notification_send, order_id=order.pk, event=event)
    )


def notification_send(*, order_id: int, event: str) -> None:
    """Email the event's audience and post the workspace's webhook. Never raises."""
    try:
        order = (
            Order.objects.select_related(
                "workspace", "requester", "decided_by", "approved_quote"
            )
            .filter(pk=order_id)
            .first()
        )
        if order is None:
            return
        spec = EVENTS[event]
        context = _context(order, event, spec)
        _email(order, spec, context)
        _webhook(order, event, context)
    except Exception:
        logger.exception("notification %s for order %s failed", event, order_id)


def site_url() -> str:
    return str(getattr(settings, "DFY_SITE_URL", "http://127.0.0.1:8000")).rstrip("/")


def _context(order: Order, event: str, spec: EventSpec) -> dict[str, Any]:
    quote = order.approved_quote
    decider = order.decided_by.get_username() if order.decided_by else "automatically"
    words = {
        "order": str(order),
        "requester": order.requester.get_username(),
        "decider": decider,
        "comment": order.decision_comment or "(no comment)",
        "due_now": f"{quote.due_now:,.2f}" if quote else "?",
        "per_month": f"{quote.per_month:,.2f}" if quote else "?",
        "refusal": str(order.refusal.get("message", "")),
        "reason": order.attention_reason,
    }
    return {
        "order": order,
        "event": event,
        "subject": spec.subject.format(**words),
        "sentence": spec.sentence.format(**words),
        "url": f"{site_url()}{order.get_absolute_url()}",
        "workspace": order.workspace,
    }


def approvers_for(order: Order) -> list[str]:
    """Addresses of the members who may approve this order: leads and admins other than the
    requester (unless self-approval is on) whose limit covers it; admins if nobody's does."""
    quote = order.approved_quote
    members = [
        m
        for m in Membership.objects.filter(
            workspace=order.workspace, role__in=[Role.LEAD, Role.ADMIN]
        ).select_related("user")
        if m.user.email
        and m.user.is_active
        and (m.user_id != order.requester_id or order.workspace.allow_self_approval)
    ]
    able = [m for m in members if quote is None or m.may_approve_amount(quote.due_now)]
    chosen = able or [m for m in members if m.is_admin]
    return sorted({m.user.email for m in chosen})


def _email(order: Order, spec: EventSpec, context: dict[str, Any]) -> None:
    if spec.audience == APPROVERS:
        recipients = approvers_for(order)
    else:
        recipients = [order.requester.email] if order.requester.email else []
    if not recipients:
        return
    body = render_to_string("emails/order_event.txt", context)
    # One message per person: approvers do not see each other's addresses.
    send_mass_mail(
        [(context["subject"], body, None, [address]) for address in recipients],
        fail_silently=False,
    )


def webhook_payload(
    order: Order, event: str, context: dict[str, Any]
) -> dict[str, Any]:
    quote = order.approved_quote
    return {
        "event": f"order.{event}",
        "sent_at": timezone.now(),
        "message": context["sentence"],
        "workspace": {"slug": order.workspace.slug, "name": order.workspace.name},
        "order": {
            "id": order.pk,
            "title": str(order),
            "type": order.order_type,
            "status": order.status,
            "url": context["url"],
            "requester": order.requester.get_username(),
            "due_now": str(quote.due_now) if quote else None,
            "per_month": str(quote.per_month) if quote else None,
            "placed_at": order.placed_at,
            "ready_at": order.ready_at,
        },
    }


def webhook_url_problem(url: str) -> str | None:
    """Why the portal will not post to `url`, or None. Webhooks leave the portal's network, so
    they must be https and must not name this machine or a private address by IP or name."""
    parsed = urlsplit(url)
    if parsed.scheme != "https":
        return "The webhook URL must start with https://."
    host = (parsed.hostname or "").rstrip(".").lower()
    if (
        not host
        or host == "localhost"
        or host.endswith((".localhost", ".local", ".internal"))
    ):
        return "The webhook URL must name a public host, not this machine or a local network."
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if not address.is_global:
        return (
            "The webhook URL must not point to a private, loopback or reserved address."
        )
    return None


def _webhook(order: Order, event: str, context: dict[str, Any]) -> None:
    url = order.workspace.webhook_url
    if not url:
        return
    problem = webhook_url_problem(url)
    if problem:
        logger.warning(
            "webhook for order %s (%s) not sent: %s", order.pk, event, problem
        )
        return
    body = json.dumps(webhook_payload(order, event, context), cls=DjangoJSONEncoder)
    timeout = float(getattr(settings, "DFY_WEBHOOK_TIMEOUT_SECONDS", 3))
    try:
        with httpx.Client(
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            transport=webhook_transport,
        ) as http:
            response = http.post(
                url,
                content=body,
                headers={
                    "Content-Type": "application/json",
                    "User-Agent": "dfyportal-webhook/1",
                },
            )
        if response.status_code >= 300:
            logger.warning(
                "webhook for order %s (%s) answered %s",
                order.pk,
                event,
                response.status_code,
            )
    except httpx.HTTPError as exc:
        logger.warning(
            "webhook for order %s (%s) failed: %s", order.pk, event, type(exc).__name__
        )
