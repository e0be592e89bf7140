"""Telling people what happened to an order: email (Django's mail backend) and the
workspace's optional webhook (signed JSON over HTTPS, docs/webhooks.md).

A transition only queues its notification (orders/lifecycle.py, after its transaction commits); a Celery task
delivers each channel separately, with retries, and records every attempt for the workspace's
admins. So a slow or dead receiver can neither undo nor slow down a transition. Nothing secret
is ever sent: no key, no password, no raw Instantly answer.
"""

from __future__ import annotations

import functools
import json
import logging
import smtplib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final

import httpx
from celery.utils.time import get_exponential_backoff_interval
from django.conf import settings
from django.core.mail import send_mass_mail
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.template.loader import render_to_string
from django.utils import timezone

from orders import conf, webhooks
from orders.models import (
    DeliveryStatus,
    Membership,
    NotificationChannel,
    NotificationDelivery,
    Order,
    Role,
)

logger = logging.getLogger(__name__)

APPROVERS: Final = "approvers"
REQUESTER: Final = "requester"
# The workspace's admins (credential reveals: issue 15).
ADMINS: Final = "admins"
# Leads and admins other than whoever recorded the notice's event (a cancellation scheduled
# before renewal: its scheduler may not approve it, docs/renewals.md).
OTHER_LEADS: Final = "other_leads"
# Tests swap in httpx.MockTransport and a resolver stub; None means real HTTP.
webhook_transport: httpx.BaseTransport | None = None
webhook_resolver: webhooks.Resolver = webhooks.resolve_host
# An attempt younger than this is still running somewhere (above the task's time limit).
IN_FLIGHT_SECONDS: Final = 120


@dataclass(frozen=True)
class EventSpec:
    audience: str
    subject: str
    sentence: str
    # The notice words what the newest of these audit events says: `{actor}` who recorded it
    # and `{summary}` its detail's "summary" (a sentence written for people, never a secret).
    # The notice carries only its order's id, so the event is where the particulars live.
    from_events: tuple[str, ...] = ()


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
    "awaiting_checkout": EventSpec(
        REQUESTER,
        "Awaiting payment at Instantly: {order}",
        "{order} was not bought: {reason}",
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
    "mailbox_attention": EventSpec(
        REQUESTER,
        "Mailbox trouble: {order}",
        "{summary}",
        from_events=("health_attention",),
    ),
    "credentials_revealed": EventSpec(
        ADMINS,
        "Credentials revealed: {order}",
        "{actor} fetched the mailbox credentials of {order}: {summary}",
        from_events=("credentials_revealed", "credentials_downloaded"),
    ),
    "renewal_cancel_approval": EventSpec(
        OTHER_LEADS,
        "Approve a cancellation before renewal: {order}",
        "{actor} scheduled a cancellation before the next renewal: {summary}",
        from_events=("renewal_cancel_scheduled",),
    ),
    "renewal_cancel_executed": EventSpec(
        REQUESTER,
        "Cancelled before renewal: {order}",
        "{summary}",
        from_events=("renewal_cancel_executed", "renewal_cancel_skipped"),
    ),
}


@dataclass(frozen=True)
class DeliveryOutcome:
    delivery: NotificationDelivery | None
    retry: bool = False
    # When set, come back after this many seconds (another attempt may still be running).
    retry_in: int | None = None


def notification_deliver(
    *, order_id: int, event: str, event_id: str, channel: str, final: bool
) -> DeliveryOutcome:
    """One attempt at delivering `event` over `channel`, recorded as a NotificationDelivery.
    Does nothing when this event already went out on this channel, or while another attempt
    at it is in flight. `final` marks the last attempt the caller will make; otherwise a
    failure that may pass asks for a retry. Never raises for a failed send."""
    if event not in EVENTS or channel not in NotificationChannel.values:
        raise ValueError(f"unknown notification {event!r} over {channel!r}")
    order = (
        Order.objects.select_related(
            "workspace", "requester", "decided_by", "approved_quote"
        )
        .filter(pk=order_id)
        .first()
    )
    if order is None:
        return DeliveryOutcome(None)
    earlier = NotificationDelivery.objects.filter(event_id=event_id, channel=channel)
    if earlier.filter(status=DeliveryStatus.DELIVERED).exists():
        return DeliveryOutcome(None)
    in_flight_since = timezone.now() - timedelta(seconds=IN_FLIGHT_SECONDS)
    running = (
        earlier.filter(status=DeliveryStatus.SENDING, created_at__gte=in_flight_since)
        .order_by("-created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    if running is not None:
        # Either a duplicate message is sending right now, or a worker died mid-attempt and
        # its message came back at once (reject on worker lost). Come back once that attempt
        # is surely over instead of acknowledging, or a dead attempt would lose the event.
        left = (running - in_flight_since).total_seconds()
        return DeliveryOutcome(None, retry=not final, retry_in=max(1, int(left) + 1))
    # Attempts still "sending" past the window died with their worker: say so.
    earlier.filter(status=DeliveryStatus.SENDING).update(
        status=DeliveryStatus.FAILED,
        error="Abandoned: the worker stopped during this attempt.",
    )
    spec = EVENTS[event]
    context = _context(order, event, spec)
    if channel == NotificationChannel.EMAIL:
        recipients = _recipients(order, spec, context["actor_id"])
        if not recipients:
            return DeliveryOutcome(None)
        send: Callable[[], webhooks.PostResult] = functools.partial(
            _email, spec, context, recipients
        )
    else:
        if not order.workspace.webhook_url:
            return DeliveryOutcome(None)
        send = functools.partial(_webhook, order, event, event_id, context)
    attempt = (earlier.aggregate(n=Max("attempt"))["n"] or 0) + 1
    try:
        with transaction.atomic():
            delivery = NotificationDelivery.objects.create(
                workspace=order.workspace,
                order=order,
                event=event,
                channel=channel,
                event_id=event_id,
                attempt=attempt,
            )
    except IntegrityError:
        return DeliveryOutcome(None)  # a duplicate message claimed this attempt first
    started = time.monotonic()
    result = send()
    delivery.duration_ms = int((time.monotonic() - started) * 1000)
    delivery.http_status = result.http_status
    delivery.error = result.error[:300]
    if result.delivered:
        delivery.status = DeliveryStatus.DELIVERED
    elif result.retry and not final:
        delivery.status = DeliveryStatus.RETRYING
    else:
        delivery.status = DeliveryStatus.FAILED
    delivery.save(update_fields=["status", "http_status", "duration_ms", "error"])
    if not result.delivered:
        # No URL and no host here: the error text is the portal's own.
        logger.warning(
            "%s for order %s (%s) attempt %s failed: %s",
            channel,
            order.pk,
            event,
            attempt,
            result.error,
        )
    return DeliveryOutcome(delivery, retry=delivery.status == DeliveryStatus.RETRYING)


def retry_delay(retries: int) -> int:
    """Seconds before the next attempt: exponential from the configured base, capped at an
    hour, with full jitter so a receiver coming back is not hit by every retry at once."""
    base = int(settings.DFY_NOTIFICATION_RETRY_BASE_SECONDS)
    return get_exponential_backoff_interval(
        factor=base, retries=retries, maximum=3600, full_jitter=True
    )


def _context(order: Order, event: str, spec: EventSpec) -> dict[str, Any]:
    quote = order.approved_quote
    decider = order.decided_by.get_username() if order.decided_by else "automatically"
    words = {
        "order": order.display_name,
        "requester": order.requester.get_username(),
        "decider": decider,
        "comment": order.decision_comment or "(no comment)",
        "due_now": f"{quote.due_now:,.2f}" if quote else "?",
        "per_month": f"{quote.per_month:,.2f}" if quote else "?",
        "refusal": str(order.refusal.get("message", "")),
        "reason": order.attention_reason,
        "actor": "someone",
        "summary": "",
    }
    actor_id: int | None = None
    if spec.from_events:
        latest = (
            order.events.filter(kind__in=spec.from_events)
            .select_related("actor")
            .order_by("-created_at", "-pk")
            .first()
        )
        if latest is not None:
            if latest.actor is not None:
                words["actor"] = latest.actor.get_username()
                actor_id = latest.actor.pk
            words["summary"] = str(latest.detail.get("summary", ""))
    return {
        "order": order,
        "event": event,
        "subject": spec.subject.format(**words),
        "sentence": spec.sentence.format(**words),
        "url": f"{conf.site_url()}{order.get_absolute_url()}",
        "workspace": order.workspace,
        "actor_id": actor_id,
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


def admins_of(order: Order) -> list[str]:
    """Addresses of the workspace's active admins."""
    return sorted(
        m.user.email
        for m in Membership.objects.filter(
            workspace=order.workspace, role=Role.ADMIN, user__is_active=True
        ).select_related("user")
        if m.user.email
    )


def other_leads(order: Order, actor_id: int | None) -> list[str]:
    """Addresses of the workspace's active leads and admins but `actor_id`'s."""
    return sorted(
        m.user.email
        for m in Membership.objects.filter(
            workspace=order.workspace,
            role__in=[Role.LEAD, Role.ADMIN],
            user__is_active=True,
        ).select_related("user")
        if m.user.email and m.user_id != actor_id
    )


def _recipients(
    order: Order, spec: EventSpec, actor_id: int | None = None
) -> list[str]:
    if spec.audience == APPROVERS:
        return approvers_for(order)
    if spec.audience == ADMINS:
        return admins_of(order)
    if spec.audience == OTHER_LEADS:
        return other_leads(order, actor_id)
    return [order.requester.email] if order.requester.email else []


def _email(
    spec: EventSpec, context: dict[str, Any], recipients: list[str]
) -> webhooks.PostResult:
    body = render_to_string("emails/order_event.txt", context)
    try:
        # One message per person: approvers do not see each other's addresses.
        send_mass_mail(
            [(context["subject"], body, None, [address]) for address in recipients],
            fail_silently=False,
        )
    except (smtplib.SMTPException, OSError) as exc:
        return webhooks.PostResult(
            delivered=False,
            retry=True,
            error=f"The mail server refused or could not be reached ({type(exc).__name__}).",
        )
    return webhooks.PostResult(delivered=True, retry=False)


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
    """Why the portal will not post to `url`, or None (the settings-time check; the sender
    checks again after resolving the name, see orders/webhooks.py)."""
    return webhooks.url_problem(url)


def _webhook(
    order: Order, event: str, event_id: str, context: dict[str, Any]
) -> webhooks.PostResult:
    try:
        secret = webhooks.webhook_secret(order.workspace)
    except webhooks.WebhookSecretMissing:
        # Unsigned posts would teach receivers to accept anything.
        return webhooks.PostResult(
            delivered=False,
            retry=False,
            error="The workspace has no webhook signing secret yet; an admin creates one in settings.",
        )
    payload = webhook_payload(order, event, context)
    payload = {"id": event_id, **payload}
    body = json.dumps(payload, cls=DjangoJSONEncoder).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": webhooks.USER_AGENT,
        webhooks.EVENT_ID_HEADER: event_id,
        webhooks.EVENT_HEADER: payload["event"],
        webhooks.SIGNATURE_HEADER: webhooks.signature_header(secret=secret, body=body),
    }
    return webhooks.webhook_post(
        url=order.workspace.webhook_url,
        body=body,
        headers=headers,
        resolver=webhook_resolver,
        transport=webhook_transport,
    )
