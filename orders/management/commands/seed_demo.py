"""Demo users and the "Demo" workspace. Idempotent: a second run changes nothing."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction

from orders.models import Membership, Role, Workspace

DEMO_PASSWORD = "demo-pass-2026"  # noqa: S105 - published demo login for the embedded default only
DEMO_USERS = [
    # username, role in Demo, approval limit, is_staff
    ("operator", Role.OPERATOR, None, False),
    ("lead", Role.LEAD, Decimal("500.00"), False),
    ("admin", Role.ADMIN, None, False),
]
STAFF_USER = "staff"


class Command(BaseCommand):
    help = "Create the demo workspace, its three members and a staff superuser (idempotent)."

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        user_model = get_user_model()
        workspace, _ = Workspace.objects.get_or_create(
            slug="demo", defaults={"name": "Demo"}
        )
        for username, role, limit, _staff in DEMO_USERS:
            user = user_model.objects.filter(username=username).first()
            if user is None:
                user = user_model.objects.create_user(
                    username=username,
                    email=f"{username}@demo.example",
                    password=DEMO_PASSWORD,
                )
            Membership.objects.get_or_create(
                user=user,
                workspace=workspace,
                defaults={"role": role, "approval_limit": limit},
            )
        if not user_model.objects.filter(username=STAFF_USER).exists():
            user_model.objects.create_superuser(
                username=STAFF_USER, email="staff@demo.example", password=DEMO_PASSWORD
            )
        self._seed_sandbox_key(workspace)
        # A year of orders so the history and the dashboard show something real.
        call_command("seed_history", workspace=workspace.slug, verbosity=0)
        self._mirror_at_sandbox(workspace)
        self.stdout.write(self.style.SUCCESS("Demo data is in place."))

    def _mirror_at_sandbox(self, workspace: Workspace) -> None:
        """What the history says was bought exists at the sandbox too."""
        try:
            from orders.demo import mirror_demo_orders
        except ImportError:
            return
        mirror_demo_orders(workspace)

    def _seed_sandbox_key(self, workspace: Workspace) -> None:
        """Give the demo workspace a sandbox key once the sandbox can issue one."""
        try:
            from orders.demo import ensure_demo_key
        except ImportError:
            return
        ensure_demo_key(workspace)
        from orders import enqueue
        from orders.models import InstantlyKey, KeyStatus

        if InstantlyKey.objects.filter(
            workspace=workspace, status=KeyStatus.UNVERIFIED
        ).exists():
            # The worker started by `make run` verifies it, so the dashboard shows a real status.
            enqueue.verify_key(workspace_id=workspace.pk)
