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
