"""Effective prices and fault switches for one request (workspace value, else global, else
default), and the per-mailbox health switches of the accounts API."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import F, Q, QuerySet

from sandbox.models import (
    DfyAccount,
    Knobs,
    PaymentFailure,
    SandboxSettings,
    SandboxWorkspace,
)
from sandbox.rules import DEFAULT_KNOBS, AccountStatus, Provider, WarmupStatus
from sandbox.timestamps import now_ms

COUNTERS = ("burst_429_remaining", "error_5xx_remaining")
KNOB_FIELDS = (*DEFAULT_KNOBS, "payment_failure_reason")


@dataclass(frozen=True)
class Prices:
    domain_per_year: Decimal
    google_per_month: Decimal
    airmail_per_month: Decimal
    prewarmed_per_month: Decimal
    microsoft_per_domain_per_month: Decimal
    free_domains: frozenset[str]
    free_domain_count: int
    discount_percent: Decimal


@dataclass(frozen=True)
class Effective:
    prices: Prices
    latency_ms: int
    error_5xx_rate: Decimal
    timeout_after_record: bool
    timeout_without_record: bool
    timeout_seconds: float
    payment_failure_reason: str  # "" when payments go through
    unavailable_providers: frozenset[Provider]
    empty_prewarmed_stock: bool
    provisioning_delay_seconds: int
    enforce_rate_limits: bool
    forwarding_unsupported: bool = False
    forwarding_apply_fails: bool = False


def _pick(
    name: str, workspace: SandboxWorkspace | None, global_row: SandboxSettings
) -> Any:
    for row in (workspace, global_row):
        value = getattr(row, name, None)
        if value is not None:
            return value
    return DEFAULT_KNOBS[name]


def _providers(raw: object) -> frozenset[Provider]:
    values = raw if isinstance(raw, list) else []
    return frozenset(Provider(v) for v in values if v in {int(p) for p in Provider})


def effective(
    workspace: SandboxWorkspace | None, global_row: SandboxSettings | None = None
) -> Effective:
    global_row = global_row or SandboxSettings.load()

    def pick(name: str) -> Any:
        return _pick(name, workspace, global_row)

    free = pick("free_domains")
    reason = (
        workspace.payment_failure_reason if workspace else ""
    ) or global_row.payment_failure_reason
    return Effective(
        prices=Prices(
            domain_per_year=Decimal(pick("domain_price_per_year")),
            google_per_month=Decimal(pick("google_price_per_month")),
            airmail_per_month=Decimal(pick("airmail_price_per_month")),
            prewarmed_per_month=Decimal(pick("prewarmed_price_per_month")),
            microsoft_per_domain_per_month=Decimal(
                pick("microsoft_price_per_domain_per_month")
            ),
            free_domains=frozenset(str(d).strip().lower() for d in free)
            if isinstance(free, list)
            else frozenset(),
            free_domain_count=int(pick("free_domain_count")),
            discount_percent=Decimal(pick("discount_percent")),
        ),
        latency_ms=int(pick("latency_ms")),
        error_5xx_rate=Decimal(pick("error_5xx_rate")),
        timeout_after_record=bool(pick("timeout_after_record")),
        timeout_without_record=bool(pick("timeout_without_record")),
        timeout_seconds=float(pick("timeout_after_record_seconds")),
        payment_failure_reason="" if reason == PaymentFailure.NONE else reason,
        unavailable_providers=_providers(pick("unavailable_providers")),
        empty_prewarmed_stock=bool(pick("empty_prewarmed_stock")),
        provisioning_delay_seconds=int(pick("provisioning_delay_seconds")),
        enforce_rate_limits=bool(pick("enforce_rate_limits")),
        forwarding_unsupported=bool(pick("forwarding_unsupported")),
        forwarding_apply_fails=bool(pick("forwarding_apply_fails")),
    )


def counter_take(
    name: str, workspace: SandboxWorkspace | None, global_row: SandboxSettings
) -> bool:
    """Use up one unit of a "next N requests" switch, the workspace's first. Safe across
    processes: the conditional UPDATE lets only one request take the last unit."""
    candidates: list[QuerySet[Any]] = []
    if workspace is not None and getattr(workspace, name) > 0:
        candidates.append(SandboxWorkspace.objects.filter(pk=workspace.pk))
    if getattr(global_row, name) > 0:
        candidates.append(SandboxSettings.objects.filter(pk=global_row.pk))
    return any(
        rows.filter(**{f"{name}__gt": 0}).update(**{name: F(name) - 1})
        for rows in candidates
    )


def should_fail_randomly(rate: Decimal) -> bool:
    return rate > 0 and Decimal(secrets.randbelow(1_000_000)) < rate * 1_000_000


@transaction.atomic
def switches_set(*, workspace: SandboxWorkspace | None = None, **values: Any) -> None:
    """Set prices or switches on a sandbox workspace, or globally when `workspace` is None.

    Names are the sandbox.models.Knobs fields, e.g. switches_set(latency_ms=100) or
    switches_set(workspace=ws, payment_failure_reason="card_expired", burst_429_remaining=3).
    On a workspace, None means "use the global value".
    """
    unknown = set(values) - set(KNOB_FIELDS) - set(COUNTERS)
    if unknown:
        raise TypeError(f"Unknown sandbox switch(es): {', '.join(sorted(unknown))}")
    row: Knobs
    if workspace is None:
        row = SandboxSettings.objects.select_for_update().get(
            pk=SandboxSettings.load().pk
        )
    else:
        row = SandboxWorkspace.objects.select_for_update().get(pk=workspace.pk)
    for name, value in values.items():
        setattr(row, name, value)
    row.save(update_fields=list(values))
    if workspace is not None:
        for name, value in values.items():
            setattr(workspace, name, value)


def _accounts_matching(
    emails: Sequence[str], domains: Sequence[str], workspace: SandboxWorkspace | None
) -> QuerySet[DfyAccount]:
    if isinstance(emails, str) or isinstance(domains, str):
        raise TypeError("emails and domains are sequences, not one string")
    wanted = Q(email__in=[e.strip().lower() for e in emails]) | Q(
        domain__in=[d.strip().lower() for d in domains]
    )
    rows = DfyAccount.objects.active().filter(wanted)
    return rows if workspace is None else rows.filter(workspace=workspace)


@transaction.atomic
def account_health_set(
    *,
    emails: Sequence[str] = (),
    domains: Sequence[str] = (),
    status: int | None = None,
    warmup_status: int | None = None,
    workspace: SandboxWorkspace | None = None,
) -> int:
    """Make live mailboxes (by address or by domain) report this `status` (AccountStatus,
    e.g. -1 disconnected, 2 paused) and/or `warmup_status` (WarmupStatus, e.g. 0 paused,
    -1 banned) in the accounts API, until `account_health_clear`. Returns how many changed."""
    if status is None and warmup_status is None:
        raise ValueError("name a status, a warmup_status or both")
    changes: dict[str, object] = {"health_changed_at": now_ms()}
    if status is not None:
        changes["status_override"] = int(AccountStatus(status))
    if warmup_status is not None:
        changes["warmup_status_override"] = int(WarmupStatus(warmup_status))
    return _accounts_matching(emails, domains, workspace).update(**changes)


@transaction.atomic
def account_health_clear(
    *,
    emails: Sequence[str] = (),
    domains: Sequence[str] = (),
    workspace: SandboxWorkspace | None = None,
) -> int:
    """Undo `account_health_set`: the mailboxes report their natural state again."""
    return (
        _accounts_matching(emails, domains, workspace)
        .exclude(status_override__isnull=True, warmup_status_override__isnull=True)
        .update(
            status_override=None,
            warmup_status_override=None,
            health_changed_at=now_ms(),
        )
    )
