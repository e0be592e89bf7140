from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from orders.instantly_keys import instantly_keys_rotate
from orders.webhooks import webhook_secrets_reencrypt


class Command(BaseCommand):
    help = (
        "Re-encrypt stored secrets (Instantly API keys, webhook signing secrets) with the "
        "first key of DFY_ENCRYPTION_KEYS."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        keys = instantly_keys_rotate()
        webhooks = webhook_secrets_reencrypt()
        self.stdout.write(
            f"Re-encrypted {keys} API key(s) and {webhooks} webhook signing secret(s)."
        )
