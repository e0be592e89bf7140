"""Cancellation to the letter (orders/cancellation.py): who may cancel and the words of every
refusal, what the preview selects and in which order, which other mailboxes keep a domain
alive, what stops being billed, the one cancel call and the audit rows it leaves, the
read-back of a lost answer, the fields the record writes, and the words of the order page."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, cast

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.db.models.signals import post_save
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from orders import billing, cancellation, cancellation_runs, instantly_keys
from orders.instantly import (
    InstantlyClient,
    InstantlyError,
    InstantlyTransientError,
    OutcomeUnknown,
)
from orders.models import (
    Mailbox,
    MailboxStatus,
    Membership,
    Order,
    OrderEvent,
    OrderItem,
    OrderStatus,
    RemoteAccount,
    Workspace,
)
from tests.factories import MembershipFactory, OrderFactory, UserFactory

pytestmark = pytest.mark.django_db

ROLE_MESSAGE = "Only a lead or a workspace admin can cancel mailboxes."
NOTHING_MESSAGE = "Choose at least one mailbox (or a whole domain) to cancel."
LONG_AGO = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


# --- orders to cancel from --------------------------------------------------------------------


def order_with(
    workspace: Workspace,
    items: Sequence[tuple[str, Sequence[str]]],
    *,
    status: str = OrderStatus.PLACED,
) -> Order:
    """An order written straight to the database (no bill): items and mailboxes get their
    positions in the order given."""
    order = cast(Order, OrderFactory(workspace=workspace, status=status))
    for item_position, (domain, prefixes) in enumerate(items):
        item = OrderItem.objects.create(
            order=order, domain=domain, position=item_position
        )
        for position, prefix in enumerate(prefixes):
            Mailbox.objects.create(item=item, email_prefix=prefix, position=position)
    return order


def box(order: Order, email: str) -> Mailbox:
    prefix, domain = email.split("@")
    return Mailbox.objects.get(
        item__order=order, item__domain__iexact=domain, email_prefix__iexact=prefix
    )


def ids(order: Order, *emails: str) -> list[int]:
    return [box(order, email).pk for email in emails]


@pytest.fixture
def order(workspace) -> Order:
    """Mixed case as typed: Acme-Mail.com with Jane and john, tryacme.org with jane."""
    return order_with(
        workspace, [("Acme-Mail.com", ["Jane", "john"]), ("tryacme.org", ["jane"])]
    )


def preview(order: Order, **selection: Any) -> cancellation.CancelPreview:
    return cancellation.cancellation_preview(order=order, **selection)


def remaining(order: Order, **selection: Any) -> dict[str, tuple[str, ...]]:
    return {d.domain: d.remaining for d in preview(order, **selection).domains}


# --- a fake Instantly -------------------------------------------------------------------------


@dataclass(frozen=True)
class Account:
    email: str
    is_cancelled: bool


class FakeInstantly:
    """Answers the cancel call with `answer` (or raises `refuse`) and the accounts list with
    `listed` (then raises InstantlyTransientError when `list_fails`); records every call."""

    def __init__(
        self,
        *,
        answer: Sequence[Account] = (),
        refuse: InstantlyError | None = None,
        listed: Sequence[Account] = (),
        list_fails: bool = False,
    ) -> None:
        self.answer = list(answer)
        self.refuse = refuse
        self.listed = list(listed)
        self.list_fails = list_fails
        self.cancels: list[list[str]] = []
        self.reads = 0

    def cancel_accounts(self, emails: Sequence[str]) -> list[Account]:
        self.cancels.append(list(emails))
        if self.refuse is not None:
            raise self.refuse
        return self.answer

    def iter_accounts(self) -> Iterator[Account]:
        self.reads += 1
        yield from self.listed
        if self.list_fails:
            raise InstantlyTransientError("list unreachable", status_code=503)

    @property
    def client(self) -> InstantlyClient:
        return cast(InstantlyClient, self)


def cancelled(*emails: str) -> list[Account]:
    return [Account(email, True) for email in emails]


def cancel(
    order: Order, by: User, fake: FakeInstantly, confirmation: str, **selection: Any
) -> cancellation.CancelOutcome:
    return cancellation_runs.order_cancel_mailboxes(
        order=order, by=by, confirmation=confirmation, client=fake.client, **selection
    )


def events(order: Order) -> list[tuple[str, User | None, str, str, dict[str, Any]]]:
    return [
        (e.kind, e.actor, e.from_status, e.to_status, e.detail)
        for e in OrderEvent.objects.filter(order=order).order_by("pk")
    ]


# --- who may cancel -------------------------------------------------------------------------


def test_an_operator_and_an_admin_of_another_workspace_are_refused_in_the_same_words(
    order, operator, other_workspace
):
    stranger = cast(
        Membership, MembershipFactory(workspace=other_workspace, role="admin")
    ).user
    for person in (operator, stranger):
        with pytest.raises(cancellation.CancelError) as refused:
            cancellation._check_role(order, person)
        assert str(refused.value) == ROLE_MESSAGE


def test_a_user_without_any_membership_is_refused(order):
    with pytest.raises(cancellation.CancelError) as refused:
        cancellation._check_role(order, cast(User, UserFactory()))
    assert str(refused.value) == ROLE_MESSAGE


def test_a_lead_and_a_workspace_admin_may_cancel(order, lead, ws_admin):
    for person in (lead, ws_admin):
        cancellation._check_role(order, person)  # raises CancelError when refused


def test_a_refused_person_leaves_no_trace_and_sends_nothing(order, operator):
    fake = FakeInstantly(answer=cancelled("jane@tryacme.org"))
    with pytest.raises(cancellation.CancelError) as refused:
        cancel(order, operator, fake, "cancel 1 mailbox", domains=["tryacme.org"])
    assert str(refused.value) == ROLE_MESSAGE
    assert fake.cancels == []
    assert events(order) == []


# --- the preview: what is selected ----------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "words"),
    [
        (OrderStatus.DRAFT, "draft"),
        (OrderStatus.PENDING_APPROVAL, "waiting for approval"),
        (OrderStatus.AWAITING_CHECKOUT, "awaiting payment at instantly"),
        (OrderStatus.FAILED, "refused by instantly"),
        (OrderStatus.CANCELLED, "cancelled"),
    ],
)
def test_an_order_without_mailboxes_to_cancel_says_its_status_in_lower_case(
    workspace, status, words
):
    order = order_with(workspace, [("acme-mail.com", ["jane"])], status=status)
    with pytest.raises(cancellation.CancelError) as refused:
        preview(order, domains=["acme-mail.com"])
    assert str(refused.value) == (
        f"This order is {words}; only placed orders have mailboxes to cancel."
    )


@pytest.mark.parametrize(
    "status",
    [
        OrderStatus.PLACED,
        OrderStatus.PROVISIONING,
        OrderStatus.READY,
        OrderStatus.PARTIALLY_CANCELLED,
    ],
)
def test_every_placed_status_has_mailboxes_to_cancel(workspace, status):
    order = order_with(workspace, [("acme-mail.com", ["jane"])], status=status)
    assert preview(order, domains=["acme-mail.com"]).emails == ["jane@acme-mail.com"]


def test_choosing_nothing_cancellable_says_so(order, workspace):
    elsewhere = order_with(workspace, [("tryacme.org", ["jane"])])
    Mailbox.objects.filter(pk=box(order, "jane@tryacme.org").pk).update(
        status=MailboxStatus.CANCELLED
    )
    for selection in (
        {},
        {"domains": ["", "   "]},
        {"domains": ["globex-mail.com"]},
        {"mailbox_ids": ids(elsewhere, "jane@tryacme.org")},  # another order's mailbox
        {"mailbox_ids": ids(order, "jane@tryacme.org")},  # already cancelled
        {"domains": ["tryacme.org"]},  # every one of it already cancelled
    ):
        with pytest.raises(cancellation.CancelError) as refused:
            preview(order, **selection)
        assert str(refused.value) == NOTHING_MESSAGE


def test_domains_are_trimmed_and_lower_cased_and_blanks_ignored(order):
    chosen = preview(order, domains=["  ACME-mail.COM ", "", "   "])
    assert chosen.emails == ["jane@acme-mail.com", "john@acme-mail.com"]
    assert [(d.domain, d.selected) for d in chosen.domains] == [
        ("acme-mail.com", ("jane@acme-mail.com", "john@acme-mail.com"))
    ]


def test_ids_and_domains_together_select_both_and_nothing_else(order, workspace):
    elsewhere = order_with(workspace, [("Acme-Mail.com", ["amy"])])
    chosen = preview(
        order,
        mailbox_ids=ids(order, "jane@tryacme.org"),
        domains=["acme-mail.com"],
    )
    assert chosen.emails == [
        "jane@acme-mail.com",
        "john@acme-mail.com",
        "jane@tryacme.org",
    ]
    assert [m.pk for m in chosen.mailboxes] == ids(
        order, "jane@acme-mail.com", "john@acme-mail.com", "jane@tryacme.org"
    )
    # The other order's mailbox on the same domain is not chosen; it keeps the domain alive.
    assert box(elsewhere, "amy@acme-mail.com") not in chosen.mailboxes
    only_ids = preview(order, mailbox_ids=ids(order, "john@acme-mail.com"))
    assert only_ids.emails == ["john@acme-mail.com"]


def test_an_already_cancelled_mailbox_is_left_out_however_it_is_chosen(order):
    john = box(order, "john@acme-mail.com")
    Mailbox.objects.filter(pk=john.pk).update(status=MailboxStatus.CANCELLED)
    chosen = preview(order, mailbox_ids=[john.pk], domains=["acme-mail.com"])
    assert chosen.emails == ["jane@acme-mail.com"]
    assert chosen.phrase == "cancel 1 mailbox"
    assert remaining(order, domains=["acme-mail.com"]) == {"acme-mail.com": ()}


def test_mailboxes_come_in_item_position_then_mailbox_position_order(workspace):
    order = cast(Order, OrderFactory(workspace=workspace, status=OrderStatus.PLACED))
    later = OrderItem.objects.create(order=order, domain="zeta-mail.com", position=2)
    sooner = OrderItem.objects.create(order=order, domain="alpha-mail.com", position=1)
    for item in (later, sooner):
        Mailbox.objects.create(item=item, email_prefix="second", position=5)
        Mailbox.objects.create(item=item, email_prefix="first", position=3)
    chosen = preview(order, domains=["zeta-mail.com", "alpha-mail.com"])
    assert chosen.emails == [
        "first@alpha-mail.com",
        "second@alpha-mail.com",
        "first@zeta-mail.com",
        "second@zeta-mail.com",
    ]
    assert [d.domain for d in chosen.domains] == ["alpha-mail.com", "zeta-mail.com"]


def test_mailboxes_at_the_same_positions_come_in_the_order_they_were_written(workspace):
    order = cast(Order, OrderFactory(workspace=workspace, status=OrderStatus.PLACED))
    first_item = OrderItem.objects.create(order=order, domain="acme-mail.com")
    second_item = OrderItem.objects.create(order=order, domain="tryacme.org")
    Mailbox.objects.create(item=second_item, email_prefix="older")
    Mailbox.objects.create(item=first_item, email_prefix="newer")
    chosen = preview(order, domains=["acme-mail.com", "tryacme.org"])
    assert chosen.emails == ["older@tryacme.org", "newer@acme-mail.com"]


def test_the_preview_reads_a_fixed_number_of_queries_however_many_mailboxes(
    order, workspace
):
    def queries(**selection: Any) -> int:
        with CaptureQueriesContext(connection) as captured:
            preview(order, **selection)
        return len(captured.captured_queries)

    one = queries(domains=["tryacme.org"])
    Mailbox.objects.create(
        item=box(order, "jane@acme-mail.com").item, email_prefix="ann"
    )
    order_with(workspace, [("acme-mail.com", ["amy", "bob", "cy"])])
    assert queries(domains=["acme-mail.com"]) == one


def test_the_phrase_count_and_emails_of_a_selection(order):
    one = preview(order, domains=["tryacme.org"])
    two = preview(order, domains=["acme-mail.com"])
    none = cancellation.CancelPreview(order=order, mailboxes=(), domains=())
    assert (one.count, one.phrase) == (1, "cancel 1 mailbox")
    assert (two.count, two.phrase) == (2, "cancel 2 mailboxes")
    assert (none.count, none.phrase) == (0, "cancel 0 mailboxes")
    assert (one.order, two.order) == (order, order)
    assert [m.email for m in two.mailboxes] == [
        "Jane@Acme-Mail.com",
        "john@Acme-Mail.com",
    ]
    assert two.emails == ["jane@acme-mail.com", "john@acme-mail.com"]
    assert none.emails == []


def test_the_warning_is_the_unibox_warning_word_for_word(order):
    assert cancellation.UNIBOX_WARNING == (
        "Instantly permanently deletes every Unibox email and conversation of a cancelled "
        "mailbox. This cannot be undone."
    )
    assert (
        preview(order, domains=["tryacme.org"]).warning == cancellation.UNIBOX_WARNING
    )


def test_a_domain_is_cancelled_only_without_remaining_mailboxes():
    assert cancellation.DomainConsequence("a.com", (), ()).stops is None
    assert cancellation.DomainConsequence("a.com", ("x@a.com",), ()).cancels_domain
    assert not cancellation.DomainConsequence(
        "a.com", ("x@a.com",), ("y@a.com",)
    ).cancels_domain


def test_the_consequences_per_domain_of_a_partial_selection(order):
    chosen = preview(
        order, mailbox_ids=ids(order, "jane@tryacme.org", "Jane@acme-mail.com")
    )
    assert [(d.domain, d.selected, d.remaining) for d in chosen.domains] == [
        ("acme-mail.com", ("jane@acme-mail.com",), ("john@acme-mail.com",)),
        ("tryacme.org", ("jane@tryacme.org",), ()),
    ]
    assert [d.cancels_domain for d in chosen.domains] == [False, True]
    assert chosen.domains_cancelled == ["tryacme.org"]
    whole = preview(order, domains=["acme-mail.com", "tryacme.org"])
    assert whole.domains_cancelled == ["acme-mail.com", "tryacme.org"]


# --- the preview: which other mailboxes keep a domain alive -----------------------------------


@pytest.mark.parametrize(
    ("status", "counts"),
    [
        (OrderStatus.PLACED, True),
        (OrderStatus.PROVISIONING, True),
        (OrderStatus.READY, True),
        (OrderStatus.PARTIALLY_CANCELLED, True),
        (OrderStatus.DRAFT, False),
        (OrderStatus.PENDING_APPROVAL, False),
        (OrderStatus.APPROVED, False),
        (OrderStatus.FAILED, False),
        (OrderStatus.CANCELLED, False),
    ],
)
def test_another_order_of_the_workspace_keeps_the_domain_only_once_placed(
    order, workspace, status, counts
):
    order_with(workspace, [("ACME-mail.com", ["Amy"])], status=status)
    left = remaining(order, domains=["acme-mail.com"])["acme-mail.com"]
    assert left == (("amy@acme-mail.com",) if counts else ())


def test_cancelled_mailboxes_other_workspaces_and_other_domains_do_not_keep_a_domain(
    order, workspace, other_workspace
):
    same = order_with(workspace, [("acme-mail.com", ["amy", "bob"])])
    Mailbox.objects.filter(pk=box(same, "bob@acme-mail.com").pk).update(
        status=MailboxStatus.CANCELLED
    )
    order_with(other_workspace, [("acme-mail.com", ["carl"])])
    order_with(workspace, [("acme-mail.org", ["dora"]), ("tryacme.org", ["eve"])])
    assert remaining(order, domains=["acme-mail.com"]) == {
        "acme-mail.com": ("amy@acme-mail.com",)
    }


def remote_account(
    workspace: Workspace, email: str, domain: str, **fields: Any
) -> None:
    RemoteAccount.objects.create(
        workspace=workspace,
        remote_id=f"{workspace.slug}-{email}",
        email=email,
        domain=domain,
        provider=1,
        **fields,
    )


def test_instantlys_live_mailboxes_of_the_workspace_keep_a_domain_sorted_by_address(
    order, workspace, other_workspace
):
    remote_account(workspace, "zed@acme-mail.com", "acme-mail.com")
    remote_account(
        workspace, "jane@acme-mail.com", "acme-mail.com"
    )  # one being cancelled
    remote_account(
        workspace, "old@acme-mail.com", "acme-mail.com", cancelled_remote_at=LONG_AGO
    )
    remote_account(other_workspace, "carl@acme-mail.com", "acme-mail.com")
    remote_account(workspace, "dora@tryacme.org", "tryacme.org")
    order_with(workspace, [("acme-mail.com", ["amy"])])
    assert remaining(order, mailbox_ids=ids(order, "jane@acme-mail.com")) == {
        "acme-mail.com": (
            "amy@acme-mail.com",
            "john@acme-mail.com",
            "zed@acme-mail.com",
        )
    }


def test_instantlys_mailboxes_are_matched_on_the_lower_case_domain_exactly(
    order, workspace
):
    # The mirror's domain is compared as stored (Instantly lists domains in lower case):
    # a row stored in another case does not match the lower-cased selection.
    remote_account(workspace, "zed@tryacme.org", "TryAcme.org")
    assert remaining(order, domains=["tryacme.org"]) == {"tryacme.org": ()}
    remote_account(workspace, "Amy@tryacme.org", "tryacme.org")
    # Its address is shown as Instantly listed it.
    assert remaining(order, domains=["tryacme.org"]) == {
        "tryacme.org": ("Amy@tryacme.org",)
    }


# --- the preview: what stops being billed -------------------------------------------------


def test_the_billing_stops_of_a_partial_selection_from_the_orders_bill(cancellable):
    # Google: each cancelled mailbox stops $5.00 a month; the domain's $15.00 a year stops
    # only with its last mailbox (tryacme.org here, not acme-mail.com).
    chosen = preview(
        cancellable,
        mailbox_ids=ids(cancellable, "jane@acme-mail.com", "jane@tryacme.org"),
    )
    stops = [d.stops for d in chosen.domains]
    assert stops == [
        billing.BillingStop("acme-mail.com", Decimal("5.00"), Decimal("0.00"), ""),
        billing.BillingStop("tryacme.org", Decimal("5.00"), Decimal("15.00"), ""),
    ]
    assert str(chosen.monthly_stops) == "10.00"
    assert str(chosen.yearly_stops) == "15.00"


def test_the_billing_stops_of_the_whole_order(cancellable):
    chosen = preview(cancellable, domains=["acme-mail.com", "tryacme.org"])
    assert [
        (str(d.stops.per_month), str(d.stops.domain_per_year)) for d in chosen.domains
    ] == [
        ("10.00", "15.00"),
        ("5.00", "15.00"),
    ]
    assert str(chosen.monthly_stops) == "15.00"
    assert str(chosen.yearly_stops) == "30.00"


def test_no_domain_ending_stops_nothing_a_year(cancellable):
    chosen = preview(cancellable, mailbox_ids=ids(cancellable, "john@acme-mail.com"))
    assert str(chosen.monthly_stops) == "5.00"
    assert str(chosen.yearly_stops) == "0.00"


def test_an_order_without_a_bill_stops_nothing(order):
    chosen = preview(order, domains=["tryacme.org"])
    (consequence,) = chosen.domains
    assert consequence.stops == billing.BillingStop(
        "tryacme.org",
        Decimal("0.00"),
        Decimal("0.00"),
        "This order's bill does not list the domain.",
    )
    assert (str(chosen.monthly_stops), str(chosen.yearly_stops)) == ("0.00", "0.00")


def test_consequences_without_billing_stops_are_left_out_of_the_sums(order):
    stop = billing.BillingStop("b.com", Decimal("5.00"), Decimal("15.00"), "")
    chosen = cancellation.CancelPreview(
        order=order,
        mailboxes=(),
        domains=(
            cancellation.DomainConsequence("a.com", ("x@a.com",), ()),
            cancellation.DomainConsequence("b.com", ("x@b.com",), (), stops=stop),
        ),
    )
    assert (str(chosen.monthly_stops), str(chosen.yearly_stops)) == ("5.00", "15.00")
    empty = cancellation.CancelPreview(order=order, mailboxes=(), domains=())
    assert (str(empty.monthly_stops), str(empty.yearly_stops)) == ("0.00", "0.00")


# --- confirming and calling Instantly once ----------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    ["cancel 2 mailboxes", "CANCEL 2 MAILBOXES", "  Cancel   2 \t mailboxes  "],
)
def test_the_confirmation_is_read_whatever_its_case_and_spaces(order, lead, typed):
    fake = FakeInstantly(answer=cancelled("jane@acme-mail.com", "john@acme-mail.com"))
    outcome = cancel(order, lead, fake, typed, domains=["acme-mail.com"])
    assert outcome.cancelled == 2
    assert fake.cancels == [["jane@acme-mail.com", "john@acme-mail.com"]]


@pytest.mark.parametrize(
    "typed",
    ["cancel 1 mailbox", "cancel 2 mailbox", "cancel2 mailboxes", "yes", ""],
)
def test_a_wrong_confirmation_says_what_to_type_and_does_nothing(order, lead, typed):
    fake = FakeInstantly(answer=cancelled("jane@acme-mail.com", "john@acme-mail.com"))
    with pytest.raises(cancellation.CancelError) as refused:
        cancel(order, lead, fake, typed, domains=["acme-mail.com"])
    assert str(refused.value) == 'Type "cancel 2 mailboxes" to confirm.'
    assert fake.cancels == []
    assert events(order) == []
    assert not Mailbox.objects.filter(status=MailboxStatus.CANCELLED).exists()


def test_a_cancel_records_the_request_calls_once_and_records_each_result(
    order, workspace, lead
):
    order_with(workspace, [("acme-mail.com", ["amy"])])  # keeps acme-mail.com alive
    fake = FakeInstantly(
        answer=[
            Account("JANE@ACME-MAIL.COM", True),
            Account("jane@tryacme.org", False),  # listed, not cancelled
            Account("someone@else.com", True),  # not asked for
        ]
    )
    before = timezone.now()

    outcome = cancel(
        order,
        lead,
        fake,
        "cancel 3 mailboxes",
        mailbox_ids=ids(order, "john@acme-mail.com"),
        domains=["tryacme.org", "acme-mail.com"],
    )

    asked = ["jane@acme-mail.com", "john@acme-mail.com", "jane@tryacme.org"]
    assert fake.cancels == [asked]
    assert fake.reads == 0
    results = {
        "jane@acme-mail.com": "cancelled",
        "john@acme-mail.com": "not_cancelled",
        "jane@tryacme.org": "not_cancelled",
    }
    assert events(order) == [
        (
            "cancel_request",
            lead,
            "placed",
            "placed",
            {"emails": asked, "domains_cancelled": ["tryacme.org"]},
        ),
        (
            "mailboxes_cancelled",
            lead,
            "placed",
            "partially_cancelled",
            {"results": results, "domains_cancelled": []},
        ),
    ]
    assert outcome.results == list(results.items())
    assert outcome.cancelled == 1
    assert outcome.order.pk == order.pk
    assert outcome.order.status == OrderStatus.PARTIALLY_CANCELLED
    order.refresh_from_db()
    assert order.status == OrderStatus.PARTIALLY_CANCELLED
    assert order.finished_at is None
    jane = box(order, "jane@acme-mail.com")
    assert jane.status == MailboxStatus.CANCELLED
    assert before <= jane.cancelled_at <= timezone.now()
    for email in ("john@acme-mail.com", "jane@tryacme.org"):
        untouched = box(order, email)
        assert (untouched.status, untouched.cancelled_at) == (
            MailboxStatus.REQUESTED,
            None,
        )


def test_cancelling_every_live_mailbox_cancels_the_order_at_the_same_instant(
    workspace, lead
):
    order = order_with(
        workspace,
        [("acme-mail.com", ["jane", "john"]), ("tryacme.org", ["jane"])],
        status=OrderStatus.PARTIALLY_CANCELLED,
    )
    Mailbox.objects.filter(pk=box(order, "john@acme-mail.com").pk).update(
        status=MailboxStatus.CANCELLED, cancelled_at=LONG_AGO
    )
    order_with(
        workspace, [("globex-mail.com", ["amy"])]
    )  # another order's live mailbox
    fake = FakeInstantly(answer=cancelled("jane@acme-mail.com", "jane@tryacme.org"))

    outcome = cancel(
        order,
        lead,
        fake,
        "cancel 2 mailboxes",
        domains=["acme-mail.com", "tryacme.org"],
    )

    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert outcome.order.status == OrderStatus.CANCELLED
    assert order.finished_at is not None
    assert box(order, "jane@acme-mail.com").cancelled_at == order.finished_at
    assert box(order, "jane@tryacme.org").cancelled_at == order.finished_at
    assert box(order, "john@acme-mail.com").cancelled_at == LONG_AGO
    assert events(order) == [
        (
            "cancel_request",
            lead,
            "partially_cancelled",
            "partially_cancelled",
            {
                "emails": ["jane@acme-mail.com", "jane@tryacme.org"],
                "domains_cancelled": ["acme-mail.com", "tryacme.org"],
            },
        ),
        (
            "mailboxes_cancelled",
            lead,
            "partially_cancelled",
            "cancelled",
            {
                "results": {
                    "jane@acme-mail.com": "cancelled",
                    "jane@tryacme.org": "cancelled",
                },
                "domains_cancelled": ["acme-mail.com", "tryacme.org"],
            },
        ),
    ]
    assert outcome.cancelled == 2


def test_a_domain_counts_as_cancelled_only_when_every_chosen_address_was(
    workspace, lead
):
    order = order_with(
        workspace,
        [
            ("acme-mail.com", ["jane", "john"]),
            ("tryacme.org", ["jane"]),
            ("globex-mail.com", ["amy", "bob"]),
        ],
    )
    fake = FakeInstantly(
        answer=cancelled(
            "jane@acme-mail.com", "john@acme-mail.com", "amy@globex-mail.com"
        )
    )

    cancel(
        order,
        lead,
        fake,
        "cancel 4 mailboxes",
        domains=["acme-mail.com", "tryacme.org"],
        mailbox_ids=ids(order, "amy@globex-mail.com"),
    )

    request, record = events(order)
    assert request[4]["domains_cancelled"] == ["acme-mail.com", "tryacme.org"]
    # tryacme.org's one address was not cancelled; globex-mail.com keeps bob.
    assert record[4]["domains_cancelled"] == ["acme-mail.com"]
    assert record[4]["results"] == {
        "jane@acme-mail.com": "cancelled",
        "john@acme-mail.com": "cancelled",
        "jane@tryacme.org": "not_cancelled",
        "amy@globex-mail.com": "cancelled",
    }


def test_nothing_cancelled_leaves_the_order_as_it_was(order, lead):
    fake = FakeInstantly(answer=[])

    outcome = cancel(order, lead, fake, "cancel 1 mailbox", domains=["tryacme.org"])

    order.refresh_from_db()
    assert order.status == OrderStatus.PLACED
    assert order.finished_at is None
    assert outcome.results == [("jane@tryacme.org", "not_cancelled")]
    assert outcome.cancelled == 0
    assert events(order)[-1] == (
        "mailboxes_cancelled",
        lead,
        "placed",
        "placed",
        {"results": {"jane@tryacme.org": "not_cancelled"}, "domains_cancelled": []},
    )
    assert box(order, "jane@tryacme.org").status == MailboxStatus.REQUESTED


def test_a_refused_cancel_is_recorded_and_said_and_changes_nothing(order, lead):
    refusal = InstantlyError("Account not found", status_code=404)
    fake = FakeInstantly(refuse=refusal, listed=cancelled("jane@tryacme.org"))

    with pytest.raises(cancellation.CancelError) as refused:
        cancel(order, lead, fake, "cancel 1 mailbox", domains=["tryacme.org"])

    assert str(refused.value) == "Instantly did not cancel anything: Account not found"
    assert refused.value.__cause__ is refusal
    assert fake.cancels == [["jane@tryacme.org"]]
    assert fake.reads == 0
    assert events(order) == [
        (
            "cancel_request",
            lead,
            "placed",
            "placed",
            {"emails": ["jane@tryacme.org"], "domains_cancelled": ["tryacme.org"]},
        ),
        (
            "cancel_failed",
            lead,
            "placed",
            "placed",
            {"message": "Account not found", "http_status": 404},
        ),
    ]
    order.refresh_from_db()
    assert order.status == OrderStatus.PLACED
    assert box(order, "jane@tryacme.org").status == MailboxStatus.REQUESTED


def test_a_lost_answer_is_read_back_once_and_a_live_row_wins(order, lead, caplog):
    fake = FakeInstantly(
        refuse=OutcomeUnknown("timed out after sending"),
        listed=[
            Account("Jane@Acme-Mail.com", True),
            Account("john@acme-mail.com", True),  # cancelled earlier, then reused:
            Account("JOHN@acme-mail.com", False),  # the live row wins
            Account("other@acme-mail.com", True),  # not asked for
            # jane@tryacme.org is not listed at all
        ],
    )

    with caplog.at_level(logging.WARNING, logger="orders.cancellation"):
        outcome = cancel(
            order,
            lead,
            fake,
            "cancel 3 mailboxes",
            domains=["acme-mail.com", "tryacme.org"],
        )

    assert fake.cancels == [
        ["jane@acme-mail.com", "john@acme-mail.com", "jane@tryacme.org"]
    ]
    assert fake.reads == 1
    assert outcome.results == [
        ("jane@acme-mail.com", "cancelled"),
        ("john@acme-mail.com", "not_cancelled"),
        ("jane@tryacme.org", "not_cancelled"),
    ]
    assert [(r.name, r.levelname, r.getMessage()) for r in caplog.records] == [
        (
            "orders.cancellation",
            "WARNING",
            f"order {order.pk}: cancellation outcome unknown: timed out after sending",
        )
    ]
    assert [e[0] for e in events(order)] == ["cancel_request", "mailboxes_cancelled"]
    order.refresh_from_db()
    assert order.status == OrderStatus.PARTIALLY_CANCELLED


def test_a_lost_answer_that_cannot_be_read_back_is_unknown_for_every_address(
    order, lead
):
    fake = FakeInstantly(
        refuse=OutcomeUnknown("timed out after sending"),
        listed=cancelled("jane@acme-mail.com"),
        list_fails=True,  # after listing jane as cancelled
    )

    outcome = cancel(order, lead, fake, "cancel 2 mailboxes", domains=["acme-mail.com"])

    unknown = {"jane@acme-mail.com": "unknown", "john@acme-mail.com": "unknown"}
    assert outcome.results == list(unknown.items())
    assert outcome.cancelled == 0
    assert events(order)[-1] == (
        "mailboxes_cancelled",
        lead,
        "placed",
        "placed",
        {"results": unknown, "domains_cancelled": []},
    )
    order.refresh_from_db()
    assert order.status == OrderStatus.PLACED
    assert not Mailbox.objects.filter(status=MailboxStatus.CANCELLED).exists()


def test_without_a_client_the_workspaces_instantly_is_called(cancellable, lead, remote):
    outcome = cancellation_runs.order_cancel_mailboxes(
        order=cancellable,
        by=lead,
        domains=["tryacme.org"],
        confirmation="cancel 1 mailbox",
    )
    assert outcome.results == [("jane@tryacme.org", "cancelled")]
    assert remote.requests("accounts/cancel") == 1
    assert events(cancellable)[-1] == (
        "mailboxes_cancelled",
        lead,
        "placed",
        "partially_cancelled",
        {
            "results": {"jane@tryacme.org": "cancelled"},
            "domains_cancelled": ["tryacme.org"],
        },
    )


def test_without_a_client_a_refusal_of_the_workspaces_instantly_is_recorded(
    order, lead, monkeypatch
):
    fake = FakeInstantly(refuse=InstantlyError("Plan expired", status_code=402))
    built: list[tuple[Workspace, str]] = []

    @contextmanager
    def client_for(*, workspace: Workspace) -> Iterator[InstantlyClient]:
        built.append((workspace, "open"))
        yield fake.client
        built.append((workspace, "closed"))

    monkeypatch.setattr(instantly_keys, "instantly_client_for", client_for)

    with pytest.raises(cancellation.CancelError) as refused:
        cancellation_runs.order_cancel_mailboxes(
            order=order,
            by=lead,
            domains=["tryacme.org"],
            confirmation="cancel 1 mailbox",
        )

    assert str(refused.value) == "Instantly did not cancel anything: Plan expired"
    # The workspace's own client, built once; an exception passes through its `with`.
    assert built == [(order.workspace, "open")]
    assert fake.cancels == [["jane@tryacme.org"]]
    assert events(order)[-1] == (
        "cancel_failed",
        lead,
        "placed",
        "placed",
        {"message": "Plan expired", "http_status": 402},
    )


# --- the record: only its own fields ------------------------------------------------------


@pytest.fixture
def concurrent_writer() -> Iterator[None]:
    """Another writer bumps the order's reconcile_checks after the record locked and read the
    order, before it saves it (when the mailboxes_cancelled row is written)."""

    def write(sender: type[OrderEvent], instance: OrderEvent, **kwargs: Any) -> None:
        if instance.kind == "mailboxes_cancelled":
            Order.objects.filter(pk=instance.order_id).update(reconcile_checks=7)

    post_save.connect(write, sender=OrderEvent, dispatch_uid="concurrent-writer")
    yield
    post_save.disconnect(sender=OrderEvent, dispatch_uid="concurrent-writer")


@pytest.mark.parametrize(
    ("answer", "status"),
    [
        ((), OrderStatus.PLACED),
        (("jane@acme-mail.com",), OrderStatus.PARTIALLY_CANCELLED),
        (
            ("jane@acme-mail.com", "john@acme-mail.com", "jane@tryacme.org"),
            OrderStatus.CANCELLED,
        ),
    ],
)
def test_the_record_writes_only_its_own_fields(
    order, lead, concurrent_writer, answer, status
):
    Order.objects.filter(pk=order.pk).update(updated_at=LONG_AGO)
    fake = FakeInstantly(answer=cancelled(*answer))

    cancel(
        order,
        lead,
        fake,
        "cancel 3 mailboxes",
        domains=["acme-mail.com", "tryacme.org"],
    )

    order.refresh_from_db()
    assert order.reconcile_checks == 7
    assert order.status == status
    assert order.updated_at > LONG_AGO


def test_the_outcome_follows_the_selection_and_a_missing_result_is_unknown(order, lead):
    chosen = preview(order, domains=["acme-mail.com", "tryacme.org"])

    outcome = cancellation.cancel_record(
        order,
        lead,
        chosen,
        {"jane@tryacme.org": "cancelled", "jane@acme-mail.com": "cancelled"},
    )

    assert outcome.results == [
        ("jane@acme-mail.com", "cancelled"),
        ("john@acme-mail.com", "unknown"),
        ("jane@tryacme.org", "cancelled"),
    ]
    assert outcome.cancelled == 2
    assert outcome.order.status == OrderStatus.PARTIALLY_CANCELLED
    assert box(order, "john@acme-mail.com").status == MailboxStatus.REQUESTED
    assert events(order)[-1][4] == {
        "results": {"jane@tryacme.org": "cancelled", "jane@acme-mail.com": "cancelled"},
        "domains_cancelled": ["tryacme.org"],
    }


def test_an_outcome_counts_only_cancelled_results(order):
    outcome = cancellation.CancelOutcome(
        order=order,
        results=[
            ("a@x.io", "cancelled"),
            ("b@x.io", "not_cancelled"),
            ("c@x.io", "unknown"),
            ("d@x.io", "cancelled"),
        ],
    )
    assert outcome.cancelled == 2
    assert cancellation.CancelOutcome(order=order).results == []
    assert cancellation.CancelOutcome(order=order).cancelled == 0


# --- the words of the order page ----------------------------------------------------------


def test_the_result_words_word_for_word():
    assert (
        cancellation.CANCELLED,
        cancellation.NOT_CANCELLED,
        cancellation.UNKNOWN,
    ) == (
        "cancelled",
        "not_cancelled",
        "unknown",
    )
    assert cancellation.RESULT_WORDS == {
        "cancelled": "Cancelled",
        "not_cancelled": "Not cancelled (Instantly did not list it)",
        "unknown": "Unknown: Instantly's answer was lost; the next poll will tell",
    }


def record(order: Order, kind: str, **detail: object) -> None:
    OrderEvent.objects.create(order=order, kind=kind, detail=detail)


def test_the_last_cancellation_in_words(order, workspace):
    assert cancellation.last_cancellation(order) == []
    record(order, "mailboxes_cancelled", results={"z@x.io": "cancelled"})
    # Keys of one length in order, so the stored JSON keeps them in order on every database.
    record(
        order,
        "mailboxes_cancelled",
        results={
            "a@x.io": "cancelled",
            "b@x.io": "not_cancelled",
            "c@x.io": "unknown",
            "d@x.io": "held",
            "e@x.io": 7,
        },
    )
    record(order, "cancel_request", results={"y@x.io": "cancelled"})
    record(
        order_with(workspace, [("x.io", ["q"])]),
        "mailboxes_cancelled",
        results={"q@x.io": "cancelled"},
    )

    assert cancellation.last_cancellation(order) == [
        ("a@x.io", "Cancelled"),
        ("b@x.io", "Not cancelled (Instantly did not list it)"),
        ("c@x.io", "Unknown: Instantly's answer was lost; the next poll will tell"),
        ("d@x.io", "held"),
        ("e@x.io", "7"),
    ]


def test_a_cancellation_without_results_has_no_words(order):
    record(order, "mailboxes_cancelled", results={"a@x.io": "cancelled"})
    record(order, "mailboxes_cancelled")
    assert cancellation.last_cancellation(order) == []
