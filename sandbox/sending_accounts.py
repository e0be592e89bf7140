"""The accounts API's view of a DFY mailbox: setup, connection and warmup, computed at read time.

Instantly's general accounts API (GET /accounts, /accounts/{email}) lists every sending
account; the sandbox knows only the workspace's DFY mailboxes, so it lists those that are not
cancelled. Nothing runs in the background: the state follows from the clock
(`timezone.now`, which tests move with time_machine) and the account's health switches
(`sandbox.switches.account_health_set`). The choices are in docs/instantly.md ("The accounts
API"):

- Setup ends when provisioning does, the moment the DFY password appears (creation +
  `provisioning_delay_seconds`). Until then: `setup_pending` true, status 1, warmup 0,
  no score, no warmup start, no daily limit.
- Then: connected (status 1) and warming (warmup 1), with a score of
  min(100, 40 + 3 × whole days since setup ended).
- A switch replaces the status or the warmup status, whatever the stage.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q

from sandbox.models import DfyAccount
from sandbox.rules import (
    ACCOUNT_PROVIDER_CODES,
    DFY_DAILY_LIMIT,
    DFY_WARMUP_LIMIT,
    WARMUP_SCORE_MAX,
    WARMUP_SCORE_PER_DAY,
    WARMUP_SCORE_START,
    AccountStatus,
    Provider,
    WarmupStatus,
)
from sandbox.timestamps import iso

# What an erroring account's `status_message` says (the schema's example shape).
_STATUS_MESSAGES: dict[int, dict[str, Any]] = {
    AccountStatus.CONNECTION_ERROR: {
        "code": "EAUTH",
        "e_message": "Invalid login: 535 authentication failed",
        "responseCode": 535,
    },
    AccountStatus.SOFT_BOUNCE_ERROR: {
        "code": "EENVELOPE",
        "e_message": "error: mailbox temporarily unavailable",
        "responseCode": 452,
    },
    AccountStatus.SENDING_ERROR: {
        "code": "EENVELOPE",
        "command": "DATA",
        "e_message": "error: data command failed: 550-5.4.5 daily user sending limit exceeded",
        "responseCode": 550,
    },
}


@dataclass(frozen=True)
class AccountQuery:
    """The list's query parameters that narrow it (validated by the view)."""

    search: str = ""
    status: int | None = None
    provider_code: int | None = None
    filter: str = ""


@dataclass(frozen=True)
class AccountState:
    setup_pending: bool
    status: int
    warmup_status: int
    warmup_start: datetime | None
    score: int | None
    updated: datetime


def warmup_score(*, warming_since: datetime, now: datetime) -> int:
    days = max(0, (now - warming_since) // timedelta(days=1))
    return min(WARMUP_SCORE_MAX, WARMUP_SCORE_START + WARMUP_SCORE_PER_DAY * days)


def account_state(
    account: DfyAccount, *, now: datetime, provisioning_seconds: int
) -> AccountState:
    set_up_at = account.timestamp_created + timedelta(seconds=provisioning_seconds)
    pending = set_up_at > now
    natural_warmup = WarmupStatus.PAUSED if pending else WarmupStatus.ACTIVE
    changes = [account.timestamp_created]
    if not pending:
        changes.append(set_up_at)
    if account.health_changed_at is not None:
        changes.append(account.health_changed_at)
    return AccountState(
        setup_pending=pending,
        status=AccountStatus.ACTIVE
        if account.status_override is None
        else account.status_override,
        warmup_status=natural_warmup
        if account.warmup_status_override is None
        else account.warmup_status_override,
        warmup_start=None if pending else set_up_at,
        score=None if pending else warmup_score(warming_since=set_up_at, now=now),
        updated=max(changes),
    )


def sending_account_json(
    account: DfyAccount, *, now: datetime, provisioning_seconds: int
) -> dict[str, Any]:
    """The published `Account` object (additionalProperties false: no other field)."""
    state = account_state(account, now=now, provisioning_seconds=provisioning_seconds)
    data: dict[str, Any] = {
        "email": account.email,
        "timestamp_created": iso(account.timestamp_created),
        "timestamp_updated": iso(state.updated),
        "first_name": account.first_name,
        "last_name": account.last_name,
        "organization": str(account.workspace_id),
        "status": state.status,
        "warmup_status": state.warmup_status,
        "setup_pending": state.setup_pending,
        # Instantly manages DFY mailboxes for the customer (inferred meaning of the flag).
        "is_managed_account": True,
        "provider_code": ACCOUNT_PROVIDER_CODES[Provider(account.email_provider)],
        "stat_warmup_score": state.score,
        "timestamp_warmup_start": iso(state.warmup_start)
        if state.warmup_start
        else None,
        "daily_limit": None if state.setup_pending else DFY_DAILY_LIMIT,
        "warmup": {"limit": DFY_WARMUP_LIMIT, "increment": "disabled"},
        "tracking_domain_name": None,
        "tracking_domain_status": None,
    }
    if state.status in _STATUS_MESSAGES:
        data["status_message"] = _STATUS_MESSAGES[state.status]
    return data


def _status_is(value: int) -> Q:
    if value == AccountStatus.ACTIVE:
        return Q(status_override__isnull=True) | Q(status_override=value)
    return Q(status_override=value)


def _warmup_is(value: WarmupStatus, natural: Q) -> Q:
    """Switched to `value`, or not switched and naturally there."""
    return Q(warmup_status_override=value) | (
        Q(warmup_status_override__isnull=True) & natural
    )


def query_filter(query: AccountQuery, *, set_up_before: datetime) -> Q:
    """The rows `query` selects, as one condition, so cursors and limits stay in SQL.
    `set_up_before`: accounts created before it have finished setup."""
    set_up = Q(timestamp_created__lte=set_up_before)
    condition = Q()
    if query.search:
        condition &= Q(email__icontains=query.search)
    if query.status is not None:
        condition &= _status_is(query.status)
    if query.provider_code is not None:
        dfy = [
            p
            for p, code in ACCOUNT_PROVIDER_CODES.items()
            if code == query.provider_code
        ]
        condition &= Q(email_provider__in=[int(p) for p in dfy])
    by_filter = {
        "ACC_FILTER_PAUSED": _status_is(AccountStatus.PAUSED),
        "ACC_FILTER_ERROR": Q(status_override__lt=0),
        "ACC_FILTER_PW_ACCOUNTS": Q(is_pre_warmed_up=True),
        "ACC_FILTER_DFY_SETUP_PENDING": ~set_up,
        "ACC_FILTER_W_ACTIVE": _warmup_is(WarmupStatus.ACTIVE, set_up),
        "ACC_FILTER_W_PAUSED": _warmup_is(WarmupStatus.PAUSED, ~set_up),
        "ACC_FILTER_W_ERROR": Q(warmup_status_override__lt=0),
    }
    # ACC_FILTER_DFY and ACC_FILTER_NO_CTD (no custom tracking domain) hold for every row.
    return condition & by_filter.get(query.filter, Q())
