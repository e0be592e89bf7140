"""Sandbox data for the demo: called by `manage.py seed_demo`, safe to run again."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction

from orders.models import InstantlyKey, Workspace
from orders.services import instantly_key_save
from sandbox.models import PreWarmedDomain, SandboxWorkspace, TakenDomain
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
