"""Writes with side effects (STYLE G3): keyword-only, typed, transactional."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import TypedDict, Unpack

import httpx
from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from orders import crypto
from orders.instantly import (
    InstantlyAuthError,
    InstantlyClient,
    InstantlyError,
    InstantlyPlanError,
    InstantlyScopeError,
    shared_transport,
)
from orders.models import InstantlyKey, KeyStatus, Workspace
from orders.ratelimit import RateLimiter, get_limiter, limiter_bucket_for

logger = logging.getLogger(__name__)


def instantly_base_url(*, mode: str) -> str:
    """The API base for a key mode: Instantly itself, or the portal's own sandbox."""
    if mode == "live":
        return str(settings.INSTANTLY_LIVE_BASE_URL)
    return str(settings.INSTANTLY_SANDBOX_BASE_URL)


@transaction.atomic
def instantly_key_save(
    *,
    workspace: Workspace,
    by: User | None,
    secret: str,
    label: str,
    base_url: str,
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
        "Instantly key %s for workspace %s (····%s)",
        "added" if created else "replaced",
        workspace.slug,
        key.last4,
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


# --- Instantly client factory and key verification ----------------------------------------
# The client (orders/instantly.py) knows nothing about models; these functions connect it to a
# workspace's stored key and record what Instantly says about that key.


# Errors that a person fixes in the workspace's key settings, not by trying again.
KEY_PROBLEMS = (InstantlyAuthError, InstantlyScopeError, InstantlyPlanError)


class InstantlyKeyMissing(Exception):
    """The workspace has no Instantly API key yet; an admin adds one in workspace settings."""


class InstantlyClientOptions(TypedDict, total=False):
    """What a caller (or a test) may override on a client built by `instantly_client_for`."""

    transport: httpx.BaseTransport | None
    timeout: httpx.Timeout | None
    deadline_seconds: float
    max_read_retries: int
    limiter: RateLimiter | None
    sleep: Callable[[float], None]
    on_wait: Callable[[float, str], None] | None
    on_auth_failure: Callable[[InstantlyError], None] | None
    clock: Callable[[], float]
    jitter: Callable[[], float]


KEY_STATUS_BY_ERROR: tuple[tuple[type[InstantlyError], KeyStatus], ...] = (
    (InstantlyAuthError, KeyStatus.INVALID),
    (InstantlyScopeError, KeyStatus.MISSING_SCOPE),
    (InstantlyPlanError, KeyStatus.NO_PLAN),
)


def instantly_timeout() -> httpx.Timeout:
    """Read/write bounded by settings.INSTANTLY_TIMEOUT_SECONDS; connecting and waiting for a
    pooled connection are capped at 5 s, since a slow connect means the remote is down."""
    seconds = float(getattr(settings, "INSTANTLY_TIMEOUT_SECONDS", 15))
    return httpx.Timeout(
        connect=min(5.0, seconds), read=seconds, write=seconds, pool=min(5.0, seconds)
    )


def instantly_client_for(
    *, workspace: Workspace, **overrides: Unpack[InstantlyClientOptions]
) -> InstantlyClient:
    """A client for the workspace's stored key, with the shared rate limiter and the settings'
    timeouts and deadline. A 401/402/403 met by any call of this client marks the key invalid /
    no_plan / missing_scope. Raises InstantlyKeyMissing when the workspace has no key.

    Build it outside transactions and close it (it is a context manager) when done.
    """
    key = InstantlyKey.objects.filter(workspace=workspace).first()
    if key is None:
        raise InstantlyKeyMissing(
            f"workspace {workspace.slug} has no Instantly API key"
        )
    secret = key.reveal()
    options: InstantlyClientOptions = {
        "transport": shared_transport(),
        "timeout": instantly_timeout(),
        "deadline_seconds": float(getattr(settings, "INSTANTLY_DEADLINE_SECONDS", 30)),
        "limiter": get_limiter(),
        "on_auth_failure": functools.partial(
            _instantly_key_record_auth_failure,
            key_id=key.pk,
            secret_encrypted=key.secret_encrypted,
        ),
    }
    options.update(overrides)
    return InstantlyClient(
        api_key=secret,
        base_url=key.base_url,
        limiter_bucket=limiter_bucket_for(api_key=secret, base_url=key.base_url),
        **options,
    )


def _instantly_key_record_auth_failure(
    error: InstantlyError, *, key_id: int, secret_encrypted: str
) -> None:
    """Store what a 401/402/403 says about the key, unless the key was replaced meanwhile."""
    status = next((s for cls, s in KEY_STATUS_BY_ERROR if isinstance(error, cls)), None)
    if status is None:
        return
    updated = InstantlyKey.objects.filter(
        pk=key_id, secret_encrypted=secret_encrypted
    ).update(status=status, status_detail=_key_status_detail(error))
    if updated:
        logger.warning(
            "Instantly key %s is now %s (%s)", key_id, status, error.status_code
        )


def _key_status_detail(error: Exception) -> str:
    return str(error)[: InstantlyKey._meta.get_field("status_detail").max_length or 300]


def instantly_key_verify(
    *, workspace: Workspace, **overrides: Unpack[InstantlyClientOptions]
) -> InstantlyKey:
    """Ask Instantly whether the workspace's key works for DFY orders and store the answer:
    ok / invalid / missing_scope / no_plan / unreachable, plus `last_verified_at`.

    Makes one read call (retried within the deadline), so never call it inside a transaction
    or a request; enqueue `verify_key_task`. Idempotent. If the key is replaced while the call
    runs, the stale answer is dropped and the current key is returned untouched.
    """
    key = InstantlyKey.objects.filter(workspace=workspace).first()
    if key is None:
        raise InstantlyKeyMissing(
            f"workspace {workspace.slug} has no Instantly API key"
        )
    checked_secret = key.secret_encrypted
    status, detail = KeyStatus.OK, ""
    # This function records the outcome itself, so the client's callback is not needed.
    options: InstantlyClientOptions = {"on_auth_failure": None}
    options.update(overrides)
    try:
        with instantly_client_for(workspace=workspace, **options) as client:
            client.verify()
    except InstantlyError as exc:
        status = next(
            (s for cls, s in KEY_STATUS_BY_ERROR if isinstance(exc, cls)),
            KeyStatus.UNREACHABLE,
        )
        detail = _key_status_detail(exc)
    except crypto.SecretUnreadable:
        status, detail = (
            KeyStatus.INVALID,
            "The stored key cannot be decrypted; save the key again.",
        )
    with transaction.atomic():
        current = InstantlyKey.objects.select_for_update().get(pk=key.pk)
        if current.secret_encrypted != checked_secret:
            logger.info(
                "Instantly key for %s replaced during verification; result dropped",
                workspace.slug,
            )
            return current
        current.status = status
        current.status_detail = detail
        current.last_verified_at = timezone.now()
        current.save(update_fields=["status", "status_detail", "last_verified_at"])
    logger.info("Instantly key for %s verified: %s", workspace.slug, status)
    return current
