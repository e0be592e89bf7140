from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orders.models import OrderType, Provider
from orders.rules import (
    AIRMAIL,
    DFY,
    EXTRA_ACCOUNTS,
    GOOGLE,
    MICROSOFT,
    ORDER_TYPE_RULES,
    PRE_WARMED_UP,
    PROVIDER_RULES,
    DraftItem,
    DraftMailbox,
    Finding,
    check_draft,
    has_errors,
    name_problem,
    prefix_problem,
    tld_policy,
)

# The prefix rule restated independently, to check prefix_problem against.
PREFIX_SPEC = re.compile(r"(?!.*\.\.)[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?")


def mailboxes(count: int) -> tuple[DraftMailbox, ...]:
    return tuple(DraftMailbox("Jane", "Doe", f"jane{n}") for n in range(count))


def codes(findings: list[Finding]) -> list[tuple[str, str]]:
    return [(finding.code, finding.severity) for finding in findings]


def test_rules_table_mirrors_the_model_choices():
    assert set(PROVIDER_RULES) == {choice.value for choice in Provider}
    assert set(ORDER_TYPE_RULES) == {choice.value for choice in OrderType}
    assert (GOOGLE, AIRMAIL, MICROSOFT) == (
        Provider.GOOGLE,
        Provider.AIRMAIL,
        Provider.MICROSOFT,
    )


def test_provider_rules_follow_the_published_limits():
    google, airmail, microsoft = (
        PROVIDER_RULES[GOOGLE],
        PROVIDER_RULES[AIRMAIL],
        PROVIDER_RULES[MICROSOFT],
    )

    assert (
        google.min_mailboxes,
        google.max_mailboxes,
        google.billing,
        google.extra_accounts_allowed,
    ) == (
        1,
        5,
        "per mailbox, monthly",
        True,
    )
    assert (airmail.min_mailboxes, airmail.max_mailboxes, airmail.billing) == (
        1,
        5,
        "per mailbox, monthly",
    )
    assert (
        microsoft.min_mailboxes,
        microsoft.max_mailboxes,
        microsoft.accepted_max,
    ) == (50, 100, 100)
    assert microsoft.billing == "per domain, monthly"
    assert not microsoft.extra_accounts_allowed


def test_provider_rule_sentences():
    sentences = [rule.rule for rule in PROVIDER_RULES.values()]

    assert sentences == [
        "Google: 1–5 mailboxes per domain, billed per mailbox each month",
        "AirMail: 1–5 mailboxes per domain, billed per mailbox each month",
        "Microsoft: 50–100 mailboxes per domain, billed per domain each month; "
        "no extra mailboxes can be added later",
    ]


def test_tld_policies_per_order_type():
    dfy, pre_warmed, extra = (
        tld_policy(DFY),
        tld_policy(PRE_WARMED_UP),
        tld_policy(EXTRA_ACCOUNTS),
    )

    assert dfy is not None
    assert pre_warmed is not None
    assert extra is not None
    assert dfy.tlds == {"com", "org"}
    assert pre_warmed.tlds == {"com", "org", "co"}
    assert tld_policy("bogus") is None


@pytest.mark.parametrize(
    "prefix", ["j", "john", "john.doe", "j_doe", "john-doe2", "0", "a" * 64, "a.b-c_d"]
)
def test_prefix_problem_accepts_valid_prefixes(prefix):
    assert prefix_problem(prefix) is None


@pytest.mark.parametrize(
    ("prefix", "reason"),
    [
        ("", "is empty"),
        ("a" * 65, "is 65 characters long; the limit is 64"),
        ("John", "has upper-case letters; use lower case"),
        ("jo hn", "contains a space"),
        ("jo+hn", "contains '+'; use only a-z, 0-9, '.', '-' and '_'"),
        ("jöhn", "contains 'ö'; use only a-z, 0-9, '.', '-' and '_'"),
        (
            "jo\u200bhn",
            "contains the invisible character U+200B; use only a-z, 0-9, '.', '-' and '_'",
        ),
        ("jo..hn", "has two dots in a row"),
        (".john", "must start with a letter or digit"),
        ("_john", "must start with a letter or digit"),
        ("john-", "must end with a letter or digit"),
    ],
)
def test_prefix_problem_explains(prefix, reason):
    assert prefix_problem(prefix) == reason


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Jane", None),
        ("Zoë-Ann O'Neil", None),
        ("", ("missing_name", "is missing")),
        ("   ", ("missing_name", "is missing")),
        ("x" * 101, ("name_too_long", "is 101 characters long; the limit is 100")),
        (
            "Ja\tne",
            ("name_control_character", "contains a control character or line break"),
        ),
        (
            "Ja\u2028ne",
            ("name_control_character", "contains a control character or line break"),
        ),
    ],
)
def test_name_problem(value, expected):
    assert name_problem(value) == expected


def test_check_draft_accepts_a_clean_order():
    items = [
        DraftItem("acme.com", GOOGLE, "acme-main.io", mailboxes(3)),
        DraftItem("acme.org", AIRMAIL, "", mailboxes(1)),
        DraftItem("acme-mail.com", MICROSOFT, "", mailboxes(50)),
    ]

    findings = check_draft(DFY, items)

    assert findings == []


def test_check_draft_refuses_an_unknown_order_type_and_an_empty_order():
    unknown = check_draft("bulk", [DraftItem("acme.com", GOOGLE, "", mailboxes(1))])
    empty = check_draft(DFY, [])

    assert unknown == [
        Finding(
            "order",
            None,
            None,
            "order_type",
            "unknown_order_type",
            "The order type 'bulk' is unknown; use one of dfy, pre_warmed_up, extra_accounts",
            "error",
        )
    ]
    assert codes(empty) == [("empty_order", "error")]


def test_check_draft_names_the_mailbox_row_and_field():
    boxes = (*mailboxes(2), DraftMailbox("John", "Roe", "jo..hn"))

    findings = check_draft(DFY, [DraftItem("acme.com", GOOGLE, "", boxes)])

    assert findings == [
        Finding(
            "mailbox",
            "acme.com",
            3,
            "email_prefix",
            "invalid_prefix",
            "Mailbox 3 on acme.com: the prefix 'jo..hn' has two dots in a row",
            "error",
            1,
        )
    ]


@pytest.mark.parametrize(
    ("domain", "expected"),
    [
        ("acme.net", [("unsupported_tld", "error")]),
        ("acme.co", [("unsupported_tld", "error")]),
        ("mail.acme.com", [("subdomain", "error")]),
        ("acme", [("invalid_domain", "error")]),
        ("  ", [("missing_domain", "error")]),
        ("Acme.com", [("domain_not_normalised", "warning")]),
    ],
)
def test_check_draft_domain_rules_for_new_domains(domain, expected):
    findings = check_draft(DFY, [DraftItem(domain, GOOGLE, "", mailboxes(1))])

    assert codes(findings) == expected


def test_check_draft_domain_message_names_the_tld():
    findings = check_draft(DFY, [DraftItem("acme.net", GOOGLE, "", mailboxes(1))])

    assert (
        findings[0].message
        == "acme.net: unsupported top-level domain .net for new domains (use .com or .org)"
    )
    assert findings[0].field == "domain"
    assert findings[0].where == "domain"


def test_check_draft_flags_duplicate_domains_in_normalised_form():
    items = [
        DraftItem("acme.com", GOOGLE, "", mailboxes(1)),
        DraftItem("acme.com.", GOOGLE, "", mailboxes(1)),
    ]

    findings = check_draft(DFY, items)

    assert codes(findings) == [
        ("domain_not_normalised", "warning"),
        ("duplicate_domain", "error"),
    ]
    assert findings[1].message == "acme.com.: already in the order as domain 1"
    assert findings[1].item == 2


@pytest.mark.parametrize(
    ("forwarding", "expected"),
    [
        ("", []),
        ("acme-main.io", []),
        ("www.acme-main.io", []),
        ("ACME.com", [("forwarding_same_as_domain", "error")]),
        ("not a domain", [("invalid_forwarding_domain", "error")]),
    ],
)
def test_check_draft_forwarding_domain(forwarding, expected):
    findings = check_draft(
        DFY, [DraftItem("acme.com", GOOGLE, forwarding, mailboxes(1))]
    )

    assert codes(findings) == expected


@pytest.mark.parametrize(
    ("provider", "count", "expected"),
    [
        (GOOGLE, 0, [("domains_without_accounts", "error")]),
        (GOOGLE, 5, []),
        (GOOGLE, 6, [("too_many_mailboxes", "error")]),
        (AIRMAIL, 6, [("too_many_mailboxes", "error")]),
        (MICROSOFT, 49, [("too_few_mailboxes", "error")]),
        (MICROSOFT, 50, []),
        (MICROSOFT, 75, []),
        (MICROSOFT, 100, []),
        (MICROSOFT, 101, [("too_many_mailboxes", "error")]),
        (4, 1, [("unknown_provider", "error")]),
        (True, 1, [("unknown_provider", "error")]),
    ],
)
def test_check_draft_mailbox_counts_per_provider(provider, count, expected):
    findings = check_draft(DFY, [DraftItem("acme.com", provider, "", mailboxes(count))])

    assert codes(findings) == expected


def test_check_draft_microsoft_count_message():
    findings = check_draft(DFY, [DraftItem("acme.com", MICROSOFT, "", mailboxes(10))])

    assert (
        findings[0].message
        == "acme.com: Microsoft needs 50–100 mailboxes per domain; this one has 10"
    )


def test_check_draft_extra_accounts_rules():
    items = [
        DraftItem("acme.com", MICROSOFT, "", mailboxes(2)),
        DraftItem("acme.net", GOOGLE, "", mailboxes(2)),
        DraftItem("acme.org", GOOGLE, "", ()),
    ]

    findings = check_draft(EXTRA_ACCOUNTS, items)

    assert codes(findings) == [
        ("unsupported_provider", "error"),
        ("unsupported_tld", "warning"),
        ("domains_without_accounts", "error"),
    ]
    assert (
        findings[0].message == "acme.com: Microsoft domains cannot take extra mailboxes"
    )


def test_check_draft_pre_warmed_allows_co_and_ignores_mailboxes():
    items = [
        DraftItem("acme.co", AIRMAIL),
        DraftItem("acme.org", GOOGLE, "", (DraftMailbox("", "", "..."),)),
    ]

    findings = check_draft(PRE_WARMED_UP, items)

    assert codes(findings) == [("mailboxes_ignored", "warning")]
    assert not has_errors(findings)


def test_check_draft_mailbox_rules():
    boxes = (
        DraftMailbox("Jane", "Doe", "jane"),
        DraftMailbox("", "Doe", "JANE"),
        DraftMailbox("Jane", "D" * 101, "jane"),
        DraftMailbox("Ja\nne", " ", ""),
    )

    findings = check_draft(DFY, [DraftItem("acme.com", GOOGLE, "", boxes)])

    assert [(f.row, f.field, f.code) for f in findings] == [
        (2, "email_prefix", "invalid_prefix"),
        (2, "email_prefix", "duplicate_prefix"),
        (2, "first_name", "missing_name"),
        (3, "email_prefix", "duplicate_prefix"),
        (3, "last_name", "name_too_long"),
        (4, "email_prefix", "invalid_prefix"),
        (4, "first_name", "name_control_character"),
        (4, "last_name", "missing_name"),
    ]
    assert (
        findings[1].message
        == "Mailbox 2 on acme.com: the prefix 'JANE' is already used by mailbox 1"
    )
    assert findings[2].message == "Mailbox 2 on acme.com: the first name is missing"


def test_check_draft_names_a_domain_without_a_name_by_position():
    findings = check_draft(
        DFY, [DraftItem("acme.com", GOOGLE, "", mailboxes(1)), DraftItem("", GOOGLE)]
    )

    assert [f.message for f in findings] == [
        "Domain 2: the domain is missing",
        "Domain 2: has no mailboxes; add at least one",
    ]


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.sampled_from("abz09._-A é+\u200b"), max_size=70))
def test_prefix_problem_matches_the_stated_rule(prefix):
    problem = prefix_problem(prefix)

    assert (problem is None) == bool(PREFIX_SPEC.fullmatch(prefix))


draft_mailboxes = st.builds(
    DraftMailbox, st.text(max_size=8), st.text(max_size=8), st.text(max_size=8)
)
draft_items = st.builds(
    DraftItem,
    domain=st.text(max_size=20)
    | st.sampled_from(["acme.com", "acme.org", "acme.co", "ACME.com", "x.net"]),
    provider=st.integers(min_value=-1, max_value=5),
    forwarding_domain=st.text(max_size=12) | st.just("acme.com"),
    mailboxes=st.lists(draft_mailboxes, max_size=7).map(tuple),
)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from([DFY, PRE_WARMED_UP, EXTRA_ACCOUNTS, "", "nope"]),
    st.lists(draft_items, max_size=4),
)
def test_check_draft_never_raises_and_every_finding_is_located(order_type, items):
    findings = check_draft(order_type, items)

    for finding in findings:
        assert finding.severity in {"error", "warning"}
        assert finding.message
        assert finding.code
        if finding.where == "order":
            assert finding.domain is None
            assert finding.row is None
        else:
            assert finding.item is not None
            assert 1 <= finding.item <= len(items)
            assert finding.domain == items[finding.item - 1].domain
        if finding.where == "mailbox":
            assert finding.row is not None
            assert 1 <= finding.row <= len(items[finding.item - 1].mailboxes)
            assert finding.message.startswith(f"Mailbox {finding.row} on ")
        else:
            assert finding.row is None
