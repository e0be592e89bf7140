from __future__ import annotations

import pytest
from django.core.management import call_command

from orders.models import Mailbox, Order, Workspace
from sandbox.models import DfyAccount, DomainOrder

pytestmark = pytest.mark.django_db


def test_demo_orders_bought_in_the_history_exist_at_the_sandbox_once():
    call_command("seed_demo", verbosity=0)
    workspace = Workspace.objects.get(slug="demo")
    bought = Order.objects.filter(
        workspace=workspace,
        status__in=[
            "placed",
            "provisioning",
            "ready",
            "partially_cancelled",
            "cancelled",
        ],
    )
    mailboxes = Mailbox.objects.filter(item__order__in=bought).count()
    first = (DomainOrder.objects.count(), DfyAccount.objects.count())

    call_command("seed_demo", verbosity=0)

    assert bought.exists()
    assert first[1] == mailboxes
    assert (DomainOrder.objects.count(), DfyAccount.objects.count()) == first
    assert DfyAccount.objects.filter(timestamp_cancelled__isnull=False).exists()


def test_the_portal_reads_the_mirrored_demo_back_page_by_page():
    from orders import instantly_keys, mirror
    from orders.models import RemoteAccount
    from orders.ratelimit import MemoryRateLimiter
    from sandbox.testing import in_process_transport

    call_command("seed_demo", verbosity=0)
    workspace = Workspace.objects.get(slug="demo")
    workspace.instantly_key.base_url = "http://testserver/sandbox/api/v2"
    workspace.instantly_key.save(update_fields=["base_url"])

    with instantly_keys.instantly_client_for(
        workspace=workspace,
        transport=in_process_transport(),
        limiter=MemoryRateLimiter(),
    ) as client:
        result = mirror.remote_mirror_refresh(workspace=workspace, client=client)

    assert result.accounts == DfyAccount.objects.count()
    assert (
        RemoteAccount.objects.filter(workspace=workspace).count()
        == DfyAccount.objects.count()
    )
