from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from orders.services import instantly_keys_rotate


class Command(BaseCommand):
    help = "Re-encrypt stored API secrets with the first key of DFY_ENCRYPTION_KEYS."

    def handle(self, *args: Any, **options: Any) -> None:
        count = instantly_keys_rotate()
        self.stdout.write(f"Re-encrypted {count} secret(s).")
