"""Writes on the sandbox: workspaces, keys and cancellations (keyword-only, typed, transactional)."""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Sequence

from django.db import transaction
from django.db.models import Exists, OuterRef

from sandbox.models import DfyAccount, DomainOrder, SandboxKey, SandboxWorkspace
from sandbox.rules import SCOPE_PATTERN
from sandbox.timestamps import now_ms

logger = logging.getLogger(__name__)

KEY_PREFIX = "sbx_"


def key_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def sandbox_key_create(
    *, workspace: SandboxWorkspace, scopes: Sequence[str], name: str = ""
) -> str:
    """Issue a key and return it in clear, the only time it exists anywhere."""
    bad = [scope for scope in scopes if not SCOPE_PATTERN.match(scope)]
    if bad:
        raise ValueError(
            f"Not a scope (resource:all|create|read|update|delete): {', '.join(bad)}"
        )
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key = SandboxKey.objects.create(
        workspace=workspace,
        name=name,
        key_hash=key_hash(secret),
        last4=secret[-4:],
        scopes=list(scopes),
    )
    logger.info(
        "Sandbox key %s issued for %s with scopes %s", key, workspace, ",".join(scopes)
    )
    return secret


@transaction.atomic
def sandbox_workspace_create(
    *,
    name: str = "Sandbox",
    scopes: Sequence[str] = ("all:all",),
    plan_active: bool = True,
    has_payment_method: bool = True,
    external_ref: str = "",
) -> tuple[SandboxWorkspace, str]:
    """A sandbox workspace with one key; returns the workspace and the clear key."""
    workspace = SandboxWorkspace.objects.create(
        name=name,
        external_ref=external_ref,
        plan_active=plan_active,
        has_payment_method=has_payment_method,
    )
    return workspace, sandbox_key_create(workspace=workspace, scopes=scopes, name=name)


def key_find(secret: str) -> SandboxKey | None:
    """The active key with this secret, with its workspace."""
    return (
        SandboxKey.objects.select_related("workspace")
        .filter(key_hash=key_hash(secret), revoked_at__isnull=True)
        .first()
    )


@transaction.atomic
def accounts_cancel(
    *, workspace: SandboxWorkspace, emails: Sequence[str]
) -> list[DfyAccount]:
    """Cancel the workspace's mailboxes with these addresses; cancelling a domain's last live
    mailbox cancels the domain's order row too. Addresses that match nothing are skipped; one
    already cancelled comes back with its original timestamp, so a retry sees the same list."""
    wanted = list(
        dict.fromkeys(
            e.strip().lower()
            for e in emails
            if "@" in e and "\x00" not in e and len(e) <= 320
        )
    )
    now = now_ms()
    matches = list(
        DfyAccount.objects.select_for_update()
        .filter(workspace=workspace, email__in=wanted)
        .order_by("-timestamp_created")
    )
    chosen: dict[str, DfyAccount] = {}
    for account in matches:
        # A prefix can be reused after a cancellation: prefer the live account, else the newest.
        current = chosen.get(account.email)
        if current is None or (
            current.timestamp_cancelled is not None
            and account.timestamp_cancelled is None
        ):
            chosen[account.email] = account
    to_cancel = [a for a in chosen.values() if a.timestamp_cancelled is None]
    DfyAccount.objects.filter(pk__in=[a.pk for a in to_cancel]).update(
        timestamp_cancelled=now
    )
    for account in to_cancel:
        account.timestamp_cancelled = now
    touched = {a.order_id for a in to_cancel}
    DomainOrder.objects.active().filter(pk__in=touched).exclude(
        Exists(DfyAccount.objects.active().filter(order=OuterRef("pk")))
    ).update(timestamp_cancelled=now)
    return [chosen[email] for email in wanted if email in chosen]
