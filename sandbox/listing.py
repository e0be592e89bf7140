"""The two list endpoints: JSON shapes and cursor pagination.

Both lists run oldest first on (timestamp_created, id), so rows created while a client pages
through land at the end instead of shifting pages. Orders are paged by the last row's id (a
UUID, as in Instantly's examples); accounts by "<id>:<timestamp>" as in Instantly's example,
which needs no look-up; the accounts API's sending accounts by "<timestamp>&<email>", the
published example of its cursor. next_starting_after is left out on the last page.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q
from django.utils import timezone

from sandbox.models import DfyAccount, DomainOrder, SandboxWorkspace
from sandbox.sending_accounts import AccountQuery, query_filter, sending_account_json
from sandbox.timestamps import iso, parse_iso


class BadCursor(Exception):
    pass


def _uuid(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError as exc:
        raise BadCursor(text) from exc


def _after(moment: datetime, pk: uuid.UUID) -> Q:
    return Q(timestamp_created__gt=moment) | Q(timestamp_created=moment, id__gt=pk)


def order_json(order: DomainOrder) -> dict[str, Any]:
    return {
        "workspace_id": str(order.workspace_id),
        "domain": order.domain,
        "forwarding_domain": order.forwarding_domain or None,
        "forwarding_mode": order.forwarding_mode or None,
        "is_pre_warmed_up": order.is_pre_warmed_up,
        "timestamp_created": iso(order.timestamp_created),
        "timestamp_cancelled": iso(order.timestamp_cancelled)
        if order.timestamp_cancelled
        else None,
    }


def account_json(
    account: DfyAccount, *, ready_before: datetime | None = None
) -> dict[str, Any]:
    """With ready_before (the passwords view), the password is empty until the account was
    created before that moment, and for cancelled accounts."""
    data: dict[str, Any] = {
        "id": str(account.id),
        "domain": account.domain,
        "email": account.email,
        "email_provider": account.email_provider,
        "first_name": account.first_name,
        "last_name": account.last_name,
        "is_pre_warmed_up": account.is_pre_warmed_up,
        "timestamp_created": iso(account.timestamp_created),
        # Required by the schema even for live accounts; empty like Instantly's SDK fixtures.
        "timestamp_cancelled": iso(account.timestamp_cancelled)
        if account.timestamp_cancelled
        else "",
    }
    if ready_before is not None:
        ready = (
            account.timestamp_created <= ready_before
            and account.timestamp_cancelled is None
        )
        data["password"] = account.password if ready else ""
    return data


def _page(rows: list[Any], limit: int) -> tuple[list[Any], bool]:
    return rows[:limit], len(rows) > limit


def orders_page(
    workspace: SandboxWorkspace, *, limit: int, starting_after: str
) -> dict[str, Any]:
    rows = DomainOrder.objects.filter(workspace=workspace).order_by(
        "timestamp_created", "id"
    )
    if starting_after:
        pk = _uuid(starting_after)
        anchor = rows.filter(pk=pk).values_list("timestamp_created", flat=True).first()
        if anchor is None:
            raise BadCursor(starting_after)
        rows = rows.filter(_after(anchor, pk))
    items, more = _page(list(rows[: limit + 1]), limit)
    body: dict[str, Any] = {"items": [order_json(order) for order in items]}
    if more:
        body["next_starting_after"] = str(items[-1].id)
    return body


def accounts_page(
    workspace: SandboxWorkspace,
    *,
    limit: int,
    starting_after: str,
    with_passwords: bool,
    provisioning_seconds: int,
) -> dict[str, Any]:
    rows = DfyAccount.objects.filter(workspace=workspace).order_by(
        "timestamp_created", "id"
    )
    if starting_after:
        pk_text, _, moment_text = starting_after.partition(":")
        moment = parse_iso(moment_text)
        if moment is None:
            raise BadCursor(starting_after)
        pk = _uuid(pk_text)
        # Only a cursor this list issued: a row of this workspace with exactly that time.
        if not rows.filter(pk=pk, timestamp_created=moment).exists():
            raise BadCursor(starting_after)
        rows = rows.filter(_after(moment, pk))
    items, more = _page(list(rows[: limit + 1]), limit)
    # Computed at read time from the current delay setting: no background job flips a flag.
    ready_before = (
        timezone.now() - timedelta(seconds=provisioning_seconds)
        if with_passwords
        else None
    )
    body: dict[str, Any] = {
        "items": [account_json(a, ready_before=ready_before) for a in items]
    }
    if more:
        body["next_starting_after"] = (
            f"{items[-1].id}:{iso(items[-1].timestamp_created)}"
        )
    return body


def sending_accounts_page(
    workspace: SandboxWorkspace,
    *,
    limit: int,
    starting_after: str,
    query: AccountQuery,
    provisioning_seconds: int,
) -> dict[str, Any]:
    """The accounts API's list: the workspace's live DFY mailboxes narrowed by `query`."""
    now = timezone.now()
    every = DfyAccount.objects.filter(workspace=workspace)
    rows = (
        every.active()
        .filter(
            query_filter(
                query, set_up_before=now - timedelta(seconds=provisioning_seconds)
            )
        )
        .order_by("timestamp_created", "id")
    )
    if starting_after:
        moment_text, _, email = starting_after.partition("&")
        moment = parse_iso(moment_text)
        if moment is None or not email:
            raise BadCursor(starting_after)
        # Only a cursor this list issued; its row may have been cancelled since.
        pk = (
            every.filter(email=email, timestamp_created=moment)
            .order_by("id")
            .values_list("pk", flat=True)
            .first()
        )
        if pk is None:
            raise BadCursor(starting_after)
        rows = rows.filter(_after(moment, pk))
    items, more = _page(list(rows[: limit + 1]), limit)
    body: dict[str, Any] = {
        "items": [
            sending_account_json(
                account, now=now, provisioning_seconds=provisioning_seconds
            )
            for account in items
        ]
    }
    if more:
        body["next_starting_after"] = (
            f"{iso(items[-1].timestamp_created)}&{items[-1].email}"
        )
    return body


def sending_account(
    workspace: SandboxWorkspace, *, email: str, provisioning_seconds: int
) -> dict[str, Any] | None:
    """One live mailbox of the workspace by address (any case), or None."""
    account = (
        DfyAccount.objects.active()
        .filter(workspace=workspace, email=email.strip().lower())
        .first()
    )
    if account is None:
        return None
    return sending_account_json(
        account, now=timezone.now(), provisioning_seconds=provisioning_seconds
    )
