"""Order shapes: read off orders, stored as JSON, and turned into drafts with fresh domains."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from orders import instantly_keys, order_shapes
from orders.instantly import InstantlyClient
from orders.models import (
    CheckStatus,
    DomainCheck,
    InstantlyKey,
    OrderStatus,
    RemoteDomain,
)
from orders.order_shapes import (
    DomainShape,
    OrderShape,
    ShapeError,
    draft_from_shape,
    seeds_read,
    shape_from_json,
    shape_of_order,
    shape_problems,
    shape_to_json,
)
from orders.rules import PROVIDER_RULES, DraftMailbox
from sandbox.models import PreWarmedDomain, TakenDomain
from sandbox.switches import switches_set
from tests.integration.support import JANE, JOHN, draft_order
from tests.task_capture import recorded

pytestmark = pytest.mark.django_db

ROE = DraftMailbox("Jane", "Roe", "jane")
DOE = DraftMailbox("John", "Doe", "john")
TWO_GOOGLE = OrderShape(
    "dfy",
    (
        DomainShape(1, (ROE, DOE), "acme.com"),
        DomainShape(2, (ROE,), "#1"),
    ),
)


# --- shape_of_order ------------------------------------------------------------------------


def test_shape_of_a_draft_drops_the_domains_and_keeps_the_rest(workspace, operator):
    order = draft_order(
        workspace,
        operator,
        items=[("acme-mail.com", 1, [JANE, JOHN]), ("tryacme.org", 2, [JANE])],
    )

    shape = shape_of_order(order)

    assert shape == OrderShape(
        "dfy",
        (
            DomainShape(1, (DraftMailbox(*JANE), DraftMailbox(*JOHN))),
            DomainShape(2, (DraftMailbox(*JANE),)),
        ),
    )


def test_forwarding_to_a_domain_of_the_same_order_becomes_its_place(
    workspace, operator
):
    from orders import drafts
    from orders.rules import DraftItem

    order = draft_order(workspace, operator, items=[])
    drafts.order_draft_save(
        order=order,
        by=operator,
        version=order.version,
        items=[
            DraftItem("acme-mail.com", 1, "acme.com", (ROE,)),
            DraftItem("tryacme.org", 1, "Acme-Mail.com", (ROE,)),
            DraftItem("getacme.com", 1, "getacme.com", (ROE,)),
        ],
    )

    shape = shape_of_order(order)

    assert [d.forwarding_domain for d in shape.domains] == [
        "acme.com",  # outside the order: kept as it is
        "#1",  # the first domain of the order, whatever its new name will be
        "getacme.com",  # itself (an error the builder shows): kept as typed
    ]


def test_shape_of_a_pre_warmed_order_has_no_mailboxes(workspace, operator):
    order = draft_order(
        workspace,
        operator,
        order_type="pre_warmed_up",
        items=[("stock-one.com", 3, [JANE])],
    )

    assert shape_of_order(order) == OrderShape("pre_warmed_up", (DomainShape(3, ()),))


# --- JSON -----------------------------------------------------------------------------------

names = st.text(
    alphabet=st.characters(
        codec="utf-8", exclude_categories=["Cc", "Cs", "Zl", "Zp", "Zs"]
    ),
    min_size=1,
    max_size=20,
)
prefixes = st.from_regex(
    r"[a-z0-9]([a-z0-9._-]{0,10}[a-z0-9])?", fullmatch=True
).filter(lambda p: ".." not in p)


@st.composite
def domain_shapes(draw: st.DrawFn, count: int, place: int) -> DomainShape:
    provider = draw(st.sampled_from(sorted(PROVIDER_RULES)))
    rule = PROVIDER_RULES[provider]
    size = draw(st.integers(rule.min_mailboxes, min(rule.accepted_max, 55)))
    chosen = draw(st.lists(prefixes, min_size=size, max_size=size, unique=True))
    mailboxes = tuple(DraftMailbox(draw(names), draw(names), p) for p in chosen)
    others = [n for n in range(1, count + 1) if n != place]
    forwarding = draw(
        st.sampled_from(["", "acme.com", "brand.org"] + [f"#{n}" for n in others])
    )
    return DomainShape(provider, mailboxes, forwarding)


@st.composite
def order_shapes_strategy(draw: st.DrawFn) -> OrderShape:
    count = draw(st.integers(1, 4))
    return OrderShape(
        "dfy",
        tuple(draw(domain_shapes(count, place)) for place in range(1, count + 1)),
    )


@settings(max_examples=60, deadline=None)
@given(order_shapes_strategy())
def test_every_valid_shape_round_trips_through_json(shape):
    assert shape_problems(shape) == []

    stored = json.loads(json.dumps(shape_to_json(shape)))

    assert shape_from_json(stored) == shape


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=5),
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(
                st.sampled_from(
                    ["format", "order_type", "domains", "provider", "mailboxes"]
                ),
                inner,
                max_size=4,
            )
        ),
        max_leaves=12,
    )
)
def test_from_json_refuses_any_other_data_with_a_message(data):
    message = ""
    try:
        shape = shape_from_json(data)
    except ShapeError as exc:
        message = str(exc)
    else:  # only a real, orderable shape may come through
        assert shape_problems(shape) == []
        message = "orderable"
    assert message


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(format=2), "format 2 is not 1"),
        (lambda d: d.update(order_type="lease"), "order type “lease” is unknown"),
        (lambda d: d.update(domains=[]), "The shape has no domains."),
        (lambda d: d.update(domains="x"), "a list of domains"),
        (lambda d: d["domains"].__setitem__(0, 1), "domain 1 is not an object"),
        (lambda d: d["domains"][0].update(provider=True), "domain 1 has no provider"),
        (lambda d: d["domains"][0].update(provider=7), "the provider 7 is unknown"),
        (lambda d: d["domains"][1].update(forwarding_domain=3), "not text"),
        (lambda d: d["domains"][1].update(mailboxes=None), "no list of mailboxes"),
        (
            lambda d: d["domains"][1]["mailboxes"].append(["A", "B"]),
            "domain 2, mailbox 2 is not [first name, last name, prefix]",
        ),
        (
            lambda d: d["domains"][1].update(forwarding_domain="#2"),
            "Domain 2: the forwarding “#2” names no other domain",
        ),
        (
            lambda d: d["domains"][1].update(forwarding_domain="#9"),
            "names no other domain",
        ),
        (
            lambda d: d["domains"][0].update(forwarding_domain="not a domain"),
            "forwarding domain “not a domain” is not valid",
        ),
        (
            lambda d: d["domains"][0]["mailboxes"].append(["Jo", "Roe", "jane"]),
            "Domain 1, mailbox 3: the prefix “jane” is already used",
        ),
        (
            lambda d: d["domains"][0]["mailboxes"].append(["Jo", "Roe", "Jo"]),
            "Domain 1, mailbox 3: the prefix “Jo” has upper-case letters",
        ),
        (
            lambda d: d["domains"][0]["mailboxes"].append([" ", "Roe", "jo"]),
            "Domain 1, mailbox 3: the first name is missing",
        ),
        (
            lambda d: d["domains"][0]["mailboxes"].extend(
                [["A", "B", f"a{n}"] for n in range(6)]
            ),
            "Domain 1: Google needs 1–5 mailboxes per domain; the shape has 8",
        ),
    ],
)
def test_from_json_names_what_is_wrong(change, message):
    data = shape_to_json(TWO_GOOGLE)
    change(data)

    with pytest.raises(ShapeError) as raised:
        shape_from_json(data)

    assert message in str(raised.value)


def test_a_pre_warmed_shape_lists_no_mailboxes():
    shape = OrderShape("pre_warmed_up", (DomainShape(1, (ROE,)),))

    assert shape_problems(shape) == [
        "Domain 1: pre-warmed domains come with their mailboxes; the shape lists some."
    ]


def test_a_long_list_of_problems_is_cut_short():
    shape = OrderShape("dfy", tuple(DomainShape(9, (ROE,)) for _ in range(7)))

    with pytest.raises(ShapeError) as raised:
        shape_from_json(shape_to_json(shape))

    assert str(raised.value).endswith("(2 more.)")


def test_a_shape_over_the_draft_limits_says_so():
    shape = OrderShape("dfy", tuple(DomainShape(3, (ROE,) * 100) for _ in range(201)))

    problems = shape_problems(shape)

    assert "The shape has 201 domains; a draft holds at most 200." in problems
    assert "The shape has 20,100 mailboxes; a draft holds at most 1,000." in problems


# --- Seeds ----------------------------------------------------------------------------------


def test_seeds_keep_their_tld_merge_duplicates_and_say_what_was_left_out():
    seeds = seeds_read(
        ["acme.com, Acme.org", "mail.globex.org", "initech", "bad_name!", "x.net"]
        + [f"brand{n}" for n in range(10)]
    )

    assert list(seeds.labels.items())[:4] == [
        ("acme", ("com", "org")),
        ("globex", ("org",)),
        ("initech", ("com", "org")),
        ("x", ("com", "org")),
    ]
    assert len(seeds.labels) == order_shapes.MAX_SEEDS
    assert seeds.problems == [
        "“bad_name!” is not a name to find domains for.",
        "Only the first 10 names are used to find domains; “brand6” and any after it "
        "were left out.",
    ]


# --- draft_from_shape against the sandbox ---------------------------------------------------


def test_draft_from_shape_takes_fresh_domains_spread_over_the_seeds(
    workspace, operator, remote, monkeypatch, django_capture_on_commit_callbacks
):
    sent = recorded(monkeypatch, "orders.check_domains")
    draft_order(workspace, operator, items=[("getacme.com", 1, [JANE])])
    RemoteDomain.objects.create(workspace=workspace, domain="getglobex.org")
    TakenDomain.objects.create(domain="tryacme.com")
    shape = OrderShape(
        "dfy",
        (
            DomainShape(1, (ROE, DOE), "acme.com"),
            DomainShape(2, (ROE,), "#1"),
            DomainShape(1, (DOE,)),
        ),
    )

    with django_capture_on_commit_callbacks(execute=True):
        made = draft_from_shape(
            workspace=workspace,
            by=operator,
            shape=shape,
            seeds=["acme.com", "globex.org"],
            title="Again",
        )

    order = made.order
    assert made.problems == []
    assert order.status == OrderStatus.DRAFT
    assert order.title == "Again"
    # In turn from each seed's list; getacme.com is in an order already, getglobex.org in
    # the mirror, tryacme.com registered by someone else (not suggested at all).
    items = list(order.items.order_by("position"))
    assert [i.domain for i in items] == ["useacme.com", "tryglobex.org", "goacme.com"]
    assert [i.provider for i in items] == [1, 2, 1]
    assert [i.forwarding_domain for i in items] == ["acme.com", "useacme.com", ""]
    assert [m.email_prefix for m in items[0].mailboxes.all()] == ["jane", "john"]
    assert remote.requests("domains/similar") == 2
    assert made.check == DomainCheck.objects.get(order=order)
    assert made.check.domains == ["useacme.com", "tryglobex.org", "goacme.com"]
    assert sent == [{"check_id": made.check.pk}]


def test_the_check_of_a_shaped_draft_finds_its_domains_available(
    workspace, operator, remote, monkeypatch
):
    recorded(monkeypatch, "orders.check_domains")
    made = draft_from_shape(
        workspace=workspace, by=operator, shape=TWO_GOOGLE, seeds=["acme"]
    )

    from orders import finders

    assert made.check is not None
    check = finders.domain_check_run(check=made.check)

    assert check.status == CheckStatus.DONE
    assert {r["state"] for r in check.results.values()} == {"available"}


def test_fewer_suggestions_than_needed_keep_what_was_found_and_say_what_is_missing(
    workspace, operator, remote, monkeypatch
):
    recorded(monkeypatch, "orders.check_domains")
    monkeypatch.setattr(
        "sandbox.domains.SIMILAR_DOMAINS_PER_TLD", 1
    )  # one name per TLD
    shape = OrderShape(
        "dfy",
        (
            DomainShape(1, (ROE,), "#3"),
            DomainShape(1, (ROE, DOE)),
            DomainShape(2, (ROE,)),
        ),
    )

    made = draft_from_shape(
        workspace=workspace, by=operator, shape=shape, seeds=["acme.com"]
    )

    assert list(made.order.items.values_list("domain", flat=True)) == ["getacme.com"]
    assert made.problems == [
        "getacme.com forwarded to domain 3 of the shape, which has no new domain: set "
        "its forwarding once that domain is added.",
        "Found 1 new domain of the 3 needed; not in the draft: domain 2 (Google, 2 "
        "mailboxes), domain 3 (AirMail, 1 mailbox). Find more with “Find domains” and "
        "add them.",
    ]
    assert made.check.domains == ["getacme.com"]


def test_without_a_key_the_draft_is_made_empty_with_the_reason(
    workspace, operator, monkeypatch
):
    sent = recorded(monkeypatch, "orders.check_domains")

    made = draft_from_shape(
        workspace=workspace, by=operator, shape=TWO_GOOGLE, seeds=["acme"]
    )

    assert made.order.status == OrderStatus.DRAFT
    assert not made.order.items.exists()
    assert made.check is None
    assert sent == []
    assert made.problems[0] == (
        f"No domains were found: {instantly_keys.NO_KEY_PROBLEM}"
    )


def test_a_refused_key_stops_asking_after_the_first_seed(
    workspace, operator, remote, monkeypatch
):
    recorded(monkeypatch, "orders.check_domains")
    remote.sandbox.keys.update(revoked_at=timezone.now())
    # The sandbox logs no request it cannot tie to a workspace: count at the client.
    asked = []
    real = InstantlyClient.similar_domains

    def counted(self, domain, **kw):  # type: ignore[no-untyped-def]
        asked.append(domain)
        return real(self, domain, **kw)

    monkeypatch.setattr(InstantlyClient, "similar_domains", counted)

    made = draft_from_shape(
        workspace=workspace, by=operator, shape=TWO_GOOGLE, seeds=["acme", "globex"]
    )

    assert not made.order.items.exists()
    assert asked == ["acme.com"]
    assert made.problems[0].startswith("Instantly refused")
    assert InstantlyKey.objects.get(workspace=workspace).status == "invalid"


def test_a_restricted_seed_is_named_and_the_others_still_used(
    workspace, operator, remote, monkeypatch
):
    recorded(monkeypatch, "orders.check_domains")

    made = draft_from_shape(
        workspace=workspace,
        by=operator,
        shape=TWO_GOOGLE,
        seeds=["googlemail", "acme"],
    )

    assert list(made.order.items.values_list("domain", flat=True)) == [
        "getacme.com",
        "tryacme.com",
    ]
    assert made.problems == [
        "Instantly refuses suggestions for this name: it contains the restricted "
        "keyword “google”."
    ]
    assert remote.requests("domains/similar") == 2


def test_a_slow_remote_is_a_problem_not_an_error(
    workspace, operator, remote, monkeypatch
):
    recorded(monkeypatch, "orders.check_domains")
    switches_set(workspace=remote.sandbox, error_5xx_remaining=50)

    made = draft_from_shape(
        workspace=workspace, by=operator, shape=TWO_GOOGLE, seeds=["acme"]
    )

    assert not made.order.items.exists()
    assert (
        made.problems[0] == "Instantly did not answer in time; try again in a moment."
    )


def test_no_seeds_make_an_empty_draft_that_says_so(workspace, operator, remote):
    made = draft_from_shape(
        workspace=workspace, by=operator, shape=TWO_GOOGLE, seeds=["", " , "]
    )

    assert made.problems[0] == "No names were given to find new domains for."
    assert remote.requests("domains/similar") == 0


def test_an_extra_mailbox_shape_becomes_a_new_domain_draft(
    workspace, operator, remote, monkeypatch
):
    recorded(monkeypatch, "orders.check_domains")
    shape = OrderShape("extra_accounts", (DomainShape(1, (ROE,)),))

    made = draft_from_shape(
        workspace=workspace, by=operator, shape=shape, seeds=["acme"]
    )

    assert made.order.order_type == "dfy"
    assert made.order.items.get().domain == "getacme.com"
    assert "buys new domains with the same mailboxes" in made.problems[0]


def test_a_pre_warmed_shape_takes_stock_of_the_provider_and_needs_no_check(
    workspace, operator, remote, monkeypatch
):
    sent = recorded(monkeypatch, "orders.check_domains")
    PreWarmedDomain.objects.all().delete()
    PreWarmedDomain.objects.create(domain="plainstock.com", account_type=1)
    PreWarmedDomain.objects.create(domain="acmestock.com", account_type=1)
    PreWarmedDomain.objects.create(domain="acmestock.org", account_type=3)
    PreWarmedDomain.objects.create(domain="ownedstock.com", account_type=1)
    RemoteDomain.objects.create(workspace=workspace, domain="ownedstock.com")
    shape = OrderShape(
        "pre_warmed_up", (DomainShape(1, ()), DomainShape(1, ()), DomainShape(2, ()))
    )

    made = draft_from_shape(
        workspace=workspace, by=operator, shape=shape, seeds=["acme"]
    )

    assert made.order.order_type == "pre_warmed_up"
    assert list(made.order.items.values_list("domain", flat=True)) == [
        "acmestock.com",
        "plainstock.com",
    ]
    assert made.check is None
    assert sent == []
    assert made.problems == [
        "Found 2 new domains of the 3 needed; not in the draft: domain 3 (AirMail). "
        "Find more with “Find domains” and add them."
    ]
    assert remote.requests("pre-warmed-up-list") == 1


def test_a_pre_warmed_shape_without_a_key_says_so(workspace, operator):
    shape = OrderShape("pre_warmed_up", (DomainShape(1, ()),))

    made = draft_from_shape(workspace=workspace, by=operator, shape=shape, seeds=[])

    assert (
        made.problems[-2] == f"No domains were found: {instantly_keys.NO_KEY_PROBLEM}"
    )


def test_a_pre_warmed_shape_round_trips():
    shape = OrderShape("pre_warmed_up", (DomainShape(1, ()), DomainShape(3, (), "#1")))

    assert shape_from_json(shape_to_json(shape)) == shape


def test_many_missing_domains_are_counted_not_listed(workspace, operator):
    shape = OrderShape("dfy", tuple(DomainShape(1, (ROE,)) for _ in range(7)))

    made = draft_from_shape(workspace=workspace, by=operator, shape=shape, seeds=["a"])

    assert "domain 5 (Google, 1 mailbox) and 2 more." in made.problems[-1]
