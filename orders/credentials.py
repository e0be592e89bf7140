"""Mailbox credentials, revealed on purpose and audited (docs/security.md, "Credential
reveals").

Passwords are never stored: a lead or admin asks, the portal reads them live from Instantly's
accounts list (`with_passwords`), hands them to the one response that shows or downloads them,
and forgets them. What is kept is the audit row (who, when, which addresses; never a
password) and the notice to the workspace's admins.

The list runs oldest first across the whole workspace, so reading stops as soon as every
address of the order was seen. An order still being fulfilled starts at the fulfilment poll's
cursor (the page of the oldest mailbox Instantly still provisions), and reads the pages before
it only for addresses it did not find after it.

Every function that holds a password is `sensitive_variables`, so Django's error reports
never print one.
"""

from __future__ import annotations

import csv
import io
import logging
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from orders import conf, instantly, instantly_keys
from orders.csv_cells import escape_cell
from orders.lifecycle import (
    BOUGHT_STATUSES,
    EventKind,
    Notice,
    order_event_record,
    order_notify,
)
from orders.models import (
    Mailbox,
    MailboxStatus,
    Membership,
    Order,
    Provider,
    Role,
)
from orders.models.remote import PollCursor

if TYPE_CHECKING:
    from orders.instantly.client import ListPage

logger = logging.getLogger(__name__)

# Orders whose mailboxes exist at Instantly and are not all cancelled.
REVEALABLE_STATUSES: Final = BOUGHT_STATUSES
# One page call, its retries and limiter waits included: the person is waiting for the page.
REVEAL_DEADLINE_SECONDS: Final = 10.0
# The summary names this many addresses; the event's `mailboxes` holds all of them.
SUMMARY_NAMES: Final = 10
CSV_COLUMNS: Final = ("email", "first_name", "last_name", "password", "provider")

NOT_ALLOWED: Final = (
    "Only leads and workspace admins can reveal mailbox credentials. "
    "Ask one of them if you need them."
)
NOT_BOUGHT: Final = (
    "This order has no mailboxes at Instantly yet (or none left), so there are no "
    "credentials to reveal."
)
NONE_READY: Final = (
    "Instantly has not finished setting up any mailbox of this order: no password exists "
    "yet. Nothing was revealed and nothing was recorded; try again once mailboxes are ready."
)


class CredentialsProblem(Exception):
    """Nothing was revealed; `message` says why, for a person (never a secret)."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass(frozen=True)
class Credential:
    """One mailbox of the order as Instantly lists it now. `password` is a secret: it is
    left out of `repr`, and an empty one means the mailbox is still being set up (or
    Instantly does not list it yet, `listed` False)."""

    email: str
    first_name: str
    last_name: str
    provider: str
    password: str = field(repr=False)
    listed: bool = True

    @property
    def ready(self) -> bool:
        return bool(self.password)


@dataclass(frozen=True)
class Reveal:
    """What one audited fetch produced: every mailbox of the order (ready ones with their
    password), the audit row, and when the page that shows them stops showing them."""

    order: Order
    credentials: tuple[Credential, ...]
    revealed: tuple[str, ...]
    expires_at: datetime
    seconds: int
    api_calls: int


def may_reveal(membership: Membership | None) -> bool:
    """Leads and admins; never operators (docs/security.md)."""
    return membership is not None and membership.is_lead


def is_revealable(order: Order) -> bool:
    return order.status in REVEALABLE_STATUSES


def revealable_mailboxes(order: Order) -> list[Mailbox]:
    """The order's mailboxes that are not cancelled, in the order page's order."""
    return list(
        Mailbox.objects.filter(item__order=order)
        .exclude(status=MailboxStatus.CANCELLED)
        .select_related("item")
        .order_by("item__position", "position", "pk")
    )


def summary_of(emails: Sequence[str]) -> str:
    """'2 mailboxes: a@x.com, b@x.com' (the first few named, then how many more)."""
    count = len(emails)
    noun = "mailbox" if count == 1 else "mailboxes"
    named = ", ".join(emails[:SUMMARY_NAMES])
    more = count - SUMMARY_NAMES
    return f"{count} {noun}: {named}" + (f" and {more} more" if more > 0 else "")


def recipients(order: Order) -> list[str]:
    """Who is told about a reveal, for the confirm step: the workspace's active admins with
    an address, as `notifications.admins_of` picks them."""
    return list(
        Membership.objects.filter(
            workspace_id=order.workspace_id, role=Role.ADMIN, user__is_active=True
        )
        .exclude(user__email="")
        .order_by("user__username")
        .values_list("user__username", flat=True)
    )


@sensitive_variables()
def credentials_reveal(
    *,
    order: Order,
    by: User,
    client: instantly.InstantlyClient | None = None,
    now: datetime | None = None,
) -> Reveal:
    """Fetch the order's credentials live, record the reveal and tell the admins.

    Raises CredentialsProblem (nothing revealed, nothing recorded) for an order without
    bought mailboxes, when Instantly cannot answer, or when no mailbox has a password yet.
    """
    return _audited(order, by, EventKind.CREDENTIALS_REVEALED, client, now)


@sensitive_variables()
def credentials_download(
    *,
    order: Order,
    by: User,
    client: instantly.InstantlyClient | None = None,
    now: datetime | None = None,
) -> tuple[Reveal, str]:
    """Like `credentials_reveal`, recorded as a download; returns the CSV text with it."""
    reveal = _audited(order, by, EventKind.CREDENTIALS_DOWNLOADED, client, now)
    return reveal, credentials_csv(reveal.credentials)


@sensitive_variables()
def credentials_csv(credentials: Sequence[Credential]) -> str:
    """A sequencer import file: one row per mailbox that has a password. Instantly's DFY
    documentation gives no IMAP/SMTP hosts, so none are made up (docs/security.md).

    Names and addresses are escaped like every CSV the portal writes (people type them);
    the password is written exactly as Instantly generated it: an apostrophe in front of a
    password starting with "-" would make the sequencer's log-in fail, and no portal user
    can choose its text."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for c in credentials:
        if c.ready:
            writer.writerow(
                [
                    escape_cell(c.email),
                    escape_cell(c.first_name),
                    escape_cell(c.last_name),
                    c.password,
                    escape_cell(c.provider),
                ]
            )
    return out.getvalue()


@sensitive_variables()
def _audited(
    order: Order,
    by: User,
    kind: EventKind,
    client: instantly.InstantlyClient | None,
    now: datetime | None,
) -> Reveal:
    if not is_revealable(order):
        raise CredentialsProblem(NOT_BOUGHT, code="not_bought")
    mailboxes = revealable_mailboxes(order)
    if not mailboxes:
        raise CredentialsProblem(NOT_BOUGHT, code="not_bought")
    credentials, calls = _fetch(order, mailboxes, client)
    revealed = tuple(c.email for c in credentials if c.ready)
    if not revealed:
        raise CredentialsProblem(NONE_READY, code="none_ready")
    seconds = conf.credentials_reveal_seconds()
    moment = now or timezone.now()
    with transaction.atomic():
        order_event_record(
            order=order,
            by=by,
            kind=kind,
            summary=summary_of(revealed),
            mailboxes=list(revealed),
            pending=len(credentials) - len(revealed),
        )
        order_notify(order_id=order.pk, notice=Notice.CREDENTIALS_REVEALED)
    logger.info(
        "credentials of order %s %s by %s: %d mailboxes, %d calls",
        order.pk,
        "downloaded" if kind == EventKind.CREDENTIALS_DOWNLOADED else "revealed",
        by.get_username(),
        len(revealed),
        calls,
    )
    return Reveal(
        order=order,
        credentials=credentials,
        revealed=revealed,
        expires_at=moment + timedelta(seconds=seconds),
        seconds=seconds,
        api_calls=calls,
    )


@sensitive_variables()
def _fetch(
    order: Order,
    mailboxes: Sequence[Mailbox],
    client: instantly.InstantlyClient | None,
) -> tuple[tuple[Credential, ...], int]:
    try:
        if client is not None:
            return _read(order, mailboxes, client)
        with instantly_keys.instantly_client_for(
            workspace=order.workspace,
            deadline_seconds=REVEAL_DEADLINE_SECONDS,
            max_read_retries=1,
        ) as built:
            return _read(order, mailboxes, built)
    except (instantly_keys.InstantlyKeyMissing, instantly.InstantlyError) as exc:
        # The type only: a protocol error's text could quote the answer it failed to read.
        logger.info("credentials of order %s: %s", order.pk, type(exc).__name__)
        raise credentials_problem(exc) from None


@sensitive_variables()
def _read(
    order: Order, mailboxes: Sequence[Mailbox], client: instantly.InstantlyClient
) -> tuple[tuple[Credential, ...], int]:
    wanted = {m.email.lower() for m in mailboxes}
    found: dict[str, instantly.RemoteAccount] = {}
    before = client.request_count
    start = _start_cursor(order, mailboxes, client)
    if start is not None:
        try:
            _collect(_pages(client, start), wanted, found, stop_at=None)
        except instantly.InstantlyValidationError:
            # The row the cursor named is gone, or the cursor is stale: read from the start.
            logger.info("credentials of order %s: cursor refused", order.pk)
            start = None
    if len(found) < len(wanted):
        # The rest were listed before the poll's cursor: read up to it, not past it again.
        _collect(_pages(client, None), wanted, found, stop_at=start)
    credentials = tuple(_credential(m, found.get(m.email.lower())) for m in mailboxes)
    return credentials, client.request_count - before


@sensitive_variables()
def _collect(
    pages: Iterator[ListPage[instantly.RemoteAccount]],
    wanted: set[str],
    found: dict[str, instantly.RemoteAccount],
    *,
    stop_at: str | None,
) -> None:
    for page in pages:
        for account in page.items:
            address = account.email.lower()
            # A cancelled row of a re-ordered address is history; its password is empty.
            if address in wanted and not account.is_cancelled:
                found[address] = account
        if len(found) == len(wanted):
            return
        if stop_at is not None and page.next_starting_after == stop_at:
            return  # the next page is the one the first pass started at


def _pages(
    client: instantly.InstantlyClient, after: str | None
) -> Iterator[ListPage[instantly.RemoteAccount]]:
    return client.account_pages(
        page_size=instantly.MAX_PAGE_SIZE, with_passwords=True, starting_after=after
    )


def _start_cursor(
    order: Order, mailboxes: Sequence[Mailbox], client: instantly.InstantlyClient
) -> str | None:
    """The poll's accounts cursor while the order still has mailboxes being set up (the poll
    keeps it at or before the oldest one Instantly provisions) and it was issued to this
    key; else None, the list's start."""
    if all(m.status == MailboxStatus.READY for m in mailboxes):
        return None
    row = PollCursor.objects.filter(workspace_id=order.workspace_id).first()
    if row is None or row.issued_to != client.limiter_bucket:
        return None
    return row.accounts_after or None


def _credential(
    mailbox: Mailbox, account: instantly.RemoteAccount | None
) -> Credential:
    return Credential(
        email=mailbox.email,
        first_name=mailbox.first_name,
        last_name=mailbox.last_name,
        provider=Provider(mailbox.item.provider).label,
        password=(account.password or "") if account is not None else "",
        listed=account is not None,
    )


def credentials_problem(exc: Exception) -> CredentialsProblem:
    """Instantly's refusal or silence in plain words; none of them hold a secret."""
    if isinstance(exc, instantly_keys.InstantlyKeyMissing):
        return CredentialsProblem(exc.problem, code="key")
    if isinstance(exc, instantly.RateLimited) or (
        isinstance(exc, instantly.DeadlineExceeded) and exc.retry_after is not None
    ):
        wait = max(1, math.ceil(exc.retry_after or 60))
        return CredentialsProblem(
            "Instantly is limiting requests for this workspace right now. Nothing was "
            f"revealed; try again in {wait} second{'s' if wait != 1 else ''}.",
            code="rate_limited",
        )
    if isinstance(exc, instantly.InstantlyTransientError):
        return CredentialsProblem(
            "Instantly did not answer in time. Nothing was revealed; try again in a moment.",
            code="no_answer",
        )
    if isinstance(exc, instantly_keys.KEY_PROBLEMS):
        return CredentialsProblem(
            "Instantly refused the workspace's API key (invalid, without the accounts "
            "scope, or without a plan). Nothing was revealed; a workspace admin can check "
            "the key in Settings.",
            code="key",
        )
    return CredentialsProblem(
        "Instantly's answer could not be read. Nothing was revealed; try again later.",
        code="unreadable",
    )
