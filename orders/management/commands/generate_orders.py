"""Generate a bulk order history (the history benchmark's fixture) into a workspace:

    manage.py generate_orders --workspace bench --orders 10000 --mailboxes 200000

The generator itself is `orders.history_generator`.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from orders.history_generator import orders_generate, workspace_team
from orders.models import Workspace


class Command(BaseCommand):
    help = "Generate a bulk order history (bench fixture): orders, items, mailboxes, quotes, events."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--workspace", default="bench", help="Workspace slug (created if missing)."
        )
        parser.add_argument("--orders", type=int, default=10_000)
        parser.add_argument("--mailboxes", type=int, default=200_000)
        parser.add_argument("--seed", type=int, default=1)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["orders"] < 1:
            raise CommandError("--orders must be at least 1.")
        workspace, _ = Workspace.objects.get_or_create(
            slug=options["workspace"], defaults={"name": options["workspace"].title()}
        )
        requesters, approvers = workspace_team(workspace)
        result = orders_generate(
            workspace=workspace,
            requesters=requesters,
            approvers=approvers,
            orders=options["orders"],
            mailboxes=options["mailboxes"],
            seed=options["seed"],
            every_status=True,
        )
        self.stdout.write(
            f"{result.orders} orders, {result.items} domains, {result.mailboxes} mailboxes, "
            f"{result.quotes} quotes, {result.events} events in {workspace.slug}."
        )
