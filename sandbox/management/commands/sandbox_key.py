"""Issue a sandbox API key and print only the key, e.g. for curl:

KEY=$(DJANGO_DEBUG=true .venv/bin/python manage.py sandbox_key --scopes all:all)
curl -H "Authorization: Bearer $KEY" http://127.0.0.1:8000/sandbox/api/v2/dfy-email-account-orders
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from sandbox.models import SandboxWorkspace
from sandbox.services import sandbox_key_create


class Command(BaseCommand):
    help = "Create a sandbox workspace key (the workspace too, if new) and print only the key."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--workspace",
            default="Sandbox",
            help=(
                "Sandbox workspace name (created if missing). The portal's Demo workspace"
                " uses the one named Demo."
            ),
        )
        parser.add_argument(
            "--scopes",
            nargs="+",
            default=["all:all"],
            help="Scopes, space or comma separated, e.g. dfy_email_account_orders:read all:create.",
        )
        parser.add_argument("--name", default="", help="A label for the key.")
        parser.add_argument(
            "--no-plan",
            action="store_true",
            help="The workspace has no paid plan (402).",
        )
        parser.add_argument(
            "--no-payment-method",
            action="store_true",
            help="No default card: real orders answer checkout_required.",
        )

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        scopes = [
            scope.strip()
            for arg in options["scopes"]
            for scope in arg.split(",")
            if scope.strip()
        ]
        workspace = (
            SandboxWorkspace.objects.filter(name=options["workspace"])
            .order_by("created_at")
            .first()
        )
        if workspace is None:
            workspace = SandboxWorkspace.objects.create(name=options["workspace"])
        workspace.plan_active = not options["no_plan"]
        workspace.has_payment_method = not options["no_payment_method"]
        workspace.save(
            update_fields=["plan_active", "has_payment_method", "updated_at"]
        )
        try:
            key = sandbox_key_create(
                workspace=workspace, scopes=scopes, name=options["name"]
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(key)
