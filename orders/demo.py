"""Demo data on both sides (the portal workspace and its sandbox remote): called by
`manage.py seed_demo`, safe to run again. It lives in `orders` because it wires the portal to
the sandbox; the sandbox itself never imports the portal (docs/architecture.md)."""

from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.db import transaction

from orders.instantly_keys import instantly_key_save
from orders.models import InstantlyKey, OrderItem, Workspace
from sandbox.models import (
    DfyAccount,
    DomainOrder,
    PreWarmedDomain,
    SandboxWorkspace,
    TakenDomain,
)
from sandbox.rules import Provider
from sandbox.services import sandbox_key_create

DEMO_PREWARMED = [
    ("northwindmail.com", Provider.GOOGLE, 3),
    ("brightpathsales.org", Provider.GOOGLE, 2),
    ("tailspinreach.co", Provider.AIRMAIL, 3),
    ("contosoleads.com", Provider.AIRMAIL, 5),
    ("fabrikamoutreach.com", Provider.MICROSOFT, 50),
]
# Already registered elsewhere, so availability checks have something to refuse.
DEMO_TAKEN = ["acme.com", "example.com", "example.org", "demo.com", "sales.com"]


@transaction.atomic
def ensure_demo_key(workspace: Workspace) -> None:
    """Give the portal workspace a sandbox workspace (plan on, Visa 4242) and, if the portal
    workspace has no Instantly key yet, an `all:all` sandbox key stored through the portal's
    own key service. Also makes sure there is some stock and a few taken domains."""
    sandbox_workspace, _ = SandboxWorkspace.objects.get_or_create(
        external_ref=f"portal:{workspace.slug}",
        defaults={
            "name": workspace.name,
            "plan_active": True,
            "has_payment_method": True,
            "card_brand": "Visa",
            "card_last4": "4242",
            "card_name": f"{workspace.name} Team",
        },
    )
    for domain, provider, mailboxes in DEMO_PREWARMED:
        if not TakenDomain.objects.filter(domain=domain).exists():
            PreWarmedDomain.objects.get_or_create(
                domain=domain,
                defaults={"account_type": provider, "mailbox_count": mailboxes},
            )
    for domain in DEMO_TAKEN:
        TakenDomain.objects.get_or_create(domain=domain)
    if InstantlyKey.objects.filter(workspace=workspace).exists():
        return
    secret = sandbox_key_create(
        workspace=sandbox_workspace, scopes=["all:all"], name="Demo"
    )
    instantly_key_save(
        workspace=workspace,
        by=None,
        secret=secret,
        label="Sandbox",
        base_url=settings.INSTANTLY_SANDBOX_BASE_URL,
    )


# Order states in which the domains and mailboxes exist at Instantly.
_AT_INSTANTLY = {"placed", "provisioning", "ready", "partially_cancelled", "cancelled"}
_DEMO_NAMESPACE = uuid.UUID("5d0f3c52-31a4-4c1e-9a43-0a6c3c8f1d2e")


@transaction.atomic
def mirror_demo_orders(workspace: Workspace) -> int:
    """Make the sandbox hold what the seeded history says was bought, so the first fulfilment
    poll finds the domains and mailboxes the demo shows (instead of flagging them stuck) and
    extra mailboxes can be ordered on owned domains. Ids are derived from the names, so a
    second run adds nothing. Returns the number of mailboxes mirrored."""
    sandbox_workspace = SandboxWorkspace.objects.get(
        external_ref=f"portal:{workspace.slug}"
    )
    items = (
        OrderItem.objects.filter(
            order__workspace=workspace, order__status__in=_AT_INSTANTLY
        )
        .select_related("order")
        .prefetch_related("mailboxes")
    )
    # Domains already there (an earlier run, or bought for real by the demo's worker) stay
    # as they are; their mailboxes came with them.
    present = set(DomainOrder.objects.values_list("domain", flat=True))
    domains: list[DomainOrder] = []
    accounts: list[DfyAccount] = []
    for item in items:
        if item.domain in present:
            continue
        present.add(item.domain)
        placed_at = item.order.placed_at or item.order.created_at
        # Instantly's timestamps (and the accounts cursor) carry milliseconds, not micro.
        placed_at = placed_at.replace(microsecond=placed_at.microsecond // 1000 * 1000)
        pre_warmed = item.order.order_type == "pre_warmed_up"
        row = DomainOrder(
            id=uuid.uuid5(_DEMO_NAMESPACE, item.domain),
            workspace=sandbox_workspace,
            domain=item.domain,
            email_provider=item.provider,
            forwarding_domain=item.forwarding_domain,
            is_pre_warmed_up=pre_warmed,
            timestamp_created=placed_at,
            timestamp_cancelled=item.order.finished_at
            if item.order.status == "cancelled"
            else None,
        )
        domains.append(row)
        for mailbox in item.mailboxes.all():
            email = f"{mailbox.email_prefix}@{item.domain}"
            accounts.append(
                DfyAccount(
                    id=uuid.uuid5(_DEMO_NAMESPACE, email),
                    workspace=sandbox_workspace,
                    order=row,
                    domain=item.domain,
                    email=email,
                    email_provider=item.provider,
                    first_name=mailbox.first_name,
                    last_name=mailbox.last_name,
                    is_pre_warmed_up=pre_warmed,
                    password=secrets.token_urlsafe(12),
                    timestamp_created=placed_at,
                    timestamp_cancelled=mailbox.cancelled_at.replace(
                        microsecond=mailbox.cancelled_at.microsecond // 1000 * 1000
                    )
                    if mailbox.cancelled_at
                    else None,
                )
            )
    DomainOrder.objects.bulk_create(domains, ignore_conflicts=True, batch_size=500)
    DfyAccount.objects.bulk_create(accounts, ignore_conflicts=True, batch_size=500)
    return len(accounts)
