"""Writes with side effects (STYLE G3): keyword-only, typed, transactional."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from orders import crypto
from orders.models import InstantlyKey, KeyStatus, Workspace

logger = logging.getLogger(__name__)


def instantly_base_url(*, mode: str) -> str:
    """The API base for a key mode: Instantly itself, or the portal's own sandbox."""
    if mode == "live":
        return str(settings.INSTANTLY_LIVE_BASE_URL)
    return str(settings.INSTANTLY_SANDBOX_BASE_URL)


@transaction.atomic
def instantly_key_save(
    *, workspace: Workspace, by: AbstractBaseUser | None, secret: str, label: str, base_url: str
) -> InstantlyKey:
    """Add or replace the workspace's key. The clear secret is encrypted before it is stored and
    only its last 4 characters are kept readable; the key starts unverified."""
    secret = secret.strip()
    key, created = InstantlyKey.objects.select_for_update().get_or_create(
        workspace=workspace,
        defaults={"secret_encrypted": "", "last4": "", "base_url": base_url},
    )
    key.label = label
    key.secret_encrypted = crypto.encrypt(secret)
    key.last4 = secret[-4:]
    key.base_url = base_url
    key.status = KeyStatus.UNVERIFIED
    key.status_detail = ""
    key.last_verified_at = None
    key.updated_by = by
    key.save()
    logger.info(
        "Instantly key %s for workspace %s (····%s)", "added" if created else "replaced", workspace.slug, key.last4
    )
    return key


def instantly_keys_rotate() -> int:
    """Re-encrypt every stored secret with the newest encryption key; returns how many."""
    count = 0
    for key in InstantlyKey.objects.only("pk", "secret_encrypted").iterator():
        rotated = crypto.rotate(key.secret_encrypted)
        if rotated != key.secret_encrypted:
            InstantlyKey.objects.filter(pk=key.pk).update(secret_encrypted=rotated)
            count += 1
    return count
