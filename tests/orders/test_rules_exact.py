"""The builder's local findings to the letter (orders/rules.py): for each rule, the field the
page marks, the code, the words and the severity a person sees."""

from __future__ import annotations

import pytest

from orders.rules import (
    GOOGLE,
    MICROSOFT,
    DraftItem,
    DraftMailbox,
    check_draft,
    name_problem,
    prefix_problem,
)

JANE = DraftMailbox("Jane", "Doe", "jane")


def findings(*items: DraftItem, order_type: str = "dfy") -> list[tuple[str, ...]]:
    return [
        (f.field, f.code, f.message, f.severity) for f in check_draft(order_type, items)
    ]


def mailboxes(count: int) -> tuple[DraftMailbox, ...]:
    return tuple(DraftMailbox("Jane", "Doe", f"jane{n}") for n in range(count))


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        (
            DraftItem("  ", GOOGLE, "", (JANE,)),
            ("domain", "missing_domain", "Domain 1: the domain is missing", "error"),
        ),
        (
            DraftItem("bad_domain.com", GOOGLE, "", (JANE,)),
            (
                "domain",
                "invalid_domain",
                "bad_domain.com: not a valid domain (contains '_', which is not allowed "
                "in a domain name)",
                "error",
            ),
        ),
        (
            DraftItem("Acme.com", GOOGLE, "", (JANE,)),
            (
                "domain",
                "domain_not_normalised",
                "Acme.com: will be sent as acme.com",
                "warning",
            ),
        ),
        (
            DraftItem("acme.com", 99, "", (JANE,)),
            (
                "provider",
                "unknown_provider",
                "acme.com: the provider '99' is unknown",
                "error",
            ),
        ),
        (
            DraftItem("acme.com", GOOGLE, "bad_fwd.com", (JANE,)),
            (
                "forwarding_domain",
                "invalid_forwarding_domain",
                "acme.com: the forwarding domain 'bad_fwd.com' is not valid (contains '_', "
                "which is not allowed in a domain name)",
                "error",
            ),
        ),
        (
            DraftItem("acme.com", MICROSOFT, "", mailboxes(10)),
            (
                "mailboxes",
                "too_few_mailboxes",
                "acme.com: Microsoft needs 50–100 mailboxes per domain; this one has 10",
                "error",
            ),
        ),
        (
            DraftItem("acme.com", GOOGLE, "", mailboxes(6)),
            (
                "mailboxes",
                "too_many_mailboxes",
                "acme.com: Google allows 1–5 mailboxes per domain; this one has 6",
                "error",
            ),
        ),
    ],
)
def test_each_domain_rule_names_its_field_and_says_what_is_wrong(item, expected):
    assert findings(item) == [expected]


def test_a_second_copy_of_a_domain_points_at_the_first():
    assert findings(
        DraftItem("acme.com", GOOGLE, "", (JANE,)),
        DraftItem("ACME.com", GOOGLE, "", (JANE,)),
    ) == [
        (
            "domain",
            "domain_not_normalised",
            "ACME.com: will be sent as acme.com",
            "warning",
        ),
        (
            "domain",
            "duplicate_domain",
            "ACME.com: already in the order as domain 1",
            "error",
        ),
    ]


def test_each_mailbox_rule_names_its_row_field_and_words():
    item = DraftItem(
        "acme.com",
        GOOGLE,
        "",
        (
            DraftMailbox("Jane", "", "ss"),
            DraftMailbox("Jane", "Doe", "ja^ne"),
            DraftMailbox("x" * 100, "y" * 101, "jane"),
            DraftMailbox("Jane", "Doe", "ß"),
        ),
    )
    mailbox_words = "use only a-z, 0-9, '.', '-' and '_'"
    assert findings(item) == [
        (
            "last_name",
            "missing_name",
            "Mailbox 1 on acme.com: the last name is missing",
            "error",
        ),
        (
            "email_prefix",
            "invalid_prefix",
            f"Mailbox 2 on acme.com: the prefix 'ja^ne' contains '^'; {mailbox_words}",
            "error",
        ),
        (
            "last_name",
            "name_too_long",
            "Mailbox 3 on acme.com: the last name is 101 characters long; the limit is 100",
            "error",
        ),
        # 'ß' and 'ss' are different addresses: not a duplicate, only not allowed.
        (
            "email_prefix",
            "invalid_prefix",
            f"Mailbox 4 on acme.com: the prefix 'ß' contains 'ß'; {mailbox_words}",
            "error",
        ),
    ]


def test_a_name_of_exactly_the_limit_is_accepted():
    assert name_problem("x" * 100) is None
    assert name_problem("x" * 101) == (
        "name_too_long",
        "is 101 characters long; the limit is 100",
    )


def test_only_a_to_z_in_upper_case_is_called_upper_case():
    assert prefix_problem("jAne") == "has upper-case letters; use lower case"
    # '^' sorts between 'Z' and 'a': it is a character that is not allowed, not a capital.
    assert (
        prefix_problem("ja^ne") == "contains '^'; use only a-z, 0-9, '.', '-' and '_'"
    )


@pytest.mark.parametrize(
    ("order_type", "expected"),
    [
        (
            "pre_warmed_up",
            (
                "mailboxes",
                "mailboxes_ignored",
                "acme.com: pre-warmed domains come with their mailboxes; the ones listed "
                "here are ignored",
                "warning",
            ),
        ),
        (
            "extra_accounts",
            (
                "provider",
                "unsupported_provider",
                "acme.com: Microsoft domains cannot take extra mailboxes",
                "error",
            ),
        ),
    ],
)
def test_each_order_type_rule_names_its_field(order_type, expected):
    item = DraftItem("acme.com", MICROSOFT, "", (JANE,))
    assert findings(item, order_type=order_type) == [expected]
