"""The persona picker: who gets a mailbox on which domain (orders/persona_picker.py)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import cast

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orders import drafts
from orders.models import (
    MailboxStatus,
    Order,
    OrderStatus,
    Persona,
    RemoteAccount,
    Workspace,
)
from orders.persona_picker import name_key, persona_mailboxes
from orders.rules import DraftItem, DraftMailbox, prefix_problem
from tests.factories import WorkspaceFactory

pytestmark = pytest.mark.django_db

PEOPLE = [
    ("Ada", "Lovelace"),
    ("Grace", "Hopper"),
    ("Alan", "Turing"),
    ("Edsger", "Dijkstra"),
]


def library(workspace: Workspace, people: Sequence[tuple[str, str]]) -> None:
    Persona.objects.bulk_create(
        Persona(workspace=workspace, first_name=first, last_name=last)
        for first, last in people
    )


def people(mailboxes: Sequence[DraftMailbox]) -> list[tuple[str, str]]:
    return [(m.first_name, m.last_name) for m in mailboxes]


def draft_with(workspace: Workspace, user: object, items: Sequence[DraftItem]) -> Order:
    order = drafts.order_draft_create(workspace=workspace, by=user, order_type="dfy")  # type: ignore[arg-type]
    return drafts.order_draft_save(
        order=order,
        by=user,  # type: ignore[arg-type]
        version=order.version,
        items=list(items),
    )


def test_spreads_the_library_least_used_first(workspace: Workspace) -> None:
    library(workspace, PEOPLE)

    pick = persona_mailboxes(workspace=workspace, counts=[3, 3, 2])

    assert pick.problems == []
    # Library order is last name, first name: Dijkstra, Hopper, Lovelace, Turing.
    assert people(pick.per_domain[0]) == [
        ("Edsger", "Dijkstra"),
        ("Grace", "Hopper"),
        ("Ada", "Lovelace"),
    ]
    assert people(pick.per_domain[1]) == [
        ("Alan", "Turing"),
        ("Edsger", "Dijkstra"),
        ("Grace", "Hopper"),
    ]
    assert people(pick.per_domain[2]) == [("Ada", "Lovelace"), ("Alan", "Turing")]
    assert [m.email_prefix for m in pick.per_domain[0]] == [
        "edsger.dijkstra",
        "grace.hopper",
        "ada.lovelace",
    ]


def test_the_same_call_picks_the_same(workspace: Workspace) -> None:
    library(workspace, PEOPLE)

    first = persona_mailboxes(workspace=workspace, counts=[2, 3], pattern="flast")
    again = persona_mailboxes(workspace=workspace, counts=[2, 3], pattern="flast")

    assert first == again


def test_an_empty_library_fills_nothing_and_says_so(workspace: Workspace) -> None:
    pick = persona_mailboxes(
        workspace=workspace, counts=[2, 0], domains=["acme.com", "acme.io"]
    )

    assert pick.per_domain == [[], []]
    assert pick.problems == [
        "Domain row 1 (acme.com): the persona library filled 0 of 2 mailboxes; the "
        "library is empty: add personas on the Personas page."
    ]


def test_a_small_library_cannot_fill_a_microsoft_domain(workspace: Workspace) -> None:
    library(workspace, PEOPLE)

    pick = persona_mailboxes(workspace=workspace, counts=[50])

    assert len(pick.per_domain[0]) == 4
    assert pick.problems == [
        "Domain row 1: the persona library filled 4 of 50 mailboxes; it has 4 personas "
        "and each appears at most once per domain."
    ]


def test_the_cap_limits_domains_per_persona(workspace: Workspace) -> None:
    library(workspace, PEOPLE[:2])

    pick = persona_mailboxes(
        workspace=workspace, counts=[2, 1, 1], max_domains_per_persona=1
    )

    assert people(pick.per_domain[0]) == [("Grace", "Hopper"), ("Ada", "Lovelace")]
    assert pick.per_domain[1:] == [[], []]
    assert pick.problems == [
        "Domain row 2: the persona library filled 0 of 1 mailboxes; it has 2 personas "
        "and each appears at most once per domain, 2 already on 1 domain, the cap.",
        "Domain row 3: the persona library filled 0 of 1 mailboxes; it has 2 personas "
        "and each appears at most once per domain, 2 already on 1 domain, the cap.",
    ]


def test_another_workspaces_library_is_never_used(
    workspace: Workspace, other_workspace: Workspace
) -> None:
    library(other_workspace, PEOPLE)

    pick = persona_mailboxes(workspace=workspace, counts=[1])

    assert pick.per_domain == [[]]


def test_kept_mailboxes_count_as_people_on_the_domain(workspace: Workspace) -> None:
    library(workspace, PEOPLE[:2])
    kept = [DraftMailbox("ADA", "lovelace", "ada"), DraftMailbox("Zed", "Z", "grace")]

    pick = persona_mailboxes(
        workspace=workspace,
        counts=[2, 1],
        existing=[kept, []],
        max_domains_per_persona=1,
    )

    # Ada is already on row 1 (any case), so only Grace is added there, with the prefix
    # "grace" taken; Ada's one domain is row 1, so row 2 gets nobody.
    assert pick.per_domain[0] == [DraftMailbox("Grace", "Hopper", "grace.hopper")]
    assert pick.per_domain[1] == []
    assert "1 already on this domain" in pick.problems[0]


def test_colliding_prefixes_are_numbered(workspace: Workspace) -> None:
    library(workspace, [("Jane", "Roe"), ("Jane", "Doe")])

    pick = persona_mailboxes(workspace=workspace, counts=[2], pattern="first")

    assert [m.email_prefix for m in pick.per_domain[0]] == ["jane", "jane2"]


def test_live_mailboxes_and_the_remote_mirror_take_addresses(
    workspace: Workspace, operator: object
) -> None:
    library(workspace, PEOPLE)
    draft_with(
        workspace,
        operator,
        [
            DraftItem(
                "acme.com",
                mailboxes=(
                    DraftMailbox("Ada", "Lovelace", "ada.lovelace"),
                    DraftMailbox("Someone", "Else", "grace.hopper"),
                ),
            )
        ],
    )
    RemoteAccount.objects.create(
        workspace=workspace,
        remote_id="r1",
        email="edsger.dijkstra@acme.com",
        domain="acme.com",
        provider=1,
        first_name="Edsger",
        last_name="Dijkstra",
    )

    pick = persona_mailboxes(workspace=workspace, counts=[2], domains=["ACME.com"])

    # Ada and Edsger are on acme.com already; Grace's plain prefix is someone else's.
    assert pick.per_domain[0] == [
        DraftMailbox("Grace", "Hopper", "grace.hopper2"),
        DraftMailbox("Alan", "Turing", "alan.turing"),
    ]
    assert pick.problems == []


def test_cancelled_and_excluded_mailboxes_do_not_take_addresses(
    workspace: Workspace, operator: object
) -> None:
    library(workspace, PEOPLE[:1])
    ada = (DraftMailbox("Ada", "Lovelace", "ada.lovelace"),)
    cancelled = draft_with(workspace, operator, [DraftItem("acme.com", mailboxes=ada)])
    Order.objects.filter(pk=cancelled.pk).update(status=OrderStatus.CANCELLED)
    gone = draft_with(workspace, operator, [DraftItem("acme.com", mailboxes=ada)])
    for item in gone.items.all():
        item.mailboxes.update(status=MailboxStatus.CANCELLED)
    editing = draft_with(workspace, operator, [DraftItem("acme.com", mailboxes=ada)])
    RemoteAccount.objects.create(
        workspace=workspace,
        remote_id="r1",
        email="ada.lovelace@acme.com",
        domain="acme.com",
        provider=1,
        cancelled_remote_at=timezone.now(),
    )

    pick = persona_mailboxes(
        workspace=workspace,
        counts=[1],
        domains=["acme.com"],
        exclude_order=editing,
    )

    assert pick.per_domain == [[DraftMailbox("Ada", "Lovelace", "ada.lovelace")]]


def test_a_nameless_remote_account_takes_only_its_address(
    workspace: Workspace,
) -> None:
    library(workspace, PEOPLE[:1])
    RemoteAccount.objects.create(
        workspace=workspace,
        remote_id="r1",
        email="ada.lovelace@acme.com",
        domain="acme.com",
        provider=1,
    )

    pick = persona_mailboxes(workspace=workspace, counts=[1], domains=["acme.com"])

    assert pick.per_domain == [[DraftMailbox("Ada", "Lovelace", "ada.lovelace2")]]


def test_the_same_domain_twice_shares_its_people(workspace: Workspace) -> None:
    library(workspace, PEOPLE[:2])

    pick = persona_mailboxes(
        workspace=workspace, counts=[1, 2], domains=["acme.com", "acme.com"]
    )

    assert people(pick.per_domain[0] + pick.per_domain[1]) == [
        ("Grace", "Hopper"),
        ("Ada", "Lovelace"),
    ]
    assert (
        "Domain row 2 (acme.com): the persona library filled 1 of 2"
        in (pick.problems[0])
    )


def test_rows_without_a_domain_are_each_their_own(
    workspace: Workspace, operator: object
) -> None:
    library(workspace, PEOPLE[:1])
    # Another draft's empty row is not "the same domain".
    draft_with(
        workspace,
        operator,
        [DraftItem("", mailboxes=(DraftMailbox("Ada", "Lovelace", "ada.lovelace"),))],
    )

    pick = persona_mailboxes(workspace=workspace, counts=[1, 1], domains=["", " "])

    assert pick.per_domain == [
        [DraftMailbox("Ada", "Lovelace", "ada.lovelace")],
        [DraftMailbox("Ada", "Lovelace", "ada.lovelace")],
    ]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"pattern": "nope"}, "unknown prefix pattern"),
        ({"counts": [-1]}, "cannot be negative"),
        ({"max_domains_per_persona": 0}, "must be at least 1"),
        ({"domains": ["a.com", "b.com"]}, "domains must have one entry"),
        ({"existing": []}, "existing must have one entry"),
    ],
)
def test_programming_errors_raise(
    workspace: Workspace, kwargs: dict[str, object], message: str
) -> None:
    arguments: dict[str, object] = {"workspace": workspace, "counts": [1]} | kwargs
    with pytest.raises(ValueError, match=message):
        persona_mailboxes(**arguments)  # type: ignore[arg-type]


def test_names_that_break_the_rules_are_skipped(workspace: Workspace) -> None:
    # Only a direct database write could store one; the picker still never uses it.
    library(workspace, [("Bad\nName", "X"), ("Ada", "Lovelace")])

    pick = persona_mailboxes(workspace=workspace, counts=[2])

    assert people(pick.per_domain[0]) == [("Ada", "Lovelace")]


# --- properties ---------------------------------------------------------------------

first_names = st.text(alphabet="abcéAB -'", min_size=1, max_size=5).filter(
    lambda s: s.strip()
)


def _pair_key(pair: tuple[str, str]) -> tuple[str, str]:
    return name_key(*pair)


libraries = st.lists(
    st.tuples(first_names, first_names), max_size=8, unique_by=_pair_key
)
patterns = st.sampled_from(["first.last", "first", "last", "f.last", "firstl"])


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    people_=libraries,
    counts=st.lists(st.integers(0, 6), min_size=1, max_size=6),
    pattern=patterns,
    cap=st.one_of(st.none(), st.integers(1, 4)),
)
def test_every_pick_keeps_the_rules(
    people_: list[tuple[str, str]],
    counts: list[int],
    pattern: str,
    cap: int | None,
) -> None:
    workspace = cast(Workspace, WorkspaceFactory())
    library(workspace, people_)
    allowed = {name_key(first, last) for first, last in people_}

    pick = persona_mailboxes(
        workspace=workspace, counts=counts, pattern=pattern, max_domains_per_persona=cap
    )

    domains_of: Counter[tuple[str, str]] = Counter()
    for index, made in enumerate(pick.per_domain):
        keys = [name_key(m.first_name, m.last_name) for m in made]
        prefixes = [m.email_prefix for m in made]
        assert len(made) <= counts[index]
        assert set(keys) <= allowed
        assert len(set(keys)) == len(keys), "a persona twice on one domain"
        assert len(set(prefixes)) == len(prefixes), "a prefix twice on one domain"
        assert all(prefix_problem(p) is None for p in prefixes)
        domains_of.update(keys)
        short = len(made) < counts[index]
        assert short == any(f"Domain row {index + 1}:" in p for p in pick.problems)
    if cap is not None:
        assert all(uses <= cap for uses in domains_of.values())
    if cap is None and people_:
        # Least used first: nobody is on two more domains than anybody else.
        spread = [domains_of[key] for key in allowed]
        assert max(spread) - min(spread) <= 1


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    people_=libraries.filter(bool),
    taken=st.lists(st.sampled_from(["jane", "ab", "a.b", "a", "b"]), max_size=4),
    pattern=patterns,
)
def test_no_pick_reuses_a_live_address(
    people_: list[tuple[str, str]], taken: list[str], pattern: str
) -> None:
    workspace = cast(Workspace, WorkspaceFactory())
    library(workspace, people_)
    for number, prefix in enumerate(taken):
        RemoteAccount.objects.create(
            workspace=workspace,
            remote_id=f"r{number}",
            email=f"{prefix}@acme.com",
            domain="acme.com",
            provider=1,
        )

    pick = persona_mailboxes(
        workspace=workspace,
        counts=[len(people_)],
        pattern=pattern,
        domains=["acme.com"],
    )

    made = pick.per_domain[0]
    assert len(made) == len(people_)
    assert not {m.email_prefix for m in made} & set(taken)
