"""Cancelling mailboxes of a placed order: preview the consequences, check the typed
confirmation, call Instantly once and record the result per mailbox. Cancellations run as
queued runs (orders/cancellation_runs.py), which call these.

Instantly deletes a cancelled mailbox's Unibox emails and conversations permanently, and
cancelling the last live mailbox of a domain cancels the domain too. The cancel call changes
state, so it never runs in a request and is sent at most once: a confirmation queues a
`CancellationRun`, and the worker that claims it (queued → running, one conditional UPDATE)
is the only one that sends it. When its answer is lost, the accounts list tells what happened.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from orders import billing, instantly_keys
from orders.instantly import InstantlyClient, InstantlyError, OutcomeUnknown
from orders.lifecycle import (
    BOUGHT_STATUSES,
    EventKind,
    order_event_record,
    order_lock,
    order_transition,
)
from orders.models import (
    Mailbox,
    MailboxStatus,
    MailboxTally,
    Membership,
    Order,
    OrderStatus,
    RemoteAccount,
)

logger = logging.getLogger(__name__)

UNIBOX_WARNING = (
    "Instantly permanently deletes every Unibox email and conversation of a cancelled "
    "mailbox. This cannot be undone."
)
CANCELLED = "cancelled"
NOT_CANCELLED = "not_cancelled"
UNKNOWN = "unknown"
RESULT_WORDS = {
    CANCELLED: "Cancelled",
    NOT_CANCELLED: "Not cancelled (Instantly did not list it)",
    UNKNOWN: "Unknown: Instantly's answer was lost; the next poll will tell",
}


class CancelError(Exception):
    """The cancellation cannot be done as asked; the message is for the user."""


@dataclass(frozen=True)
class DomainConsequence:
    domain: str
    selected: tuple[str, ...]
    remaining: tuple[str, ...]
    # What stops being billed (from the order's bill, docs/instantly.md "Billing").
    stops: billing.BillingStop | None = None

    @property
    def cancels_domain(self) -> bool:
        return not self.remaining


@dataclass(frozen=True)
class CancelPreview:
    order: Order
    mailboxes: tuple[Mailbox, ...]
    domains: tuple[DomainConsequence, ...]

    @property
    def count(self) -> int:
        return len(self.mailboxes)

    @property
    def phrase(self) -> str:
        """What the person types to confirm: the number makes them read the selection."""
        return f"cancel {self.count} mailbox{'es' if self.count != 1 else ''}"

    @property
    def emails(self) -> list[str]:
        return [m.email.lower() for m in self.mailboxes]

    @property
    def domains_cancelled(self) -> list[str]:
        return [d.domain for d in self.domains if d.cancels_domain]

    @property
    def warning(self) -> str:
        return UNIBOX_WARNING

    @property
    def monthly_stops(self) -> Decimal:
        return billing.total_stops(d.stops for d in self.domains if d.stops)

    @property
    def yearly_stops(self) -> Decimal:
        return sum(
            (d.stops.domain_per_year for d in self.domains if d.stops), Decimal("0.00")
        )


@dataclass(frozen=True)
class CancelOutcome:
    order: Order
    results: list[tuple[str, str]] = field(default_factory=list)

    @property
    def cancelled(self) -> int:
        return sum(1 for _, result in self.results if result == CANCELLED)


def _check_role(order: Order, by: User) -> None:
    membership = Membership.objects.filter(user=by, workspace=order.workspace).first()
    if membership is None or not membership.is_lead:
        raise CancelError("Only a lead or a workspace admin can cancel mailboxes.")


def cancellation_preview(
    *,
    order: Order,
    mailbox_ids: Sequence[int] = (),
    domains: Sequence[str] = (),
) -> CancelPreview:
    """The consequences of cancelling these mailboxes (or every live mailbox of these domains)
    of the order. Reads the database only (the remote mirror knows the domains' other
    mailboxes, including ones bought outside this order)."""
    if not order.can_cancel():
        raise CancelError(
            f"This order is {order.get_status_display().lower()}; only placed orders "
            "have mailboxes to cancel."
        )
    wanted_domains = {d.strip().lower() for d in domains if d.strip()}
    selected = [
        m
        for m in Mailbox.objects.filter(item__order=order)
        .exclude(status=MailboxStatus.CANCELLED)
        .select_related("item")
        .order_by("item__position", "position", "pk")
        if m.pk in set(mailbox_ids) or m.item.domain.lower() in wanted_domains
    ]
    if not selected:
        raise CancelError("Choose at least one mailbox (or a whole domain) to cancel.")
    by_domain: dict[str, list[str]] = {}
    for mailbox in selected:
        by_domain.setdefault(mailbox.item.domain.lower(), []).append(
            mailbox.email.lower()
        )
    consequences = []
    bill = billing.order_bill(order)
    for domain, emails in by_domain.items():
        live = _live_on_domain(order, domain)
        remaining = tuple(sorted(live - set(emails)))
        consequences.append(
            DomainConsequence(
                domain=domain,
                selected=tuple(emails),
                remaining=remaining,
                stops=billing.billing_stops(
                    bill, domain=domain, cancelled=len(emails), left=len(remaining)
                ),
            )
        )
    return CancelPreview(
        order=order, mailboxes=tuple(selected), domains=tuple(consequences)
    )


def _live_on_domain(order: Order, domain: str) -> set[str]:
    """Every live mailbox address on the domain in this workspace: the portal's own rows of
    any order, plus what Instantly listed at the last poll."""
    ours = {
        m.email.lower()
        for m in Mailbox.objects.filter(
            item__order__workspace=order.workspace,
            item__domain__iexact=domain,
            item__order__status__in=[
                OrderStatus.PLACED,
                OrderStatus.PROVISIONING,
                OrderStatus.READY,
                OrderStatus.PARTIALLY_CANCELLED,
            ],
        )
        .exclude(status=MailboxStatus.CANCELLED)
        .select_related("item")
    }
    remote = set(
        RemoteAccount.objects.filter(
            workspace=order.workspace, domain=domain, cancelled_remote_at__isnull=True
        ).values_list("email", flat=True)
    )
    return ours | remote


def cancellation_confirmed(
    *,
    order: Order,
    by: User,
    mailbox_ids: Sequence[int],
    domains: Sequence[str],
    confirmation: str,
) -> CancelPreview:
    """The preview of what a lead confirmed by typing its phrase. Raises CancelError."""
    _check_role(order, by)
    preview = cancellation_preview(
        order=order, mailbox_ids=mailbox_ids, domains=domains
    )
    if " ".join(confirmation.lower().split()) != preview.phrase:
        raise CancelError(f'Type "{preview.phrase}" to confirm.')
    return preview


def cancel_send(
    order: Order,
    by: User | None,
    preview: CancelPreview,
    client: InstantlyClient | None,
) -> dict[str, str]:
    """Record the request, then send it once: the result per address. Raises CancelError
    when Instantly refused (recorded too), InstantlyKeyMissing before anything is recorded."""
    if client is None:
        with instantly_keys.instantly_client_for(workspace=order.workspace) as built:
            return cancel_send(order, by, preview, built)
    order_event_record(
        order=order,
        by=by,
        kind=EventKind.CANCEL_REQUEST,
        from_status=order.status,
        to_status=order.status,
        emails=preview.emails,
        domains_cancelled=preview.domains_cancelled,
    )
    return _cancel_call(order, by, client, preview.emails)


def _cancel_call(
    order: Order, by: User | None, client: InstantlyClient, emails: list[str]
) -> dict[str, str]:
    try:
        cancelled = client.cancel_accounts(emails)
    except OutcomeUnknown as exc:
        logger.warning("order %s: cancellation outcome unknown: %s", order.pk, exc)
        return cancel_read_back(client, emails)
    except InstantlyError as exc:
        order_event_record(
            order=order,
            by=by,
            kind=EventKind.CANCEL_FAILED,
            from_status=order.status,
            to_status=order.status,
            message=str(exc),
            http_status=exc.status_code,
        )
        raise CancelError(f"Instantly did not cancel anything: {exc}") from exc
    done = {a.email.lower() for a in cancelled if a.is_cancelled}
    return {e: CANCELLED if e in done else NOT_CANCELLED for e in emails}


def cancel_read_back(client: InstantlyClient, emails: list[str]) -> dict[str, str]:
    """The cancel answer was lost: the accounts list says which addresses are cancelled."""
    wanted = set(emails)
    live: set[str] = set()
    cancelled: set[str] = set()
    try:
        for account in client.iter_accounts():
            email = account.email.lower()
            if email in wanted:
                (cancelled if account.is_cancelled else live).add(email)
    except InstantlyError:
        return dict.fromkeys(emails, UNKNOWN)
    # An address reused after an earlier cancellation has a live row too: live wins.
    return {
        e: CANCELLED if e in cancelled and e not in live else NOT_CANCELLED
        for e in emails
    }


@transaction.atomic
def cancel_record(
    order: Order, by: User | None, preview: CancelPreview, results: dict[str, str]
) -> CancelOutcome:
    locked = order_lock(order)
    now = timezone.now()
    # The statuses as they are under the order's lock (the poll may have moved some since
    # the preview was read): what the dashboard's tallies take the cancelled ones from.
    before = dict(
        Mailbox.objects.filter(pk__in=[m.pk for m in preview.mailboxes]).values_list(
            "pk", "status"
        )
    )
    changed = []
    for mailbox in preview.mailboxes:
        if results.get(mailbox.email.lower()) == CANCELLED:
            mailbox.status = MailboxStatus.CANCELLED
            mailbox.cancelled_at = now
            changed.append(mailbox)
    Mailbox.objects.bulk_update(changed, ["status", "cancelled_at"])
    if locked.status in BOUGHT_STATUSES:
        # Before the order's own move below, which writes the bought tally after these.
        MailboxTally.objects.mailboxes_moved(
            workspace_id=locked.workspace_id,
            moves=[(m.item.provider, before.get(m.pk), m.status) for m in changed],
        )
    left = (
        Mailbox.objects.filter(item__order=locked)
        .exclude(status=MailboxStatus.CANCELLED)
        .exists()
    )
    domains_cancelled = [
        d.domain
        for d in preview.domains
        if d.cancels_domain and all(results.get(e) == CANCELLED for e in d.selected)
    ]
    target = OrderStatus(locked.status)
    if changed:
        target = OrderStatus.PARTIALLY_CANCELLED if left else OrderStatus.CANCELLED
    if target != locked.status:
        finished = {"finished_at": now} if target == OrderStatus.CANCELLED else {}
        order_transition(
            locked,
            target,
            kind=EventKind.MAILBOXES_CANCELLED,
            by=by,
            changes=finished,
            results=results,
            domains_cancelled=domains_cancelled,
        )
    else:
        # Nothing cancelled, or a partly cancelled order kept some mailboxes: the status
        # stays, but the result still belongs on the timeline.
        order_event_record(
            order=locked,
            by=by,
            kind=EventKind.MAILBOXES_CANCELLED,
            from_status=locked.status,
            to_status=locked.status,
            results=results,
            domains_cancelled=domains_cancelled,
        )
        locked.save(update_fields=["updated_at"])
    return CancelOutcome(
        order=locked, results=[(e, results.get(e, UNKNOWN)) for e in preview.emails]
    )


def last_cancellation(order: Order) -> list[tuple[str, str]]:
    """The per-mailbox result of the order's latest cancellation, from its audit trail."""
    event = (
        order.events.filter(kind=EventKind.MAILBOXES_CANCELLED).order_by("-pk").first()
    )
    if event is None:
        return []
    return results_in_words(event.detail.get("results", {}))


def results_in_words(results: dict[str, object]) -> list[tuple[str, str]]:
    return [(email, RESULT_WORDS.get(str(r), str(r))) for email, r in results.items()]
