"""A believable year of order history in the Demo workspace, so a first `make run` shows real
pages: a few hundred orders in every state and with every provider, with quotes, mailboxes
and events. Idempotent: a second run finds its own first order and changes nothing.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError, CommandParser

from orders.history_generator import attempt_id, orders_generate
from orders.models import Membership, Order, Workspace

DEMO_ORDERS = 320
DEMO_SEED = 2026


class Command(BaseCommand):
    help = "Seed the demo workspace with a year of order history (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--workspace", default="demo")
        parser.add_argument("--orders", type=int, default=DEMO_ORDERS)

    def handle(self, *args: Any, **options: Any) -> None:
        workspace = Workspace.objects.filter(slug=options["workspace"]).first()
        if workspace is None:
            raise CommandError(
                f"No workspace {options['workspace']!r}; run seed_demo first."
            )
        marker = attempt_id(workspace, DEMO_SEED, 0)
        if Order.objects.filter(
            workspace=workspace, submission_attempt_id=marker
        ).exists():
            if options["verbosity"]:
                self.stdout.write("Demo history is already in place.")
            return
        members = list(
            Membership.objects.filter(workspace=workspace).select_related("user")
        )
        if not members:
            raise CommandError(f"{workspace} has no members to own the orders.")
        requesters: list[User] = [m.user for m in members]
        approvers: list[User] = [m.user for m in members if m.is_lead]
        result = orders_generate(
            workspace=workspace,
            requesters=requesters,
            approvers=approvers or requesters,
            orders=options["orders"],
            seed=DEMO_SEED,
            every_status=True,
        )
        if options["verbosity"]:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Seeded {result.orders} orders ({result.mailboxes} mailboxes, "
                    f"{result.events} events) into {workspace}."
                )
            )
