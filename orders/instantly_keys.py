"""Writes with side effects: keyword-only, typed, transactional (docs/architecture.md)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from datetime import datetime
from typing import TypedDict, Unpack

import httpx
from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from orders import conf, crypto
from orders.instantly import (
    InstantlyAuthError,
    InstantlyClient,
    InstantlyError,
    InstantlyPlanError,
    InstantlyScopeError,
    shared_transport,
)
from orders.models import (
    InstantlyKey,
    KeyStatus,
    PendingInstantlyKey,
    PendingKeyStatus,
    Workspace,
)
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
    """Install a key as the workspace's active one, unverified, with no check first. For setup
    tooling (the sandbox demo, tests); the settings page goes through `instantly_key_propose`
    so that a wrong paste never replaces a working key. The clear secret is encrypted before
    it is stored and only its last 4 characters are kept readable."""
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


@transaction.atomic
def instantly_key_propose(
    *,
    workspace: Workspace,
    by: User | None,
    secret: str,
    label: str,
    base_url: str,
) -> PendingInstantlyKey:
    """Store a pasted key as pending: encrypted like the active key, unused until
    `instantly_key_verify_pending` hears Instantly accept it. The active key (if any) keeps
    serving every call meanwhile. A newer paste supersedes an attempt still running.

    The caller enqueues `verify_pending_key_task` on commit with the returned row's id."""
    secret = secret.strip()
    # The workspace row serialises this against a verification that is promoting a key.
    Workspace.objects.select_for_update().only("pk").get(pk=workspace.pk)
    PendingInstantlyKey.objects.filter(workspace=workspace).delete()
    pending = PendingInstantlyKey.objects.create(
        workspace=workspace,
        label=label,
        secret_encrypted=crypto.encrypt(secret),
        last4=secret[-4:],
        base_url=base_url,
        created_by=by,
    )
    logger.info(
        "Instantly key ····%s proposed for workspace %s; verifying before use",
        pending.last4,
        workspace.slug,
    )
    return pending


def instantly_keys_rotate() -> int:
    """Re-encrypt every stored secret with the newest encryption key; returns how many."""
    count = 0
    for model in (InstantlyKey, PendingInstantlyKey):
        rows = model.objects.exclude(secret_encrypted="").only("pk", "secret_encrypted")
        for row in rows.iterator():
            rotated = crypto.rotate(row.secret_encrypted)
            if rotated != row.secret_encrypted:
                model.objects.filter(
                    pk=row.pk, secret_encrypted=row.secret_encrypted
                ).update(secret_encrypted=rotated)
                count += 1
    return count


# --- Instantly client factory and key verification ----------------------------------------
# The client (orders/instantly/) knows nothing about models; these functions connect it to a
# workspace's stored key and record what Instantly says about that key.


# Errors that a person fixes in the workspace's key settings, not by trying again.
KEY_PROBLEMS = (InstantlyAuthError, InstantlyScopeError, InstantlyPlanError)


NO_KEY_PROBLEM = "This workspace has no Instantly API key yet."
KEY_VERIFYING_PROBLEM = (
    "This workspace's Instantly API key is still being verified; try again in a moment."
)


class InstantlyKeyMissing(Exception):
    """The workspace has no usable Instantly API key yet; an admin adds one in workspace
    settings. `problem` is the sentence to show a person (a first key may be verifying)."""

    def __init__(self, message: str, *, problem: str = NO_KEY_PROBLEM) -> None:
        super().__init__(message)
        self.problem = problem


def _key_missing(workspace: Workspace) -> InstantlyKeyMissing:
    verifying = PendingInstantlyKey.objects.filter(
        workspace=workspace, status=PendingKeyStatus.VERIFYING
    ).exists()
    return InstantlyKeyMissing(
        f"workspace {workspace.slug} has no Instantly API key",
        problem=KEY_VERIFYING_PROBLEM if verifying else NO_KEY_PROBLEM,
    )


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
    seconds = conf.instantly_timeout_seconds()
    return httpx.Timeout(
        connect=min(5.0, seconds), read=seconds, write=seconds, pool=min(5.0, seconds)
    )


def instantly_client_for(
    *,
    workspace: Workspace,
    key: PendingInstantlyKey | None = None,
    **overrides: Unpack[InstantlyClientOptions],
) -> InstantlyClient:
    """A client for the workspace's active key, with the shared rate limiter and the settings'
    timeouts and deadline. A 401/402/403 met by any call of this client marks the key invalid /
    no_plan / missing_scope. Raises InstantlyKeyMissing when the workspace has no active key
    (a pending key is never used for this). `key` is only for verifying a pending key.

    Build it outside transactions and close it (it is a context manager) when done.
    """
    source: InstantlyKey | PendingInstantlyKey | None = key
    if source is None and workspace.key_read_with_membership is not None:
        # Read with the request's membership (`workspace_view(with_key=True)`): the quote
        # runs on every edit, and this saves it a query. Only a key read in this request is
        # used this way; anywhere else the key is read fresh below.
        (source,) = workspace.key_read_with_membership
    elif source is None:
        # One key per workspace (one-to-one): no ORDER BY.
        source = next(iter(InstantlyKey.objects.filter(workspace=workspace)[:1]), None)
    if source is None:
        raise _key_missing(workspace)
    secret = source.reveal()
    options: InstantlyClientOptions = {
        "transport": shared_transport(),
        "timeout": instantly_timeout(),
        "deadline_seconds": conf.instantly_deadline_seconds(),
        "limiter": get_limiter(),
        "on_auth_failure": functools.partial(
            _instantly_key_record_auth_failure,
            key_id=source.pk,
            secret_encrypted=source.secret_encrypted,
        )
        if isinstance(source, InstantlyKey)
        else None,
    }
    options.update(overrides)
    return InstantlyClient(
        api_key=secret,
        base_url=source.base_url,
        limiter_bucket=limiter_bucket_for(api_key=secret, base_url=source.base_url),
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
        raise _key_missing(workspace)
    checked_secret = key.secret_encrypted
    status, detail = _verification_outcome(workspace, None, overrides)
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


def _verification_outcome(
    workspace: Workspace,
    key: PendingInstantlyKey | None,
    overrides: InstantlyClientOptions,
) -> tuple[KeyStatus, str]:
    """One verification call for the active key (key=None) or a pending one: what Instantly
    says about it, as a key status and the detail to show."""
    # The caller records the outcome itself, so the client's callback is not needed.
    options: InstantlyClientOptions = {"on_auth_failure": None}
    options.update(overrides)
    try:
        with instantly_client_for(workspace=workspace, key=key, **options) as client:
            client.verify()
    except InstantlyError as exc:
        status = next(
            (s for cls, s in KEY_STATUS_BY_ERROR if isinstance(exc, cls)),
            KeyStatus.UNREACHABLE,
        )
        return status, _key_status_detail(exc)
    except crypto.SecretUnreadable:
        return (
            KeyStatus.INVALID,
            "The stored key cannot be decrypted; save the key again.",
        )
    return KeyStatus.OK, ""


def instantly_key_verify_pending(
    *, pending_id: int, **overrides: Unpack[InstantlyClientOptions]
) -> PendingInstantlyKey | None:
    """Verify a pasted key, then either make it the workspace's active key (only when Instantly
    accepts it for DFY orders) or refuse it with Instantly's reason. Either way the pending
    secret is erased; the active key is untouched by a refusal, so quoting keeps working.

    Makes one read call, so never call it inside a transaction or a request; enqueue
    `verify_pending_key_task`. Returns None when the attempt is gone, finished or superseded
    (a redelivered task does nothing)."""
    pending = (
        PendingInstantlyKey.objects.select_related("workspace", "created_by")
        .filter(pk=pending_id, status=PendingKeyStatus.VERIFYING)
        .first()
    )
    if pending is None:
        return None
    workspace = pending.workspace
    status, detail = _verification_outcome(workspace, pending, overrides)
    with transaction.atomic():
        Workspace.objects.select_for_update().only("pk").get(pk=workspace.pk)
        current = (
            PendingInstantlyKey.objects.select_for_update()
            .filter(pk=pending.pk, status=PendingKeyStatus.VERIFYING)
            .first()
        )
        if current is None or current.secret_encrypted != pending.secret_encrypted:
            logger.info(
                "Pending Instantly key for %s superseded during verification",
                workspace.slug,
            )
            return None
        now = timezone.now()
        if status == KeyStatus.OK:
            _instantly_key_promote(current, at=now)
        current.status = (
            PendingKeyStatus.ACCEPTED
            if status == KeyStatus.OK
            else PendingKeyStatus.REFUSED
        )
        current.outcome = status
        current.status_detail = detail
        current.finished_at = now
        current.secret_encrypted = ""
        current.save(
            update_fields=[
                "status",
                "outcome",
                "status_detail",
                "finished_at",
                "secret_encrypted",
            ]
        )
    logger.info(
        "Pending Instantly key ····%s for %s: %s (%s)",
        current.last4,
        workspace.slug,
        current.status,
        status,
    )
    return current


def _instantly_key_promote(
    pending: PendingInstantlyKey, *, at: datetime
) -> InstantlyKey:
    """Inside the verification's transaction: the verified pending key becomes the active key,
    verified at `at`; the replaced secret is gone from that row."""
    key = (
        InstantlyKey.objects.select_for_update()
        .filter(workspace_id=pending.workspace_id)
        .first()
    )
    replaced = key.masked if key is not None else None
    if key is None:
        key = InstantlyKey(workspace_id=pending.workspace_id)
    key.label = pending.label
    key.secret_encrypted = pending.secret_encrypted
    key.last4 = pending.last4
    key.base_url = pending.base_url
    key.status = KeyStatus.OK
    key.status_detail = ""
    key.last_verified_at = at
    key.updated_by = pending.created_by
    key.save()
    logger.info(
        "Instantly key for workspace %s is now ····%s (replaced %s)",
        pending.workspace.slug,
        key.last4,
        replaced or "no key",
    )
    return key
