"""The largest draft in the builder: 200 domains and 1,000 mailboxes (orders/builder_forms.py,
MAX_DRAFT_*), the size every builder path must handle.

Two figures, each Django's whole request in process through the test client: the builder
page (GET) and an autosave (the page's whole form posted back by htmx after one edit: parse,
save, a fresh quote from the in-process sandbox, the out-of-band fragments). The page's size
in bytes is reported too: it is what a browser downloads and lays out on every full load.

    DATABASE_URL=postgres://... DJANGO_DEBUG=true python -m bench draft
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

from bench.harness import Figure, percentile, scratch_database, size

ROUNDS = size(20, 2)  # after one warm-up request each
# Not a documented budget: the 9,999-mailbox draft took 6 s and 9.5 MB; the maximum
# draft must stay comfortably interactive.
PAGE_BUDGET_MS = 1_000.0
AUTOSAVE_BUDGET_MS = 1_000.0


def run() -> dict[str, Figure]:
    from django.db import connection

    if connection.vendor == "postgresql":
        # Its own scratch database: other benchmarks or test runs may hold test_<name>.
        connection.settings_dict["TEST"]["NAME"] = "bench_draft"
    with scratch_database(), in_process_remote():
        return _measure()


@contextlib.contextmanager
def in_process_remote() -> Iterator[None]:
    """Within the block, every Instantly client talks to the sandbox in this process (as
    tests/conftest.py's `remote` fixture does): the portal's client code path, no network."""
    from orders import instantly_keys
    from orders.ratelimit import MemoryRateLimiter
    from sandbox.testing import in_process_transport

    limiter = MemoryRateLimiter()
    real_factory = instantly_keys.instantly_client_for

    def in_process(*, workspace: Any, **overrides: Any) -> Any:
        overrides.setdefault("transport", in_process_transport())
        overrides.setdefault("limiter", limiter)
        overrides.setdefault("sleep", lambda seconds: None)
        return real_factory(workspace=workspace, **overrides)

    instantly_keys.instantly_client_for = in_process
    try:
        yield
    finally:
        # A benchmark run after this one in the same process (a smoke run) calls Instantly
        # as the portal does.
        instantly_keys.instantly_client_for = real_factory


def _form(order: Any, items: list[Any]) -> dict[str, str]:
    """What the page's form posts: every field of every row, the generator's too."""
    data = {
        "version": str(order.version),
        "order_type": order.order_type,
        "title": order.title,
    }
    for i, item in enumerate(items):
        data |= {
            f"item-{i}-domain": item.domain,
            f"item-{i}-provider": str(item.provider),
            f"item-{i}-forwarding": item.forwarding_domain,
            f"gen-{i}-names": "",
            f"gen-{i}-pattern": "first.last",
            f"gen-{i}-count": "5",
        }
        for j, mailbox in enumerate(item.mailboxes):
            data |= {
                f"item-{i}-mb-{j}-first": mailbox.first_name,
                f"item-{i}-mb-{j}-last": mailbox.last_name,
                f"item-{i}-mb-{j}-prefix": mailbox.email_prefix,
            }
    return data


def _measure() -> dict[str, Figure]:
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.urls import reverse

    from orders import drafts, instantly_keys
    from orders.builder_forms import MAX_DRAFT_DOMAINS, MAX_DRAFT_MAILBOXES
    from orders.models import Membership, Order, Quote, Workspace
    from orders.rules import DraftItem, DraftMailbox
    from sandbox.services import sandbox_workspace_create

    settings.ALLOWED_HOSTS = ["*"]
    settings.DFY_QUOTE_REUSE_SECONDS = 0  # each edit is a new payload, as when typing
    workspace = Workspace.objects.create(name="Bench", slug="bench")
    user = get_user_model().objects.create_user("bench", password="bench-pass-123")
    Membership.objects.create(user=user, workspace=workspace, role="operator")
    _sandbox, key = sandbox_workspace_create(name="bench")
    instantly_keys.instantly_key_save(
        workspace=workspace,
        by=None,
        secret=key,
        label="bench",
        base_url="http://testserver/sandbox/api/v2",
    )
    domains = size(MAX_DRAFT_DOMAINS, 4)
    per_domain = size(MAX_DRAFT_MAILBOXES // MAX_DRAFT_DOMAINS, 2)
    items = [
        DraftItem(
            domain=f"benchdraft{n:03d}.com",
            provider=1,
            mailboxes=tuple(
                DraftMailbox("Jane", f"Roe{n}x{k}", f"jane.roe{k}")
                for k in range(per_domain)
            ),
        )
        for n in range(domains)
    ]
    order = drafts.order_draft_create(
        workspace=workspace, by=user, order_type="dfy", title="Largest draft"
    )
    order = drafts.order_draft_save(
        order=order, by=user, version=order.version, items=items
    )
    client = Client()
    client.force_login(user)
    url = reverse("orders:build", args=[workspace.slug, order.pk])

    def get_page() -> int:
        response = client.get(url)
        if response.status_code != 200:
            raise RuntimeError(f"builder page answered {response.status_code}")
        return len(response.content)

    edits = 0

    def autosave() -> int:
        nonlocal edits
        edits += 1
        current = Order.objects.get(pk=order.pk)
        body = _form(current, items)
        body[f"item-{domains - 1}-mb-{per_domain - 1}-first"] = f"Janet{edits}"
        response = client.post(url, body, headers={"HX-Request": "true"})
        if response.status_code != 200 or b"Not saved yet" in response.content:
            raise RuntimeError(f"autosave answered {response.status_code}")
        return len(response.content)

    page_bytes = get_page()  # warm-up
    page_samples = _timed(get_page)
    quotes_before = Quote.objects.count()
    autosave_bytes = autosave()  # warm-up
    autosave_samples = _timed(autosave)
    fresh_quotes = Quote.objects.count() - quotes_before
    if fresh_quotes != ROUNDS + 1:
        raise RuntimeError(f"expected a quote per autosave, got {fresh_quotes}")

    note = (
        f"{connection.vendor}, {domains} domains / {domains * per_domain:,} "
        f"mailboxes, {len(_form(order, items)):,} fields"
    )
    return {
        "draft_page_p50_ms": Figure(percentile(page_samples, 50), "ms", note=note),
        "draft_page_p95_ms": Figure(
            percentile(page_samples, 95), "ms", budget=PAGE_BUDGET_MS, note=note
        ),
        "draft_page_bytes": Figure(float(page_bytes), "bytes"),
        "draft_autosave_p50_ms": Figure(
            percentile(autosave_samples, 50), "ms", note="save + fresh sandbox quote"
        ),
        "draft_autosave_p95_ms": Figure(
            percentile(autosave_samples, 95),
            "ms",
            budget=AUTOSAVE_BUDGET_MS,
            note="save + fresh sandbox quote",
        ),
        "draft_autosave_bytes": Figure(float(autosave_bytes), "bytes"),
    }


def _timed(fn: Any) -> list[float]:
    samples = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples
