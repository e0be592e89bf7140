"""Behaviours that mutation testing (`make mutate`, docs/testing.md) showed no test pinned."""

from __future__ import annotations

import pytest

from sandbox.switches import switches_set
from tests.sandbox.conftest import item

pytestmark = pytest.mark.django_db


def test_provider_bounds_configured_with_string_keys(sandbox, settings):
    # Settings read from JSON or the environment carry the provider as a string key.
    settings.SANDBOX_PROVIDER_RULES = {"3": {"max_mailboxes": 50}}

    body = sandbox.order([item("big.com", 51, provider=3)], simulation=True)

    assert body["order_is_valid"] is False
    assert body["invalid_accounts"][0]["reason"] == (
        "Microsoft/Outlook allows at most 50 mailboxes per domain"
    )


def test_a_free_domain_count_frees_that_many_domains(sandbox):
    switches_set(free_domain_count=2)

    body = sandbox.order(
        [item("alpha-mail.com"), item("beta-mail.com"), item("gamma-mail.com")],
        simulation=True,
    )

    assert body["free_domains"] == ["alpha-mail.com", "beta-mail.com"]
    assert [i["domain_price"] for i in body["order_items"]] == [0, 0, 15]
