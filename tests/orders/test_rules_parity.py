"""The builder's instant rules (orders/rules.py) and the sandbox's rules (sandbox/rules.py)
must not drift: one table of drafts goes through both, and both give the same verdict."""

from __future__ import annotations

import pytest

from orders.rules import DraftItem, DraftMailbox, check_draft, has_errors
from sandbox.models import DomainOrder, RestrictedKeyword
from sandbox.order_evaluation import evaluate, parse_items
from sandbox.rules import DEFAULT_RESTRICTED_KEYWORDS
from sandbox.services import sandbox_workspace_create
from sandbox.switches import effective
from sandbox.timestamps import now_ms

pytestmark = pytest.mark.django_db

GOOGLE, AIRMAIL, MICROSOFT = 1, 2, 3


def boxes(count, prefix="user"):
    return tuple(
        DraftMailbox(
            first_name="Jane", last_name=f"Roe{n}", email_prefix=f"{prefix}{n}"
        )
        for n in range(count)
    )


def draft(domain, provider=GOOGLE, count=1, forwarding="", mailboxes=None):
    return DraftItem(
        domain=domain,
        provider=provider,
        forwarding_domain=forwarding,
        mailboxes=boxes(count) if mailboxes is None else mailboxes,
    )


# (case id, order type, items, valid?) — the expected verdict is asserted too, so a rule
# that changes in both places at once still shows up here.
CASES = [
    ("google-1", "dfy", [draft("fresh-mail.com", GOOGLE, 1)], True),
    ("google-5", "dfy", [draft("fresh-mail.com", GOOGLE, 5)], True),
    ("google-6", "dfy", [draft("fresh-mail.com", GOOGLE, 6)], False),
    ("google-0", "dfy", [draft("fresh-mail.com", GOOGLE, 0)], False),
    ("airmail-5", "dfy", [draft("fresh-mail.com", AIRMAIL, 5)], True),
    ("airmail-6", "dfy", [draft("fresh-mail.com", AIRMAIL, 6)], False),
    ("microsoft-49", "dfy", [draft("fresh-mail.com", MICROSOFT, 49)], False),
    ("microsoft-50", "dfy", [draft("fresh-mail.com", MICROSOFT, 50)], True),
    ("microsoft-51", "dfy", [draft("fresh-mail.com", MICROSOFT, 51)], True),
    ("microsoft-75", "dfy", [draft("fresh-mail.com", MICROSOFT, 75)], True),
    ("microsoft-100", "dfy", [draft("fresh-mail.com", MICROSOFT, 100)], True),
    ("net-tld", "dfy", [draft("fresh-mail.net")], False),
    ("subdomain", "dfy", [draft("mail.fresh-mail.com")], False),
    (
        "twice",
        "dfy",
        [draft("fresh-mail.com"), draft("fresh-mail.com", mailboxes=boxes(1, "other"))],
        False,
    ),
    ("forward-ok", "dfy", [draft("fresh-mail.com", forwarding="brand.com")], True),
    (
        "forward-self",
        "dfy",
        [draft("fresh-mail.com", forwarding="fresh-mail.com")],
        False,
    ),
    (
        "bad-prefix",
        "dfy",
        [
            draft(
                "fresh-mail.com",
                mailboxes=(DraftMailbox("Jane", "Roe", ".jane"),),
            )
        ],
        False,
    ),
    (
        "dup-prefix",
        "dfy",
        [
            draft(
                "fresh-mail.com",
                mailboxes=(
                    DraftMailbox("Jane", "Roe", "jane"),
                    DraftMailbox("June", "Roe", "jane"),
                ),
            )
        ],
        False,
    ),
    (
        "no-first-name",
        "dfy",
        [draft("fresh-mail.com", mailboxes=(DraftMailbox(" ", "Roe", "jane"),))],
        False,
    ),
    ("extra-google", "extra_accounts", [draft("owned-mail.com", GOOGLE, 1)], True),
    (
        "extra-microsoft",
        "extra_accounts",
        [draft("owned-mail.com", MICROSOFT, 1)],
        False,
    ),
    (
        "extra-forwarding",
        "extra_accounts",
        [draft("owned-mail.com", GOOGLE, 1, forwarding="brand.com")],
        False,
    ),
    ("extra-empty", "extra_accounts", [draft("owned-mail.com", GOOGLE, 0)], False),
]


def sandbox_verdict(workspace, order_type, items):
    body_items = [
        {
            "domain": item.domain,
            "email_provider": item.provider,
            **(
                {"forwarding_domain": item.forwarding_domain}
                if item.forwarding_domain
                else {}
            ),
            "accounts": [
                {
                    "email_address_prefix": m.email_prefix,
                    "first_name": m.first_name,
                    "last_name": m.last_name,
                }
                for m in item.mailboxes
            ],
        }
        for item in items
    ]
    evaluation = evaluate(
        workspace, order_type, parse_items(body_items), effective(workspace)
    )
    return evaluation.valid, evaluation.findings.order_error()


@pytest.mark.parametrize(
    ("order_type", "items", "valid"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_builder_and_sandbox_give_the_same_verdict(order_type, items, valid):
    RestrictedKeyword.objects.bulk_create(
        [RestrictedKeyword(keyword=k) for k in DEFAULT_RESTRICTED_KEYWORDS],
        ignore_conflicts=True,
    )
    workspace, _key = sandbox_workspace_create(name="Parity")
    # The domain that extra_accounts cases add to: bought earlier, Google.
    DomainOrder.objects.create(
        workspace=workspace,
        domain="owned-mail.com",
        email_provider=GOOGLE,
        timestamp_created=now_ms(),
    )

    portal_valid = not has_errors(check_draft(order_type, items))
    sandbox_valid, order_error = sandbox_verdict(workspace, order_type, items)

    assert portal_valid == sandbox_valid == valid, order_error
