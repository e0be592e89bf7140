"""Burned domains (writes): mark a delivered domain burned, draft its replacement and propose
cancelling it before its next renewal (docs/planning.md, "Burn-and-replace").

Marking spends nothing and cancels nothing by itself. In the same action:

- the replacement is a *draft* (orders/order_shapes.py `draft_from_shape`): one fresh domain
  from Instantly's suggestions for the burned one, the same provider, the same people and
  prefixes as its live mailboxes, the same forwarding. It is bought only after the ordinary
  submit → quote → approval path;
- the burned domain's live mailboxes are scheduled to be cancelled the day before the next
  renewal (orders/renewal_schedules.py), by the person who marked it: the schedule then
  follows its own rules (a lead's approval above DFY_SCHEDULED_CANCEL_APPROVAL_OVER
  mailboxes or when an operator made it, four-eyes) and anyone who may withdraw it can.

Either part that could not be done (no suggestion, a refused call, mailboxes already
scheduled otherwise) leaves the burn recorded with the problem in words; the order page then
offers it again as one click (`domain_burn_replace`, `domain_burn_schedule`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import transaction

from orders import forwarding, order_shapes, renewal_schedules
from orders.lifecycle import EventKind, OrderStatus, order_event_record, order_lock
from orders.models import (
    OPEN_SCHEDULE_STATUSES,
    BurnReason,
    DomainBurn,
    Mailbox,
    MailboxStatus,
    Membership,
    Order,
    OrderItem,
    OrderType,
    ScheduledCancellation,
    ScheduleStatus,
)
from orders.quotes import CACHE_ERRORS
from orders.rules import ORDER_TYPE_RULES, DraftMailbox

logger = logging.getLogger(__name__)

# Delivered: every mailbox was set up (ready), or some were cancelled since. A domain still
# provisioning has not been used enough to be burned; a cancelled order has nothing left.
BURNABLE_STATUSES: Final = frozenset(
    {OrderStatus.READY, OrderStatus.PARTIALLY_CANCELLED}
)
NOTE_LENGTH: Final = DomainBurn._meta.get_field("note").max_length or 500
# A schedule that ended without cancelling may be proposed again; one that ran may not.
RESCHEDULABLE: Final = frozenset({ScheduleStatus.UNSCHEDULED, ScheduleStatus.SKIPPED})
# Long enough for the suggestions call and the draft; a claim left by a crash expires.
REPLACEMENT_CLAIM_SECONDS: Final = 120
ALREADY_REPLACED: Final = "This burn already had a replacement draft."


class BurnError(Exception):
    """The domain cannot be marked (or its follow-up done) as asked; words for the person."""


@dataclass
class BurnOutcome:
    burn: DomainBurn
    # What could not be done automatically, in words (the burn itself is recorded).
    problems: list[str] = field(default_factory=list)

    @property
    def notice(self) -> str:
        burn = self.burn
        words = f"{burn.item.domain} is marked burned ({burn.get_reason_display()})."
        if burn.replacement is not None:
            words += (
                f" Its replacement is drafted as order #{burn.replacement.pk}: check it "
                "and submit it for approval."
            )
        if burn.schedule is not None:
            words += f" {schedule_words(burn.schedule)}"
        return words


def schedule_words(schedule: ScheduledCancellation) -> str:
    day = renewal_schedules.day_words
    if schedule.status == ScheduleStatus.AWAITING_APPROVAL:
        return (
            f"Its cancellation before the {day(schedule.renewal_on)} renewal waits for "
            "a lead's approval."
        )
    if schedule.status in OPEN_SCHEDULE_STATUSES:
        return (
            f"Its mailboxes will be cancelled on {day(schedule.run_on)}, before the "
            f"{day(schedule.renewal_on)} renewal."
        )
    return (
        f"Its cancellation before the {day(schedule.renewal_on)} renewal is "
        f"{schedule.get_status_display().lower()}."
    )


def _member(order: Order, by: User) -> Membership:
    membership = Membership.objects.filter(
        user=by, workspace_id=order.workspace_id
    ).first()
    if membership is None:
        raise BurnError("You are not a member of this workspace.")
    return membership


def _live(item: OrderItem) -> list[Mailbox]:
    return list(
        Mailbox.objects.filter(item=item)
        .exclude(status=MailboxStatus.CANCELLED)
        .order_by("position", "pk")
    )


def _clean(reason: str, note: str) -> tuple[BurnReason, str]:
    if reason not in BurnReason.values:
        raise BurnError("Reason: choose why the domain is burned.")
    note = note.strip()
    if len(note) > NOTE_LENGTH:
        raise BurnError(
            f"Note: at most {NOTE_LENGTH} characters (this one has {len(note)})."
        )
    return BurnReason(reason), note


def mark_refusal(*, order: Order, item: OrderItem, live: int, total: int) -> str:
    """Why this domain cannot be marked burned now, in words; "" when it can. Pure: the
    order page asks it too, from what it has loaded."""
    if hasattr(item, "burn"):
        return f"{item.domain} is already marked burned."
    if order.status not in BURNABLE_STATUSES:
        return (
            f"{item.domain} is not delivered: {order.display_name} is "
            f"{order.get_status_display().lower()}. Only a domain of a ready or partly "
            "cancelled order can be marked burned."
        )
    if not live:
        if total:
            return f"Every mailbox of {item.domain} is already cancelled."
        return f"{item.domain} has no mailboxes known yet."
    return ""


def domain_burn_mark(
    *,
    item: OrderItem,
    by: User,
    reason: str,
    note: str = "",
    now: datetime | None = None,
) -> BurnOutcome:
    """Mark a delivered domain burned; in the same action schedule its cancellation before
    the next renewal and draft its replacement. Raises BurnError (nothing recorded) when the
    domain cannot be marked; the parts that fail afterwards are `problems`."""
    burn_reason, note = _clean(reason, note)
    problems: list[str] = []
    with transaction.atomic():
        order = order_lock(item.order)
        _member(order, by)
        # Fresh under the order's lock: a second mark of the same domain waits, then sees it.
        item = OrderItem.objects.select_related("burn").get(pk=item.pk)
        live = _live(item)
        total = len(live) or Mailbox.objects.filter(item=item).count()
        if refusal := mark_refusal(order=order, item=item, live=len(live), total=total):
            raise BurnError(refusal)
        burn = DomainBurn.objects.create(
            workspace_id=order.workspace_id,
            item=item,
            reason=burn_reason,
            note=note,
            marked_by=by,
        )
        order_event_record(
            order=order,
            by=by,
            kind=EventKind.DOMAIN_BURNED,
            summary=f"{item.domain}: {burn_reason.label}"
            + (f" ({note})" if note else "")
            + ".",
            burn_id=burn.pk,
            domain=item.domain,
            burn_reason=burn_reason.value,
        )
        schedule, problem = _propose_cancel(order=order, item=item, by=by, now=now)
        if problem:
            problems.append(problem)
        if schedule is not None:
            burn.schedule = schedule
            burn.save(update_fields=["schedule"])
    # Instantly's suggestions are an HTTP call: after the burn is committed, never inside.
    problems += _replace(burn=burn, order=order, by=by, mailboxes=live)
    burn.item = item
    return BurnOutcome(burn=burn, problems=problems)


def _propose_cancel(
    *, order: Order, item: OrderItem, by: User, now: datetime | None
) -> tuple[ScheduledCancellation | None, str]:
    """Schedule the domain's live mailboxes to be cancelled before the next renewal, or link
    the open schedule that already covers them all. (schedule or None, problem in words)."""
    live = _live(item)
    domain = item.domain.lower()
    covering: ScheduledCancellation | None = None
    uncovered = []
    schedules = list(order.scheduled_cancellations.open().order_by("pk"))
    for mailbox in live:
        email = mailbox.email.lower()
        found = next(
            (s for s in schedules if email in s.emails or domain in s.domains), None
        )
        if found is None:
            uncovered.append(mailbox)
        else:
            covering = covering or found
    if not uncovered:
        return covering, ""
    try:
        # A savepoint: a refused schedule leaves the burn and its event in place.
        with transaction.atomic():
            if len(uncovered) == len(live):
                schedule = renewal_schedules.renewal_cancel_schedule(
                    order=order, by=by, domains=[item.domain], now=now
                )
            else:
                schedule = renewal_schedules.renewal_cancel_schedule(
                    order=order,
                    by=by,
                    mailbox_ids=[m.pk for m in uncovered],
                    now=now,
                )
    except renewal_schedules.RenewalScheduleError as exc:
        return None, (
            f"Its cancellation before the next renewal was not scheduled: {exc}"
        )
    return schedule, ""


def replacement_shape(
    *, order: Order, item: OrderItem, mailboxes: Sequence[Mailbox]
) -> order_shapes.OrderShape:
    """One domain like the burned one: its provider, the people and prefixes of its
    mailboxes, its forwarding as last known (the mirror, else as ordered). Mailboxes on
    owned domains (extra accounts) are replaced on a fresh domain, so the type is DFY."""
    known = forwarding.forwarding_known(
        workspace=order.workspace, domain=item.domain.lower()
    )
    order_type = (
        OrderType.DFY
        if order.order_type == OrderType.EXTRA_ACCOUNTS
        else OrderType(order.order_type)
    )
    # Pre-warmed domains come with their own mailboxes: the shape names none.
    people = (
        tuple(
            DraftMailbox(
                first_name=m.first_name,
                last_name=m.last_name,
                email_prefix=m.email_prefix,
            )
            for m in mailboxes
        )
        if ORDER_TYPE_RULES[order_type].takes_mailboxes
        else ()
    )
    return order_shapes.OrderShape(
        order_type=str(order_type),
        domains=(
            order_shapes.DomainShape(
                provider=item.provider,
                mailboxes=people,
                forwarding_domain=known.forwarding_domain,
            ),
        ),
    )


def replacement_title(*, order: Order, item: OrderItem) -> str:
    return f"Replaces {item.domain} (burned, {order.display_name} #{order.pk})"[:120]


def _replace(
    *, burn: DomainBurn, order: Order, by: User, mailboxes: Sequence[Mailbox]
) -> list[str]:
    """Draft the replacement and link it, once; the problems in words. Never inside a
    transaction (the suggestions are an HTTP call), so a double click is kept from drafting
    twice by a claim in the cache rather than a row lock."""
    claim = f"dfy:burn-replacement:{burn.pk}"
    try:
        claimed = cache.add(claim, by.pk, timeout=REPLACEMENT_CLAIM_SECONDS)
    except CACHE_ERRORS:  # a cache outage only costs the guard; linking still checks
        logger.warning("burn %s: the cache did not answer; drafting unclaimed", burn.pk)
        claimed = None
    if claimed is False:
        return [
            "The replacement is being drafted already (a second click?): reload the page "
            "in a moment to see it."
        ]
    try:
        # Read afresh under the claim: a click on a page loaded before the first draft was
        # linked must not draft a second one.
        if DomainBurn.objects.filter(pk=burn.pk, replacement__isnull=False).exists():
            return [ALREADY_REPLACED]
        return _replace_claimed(burn=burn, order=order, by=by, mailboxes=mailboxes)
    finally:
        if claimed:
            try:
                cache.delete(claim)
            except CACHE_ERRORS:  # it expires on its own
                logger.warning(
                    "burn %s: the replacement claim was not released", burn.pk
                )


def _replace_claimed(
    *, burn: DomainBurn, order: Order, by: User, mailboxes: Sequence[Mailbox]
) -> list[str]:
    item = burn.item
    try:
        shaped = order_shapes.draft_from_shape(
            workspace=order.workspace,
            by=by,
            shape=replacement_shape(order=order, item=item, mailboxes=mailboxes),
            seeds=[item.domain],
            title=replacement_title(order=order, item=item),
        )
    except Exception:
        # The burn is committed; the page offers the replacement again as one click.
        logger.exception("burn %s: the replacement draft failed", burn.pk)
        return [
            "The replacement could not be drafted just now; use “Draft the "
            "replacement” to try again."
        ]
    replacement = shaped.order
    new_domains = list(replacement.items.values_list("domain", flat=True))
    with transaction.atomic():
        # Only without the claim (the cache down) can two clicks draft twice: only the first
        # is linked, the other stays a draft and the person is told.
        if not DomainBurn.objects.filter(pk=burn.pk, replacement__isnull=True).update(
            replacement=replacement
        ):
            return [*shaped.problems, ALREADY_REPLACED]
        burn.replacement = replacement
        order_event_record(
            order=order,
            by=by,
            kind=EventKind.BURN_REPLACEMENT_DRAFTED,
            summary=f"Order #{replacement.pk} drafted in place of {item.domain}"
            + (f", with {', '.join(new_domains)}" if new_domains else "")
            + ".",
            burn_id=burn.pk,
            replacement_id=replacement.pk,
        )
        order_event_record(
            order=replacement,
            by=by,
            kind=EventKind.BURN_REPLACES,
            summary=f"Replaces {item.domain}, burned on {order.display_name} "
            f"(#{order.pk}).",
            burn_id=burn.pk,
            burned_order_id=order.pk,
        )
    return [f"Replacement draft: {problem}" for problem in shaped.problems]


def _follow_up(burn: DomainBurn, by: User) -> tuple[Order, OrderItem]:
    order = burn.item.order
    _member(order, by)
    return order, burn.item


def domain_burn_replace(*, burn: DomainBurn, by: User) -> BurnOutcome:
    """Draft the replacement of a burn that has none (the automatic one failed)."""
    order, item = _follow_up(burn, by)
    if burn.replacement_id is not None:
        raise BurnError(f"{item.domain} already has a replacement draft.")
    mailboxes = _live(item) or list(Mailbox.objects.filter(item=item))
    problems = _replace(burn=burn, order=order, by=by, mailboxes=mailboxes)
    return BurnOutcome(burn=burn, problems=problems)


def domain_burn_schedule(
    *, burn: DomainBurn, by: User, now: datetime | None = None
) -> BurnOutcome:
    """Propose the burned domain's cancellation before the next renewal again: when marking
    could not schedule it, or its schedule was withdrawn or skipped."""
    order, item = _follow_up(burn, by)
    with transaction.atomic():
        order = order_lock(order)
        locked = DomainBurn.objects.select_for_update().get(pk=burn.pk)
        current = (
            ScheduledCancellation.objects.filter(pk=locked.schedule_id).first()
            if locked.schedule_id
            else None
        )
        if current is not None and current.status not in RESCHEDULABLE:
            raise BurnError(
                f"The cancellation of {item.domain} is already "
                f"{current.get_status_display().lower()}."
            )
        if order.status not in BURNABLE_STATUSES or not _live(item):
            raise BurnError(f"{item.domain} has no live mailbox left to cancel.")
        schedule, problem = _propose_cancel(order=order, item=item, by=by, now=now)
        if schedule is None:
            raise BurnError(problem)
        locked.schedule = schedule
        locked.save(update_fields=["schedule"])
    burn.schedule = schedule
    return BurnOutcome(burn=burn)
