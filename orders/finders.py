"""Finding domains for a draft: suggestions, background availability checks, pre-warmed
stock and the domains a workspace already owns (for extra mailboxes).

Reads that answer in one call (suggestions, pre-warmed stock) happen in the request; a check
of many domains runs in the worker, batch by batch under Instantly's check limit, and writes its
progress to its DomainCheck row, which the page polls.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from orders import enqueue, instantly, instantly_keys, mirror, quotes
from orders.domains import (
    CHECK_BATCH_SIZE,
    chunked,
    domain_problem,
    normalise_domain,
)
from orders.models import (
    CheckStatus,
    DomainCheck,
    Order,
    OrderType,
    Provider,
    RemoteAccount,
    RemoteDomain,
    Workspace,
)
from orders.rules import PROVIDER_RULES, tld_policy

logger = logging.getLogger(__name__)


class SuggestForm(forms.Form):
    domain = forms.CharField(max_length=253, label="Brand or domain")
    tld = forms.MultipleChoiceField(
        choices=[("com", ".com"), ("org", ".org")],
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def clean_domain(self) -> str:
        value: str = self.cleaned_data["domain"].strip().lower()
        # A bare brand ("acme") is allowed: Instantly wants a domain, so we make one.
        if "." not in value:
            value = f"{value}.com"
        problem = domain_problem(value)
        if problem:
            raise forms.ValidationError(f"“{value}” is not a domain: {problem}.")
        return value


def _remote_problem(exc: instantly.InstantlyError) -> str:
    if isinstance(exc, instantly.RateLimited):
        return "Instantly asked us to slow down; try again in a moment."
    if isinstance(exc, instantly.InstantlyTransientError):
        return "Instantly did not answer in time; try again in a moment."
    if (
        isinstance(exc, instantly.InstantlyValidationError)
        and exc.code == "restricted_domain"
    ):
        return f"Instantly refuses suggestions for this name: it contains the restricted keyword “{exc.keyword}”."
    return f"Instantly refused: {exc}"


def suggestions(*, order: Order, domain: str, tld: Sequence[str]) -> dict[str, Any]:
    """Available domains similar to `domain`, minus those already in the draft."""
    taken = set(order.items.values_list("domain", flat=True))
    try:
        with instantly_keys.instantly_client_for(workspace=order.workspace) as client:
            found = client.similar_domains(domain, tlds=tuple(tld) or ("com", "org"))
    except instantly_keys.InstantlyKeyMissing as exc:
        return {"problem": exc.problem, "fix_key": True}
    except instantly.InstantlyError as exc:
        return {
            "problem": _remote_problem(exc),
            "fix_key": isinstance(exc, instantly_keys.KEY_PROBLEMS),
        }
    return {"suggested": [d for d in found if d not in taken], "query": domain}


# --- Availability checks -------------------------------------------------------------------


@transaction.atomic
def domain_check_start(
    *,
    order: Order,
    by: User,
    domains: Sequence[str],
    invalid: Mapping[str, str] | None = None,
) -> DomainCheck:
    """Create the check and enqueue it after commit; one row, many batches. `invalid` maps
    pasted tokens that are not domains to the reason, shown as "invalid" badges."""
    invalid = invalid or {}
    check = DomainCheck.objects.create(
        workspace=order.workspace,
        order=order,
        requested_by=by,
        domains=[*domains, *(t for t in invalid if t not in domains)],
        results={t: {"state": "invalid", "reason": r} for t, r in invalid.items()},
    )
    enqueue.check_domains(check_id=check.pk)
    return check


def _state_of(result: instantly.DomainAvailability) -> dict[str, str]:
    if result.available:
        return {"state": "available"}
    if result.unavailable_reason == "restricted" or result.restricted_keyword:
        return {"state": "restricted", "keyword": result.restricted_keyword or ""}
    return {"state": "taken"}


def domain_check_run(
    *,
    check: DomainCheck,
    client: instantly.InstantlyClient | None = None,
    final: bool = False,
) -> DomainCheck:
    """Check every domain not yet checked, batch by batch, saving after each batch so the page
    shows progress. Safe to run again: finished domains are skipped. Never inside a transaction.

    A transient failure propagates (the task retries it) unless this is the `final` try: then
    the check fails with the reason, so the page stops polling instead of "checking" forever."""
    policy = tld_policy(check.order.order_type if check.order else "dfy")
    pending = []
    for domain in check.domains:
        if domain in check.results:
            continue
        if policy is not None and policy.problem(domain):
            check.results[domain] = {"state": "unsupported_tld"}
        elif problem := domain_problem(domain):
            check.results[domain] = {"state": "invalid", "reason": problem}
        else:
            pending.append(domain)
    check.status = CheckStatus.RUNNING
    check.save(update_fields=["results", "status"])

    def waiting(seconds: float, reason: str) -> None:
        check.waiting_until = timezone.now() + timedelta(seconds=seconds)
        check.wait_reason = (
            f"Waiting {seconds:.0f} s for Instantly's limit of 30 checks a minute."
        )
        check.save(update_fields=["waiting_until", "wait_reason"])

    try:
        own_client = client is None
        client = client or instantly_keys.instantly_client_for(
            workspace=check.workspace, on_wait=waiting
        )
        try:
            for batch in chunked(pending, CHECK_BATCH_SIZE):
                # Instantly may echo a name in another form (case, spaces): match on the
                # normalised name, and never leave a row "checking" when no answer names it.
                answers = {
                    normalise_domain(result.domain): result
                    for result in client.check_domains(batch)
                }
                for domain in batch:
                    answer = answers.get(normalise_domain(domain))
                    check.results[domain] = (
                        _state_of(answer) if answer else {"state": "no_answer"}
                    )
                check.wait_reason = ""
                check.save(update_fields=["results", "wait_reason"])
        finally:
            if own_client:
                client.close()
    except instantly_keys.InstantlyKeyMissing as exc:
        return _check_failed(check, exc.problem)
    except instantly.InstantlyTransientError as exc:
        if not final:
            raise  # the task retries later: what was checked so far stays
        return _check_failed(
            check,
            f"Instantly did not answer after several tries ({exc.message}). The domains "
            "checked so far are kept; check the rest again later.",
        )
    except instantly.InstantlyError as exc:
        return _check_failed(check, _remote_problem(exc))
    check.status = CheckStatus.DONE
    check.finished_at = timezone.now()
    check.save(update_fields=["status", "finished_at"])
    return check


def _check_failed(check: DomainCheck, reason: str) -> DomainCheck:
    check.status = CheckStatus.FAILED
    check.error = reason
    check.finished_at = timezone.now()
    check.save(update_fields=["status", "error", "finished_at"])
    return check


def check_context(check: DomainCheck) -> dict[str, Any]:
    rows = [(domain, check.results.get(domain)) for domain in check.domains]
    return {
        "check": check,
        "check_rows": rows,
        "available": [d for d, r in rows if r and r["state"] == "available"],
    }


# --- Pre-warmed stock and owned domains -----------------------------------------------------


def prewarmed_stock(
    *, order: Order, search: str, extensions: Sequence[str]
) -> dict[str, Any]:
    allowed = [e for e in extensions if e in {"com", "org", "co"}]
    try:
        with instantly_keys.instantly_client_for(workspace=order.workspace) as client:
            stock = client.pre_warmed_domains(
                extensions=allowed or None, search=search.strip() or None
            )
    except instantly_keys.InstantlyKeyMissing as exc:
        return {"problem": exc.problem, "fix_key": True}
    except instantly.InstantlyError as exc:
        return {
            "problem": _remote_problem(exc),
            "fix_key": isinstance(exc, instantly_keys.KEY_PROBLEMS),
        }
    taken = set(order.items.values_list("domain", flat=True))
    rows = [
        {
            "domain": d.domain,
            "provider": d.account_type or Provider.GOOGLE,
            "provider_label": Provider(d.account_type).label
            if d.account_type in Provider.values
            else "Google",
        }
        for d in stock
        if d.domain not in taken
    ]
    priced = _prewarmed_prices(order, rows[:PREWARMED_PRICED])
    for row in rows:
        row["price"] = priced.get(str(row["domain"]))
    return {"stock": rows, "searched": True, "priced": bool(priced)}


# How many listed pre-warmed domains are priced (one simulation covers them all).
PREWARMED_PRICED = 50


@dataclass(frozen=True)
class StockPrice:
    mailboxes: int
    per_year: Decimal
    per_month: Decimal


def _prewarmed_prices(
    order: Order, rows: Sequence[Mapping[str, Any]]
) -> dict[str, StockPrice]:
    """What each listed domain includes and costs. The stock list names only the domain and
    its provider; one simulation of buying them all tells the mailboxes and prices (nothing
    is bought). Trouble leaves the rows unpriced: the quote prices them once added."""
    if not rows:
        return {}
    payload = {
        "order_type": OrderType.PRE_WARMED_UP,
        "items": [
            {"domain": r["domain"], "email_provider": int(r["provider"])} for r in rows
        ],
    }
    try:
        with instantly_keys.instantly_client_for(workspace=order.workspace) as client:
            result = client.simulate_order(payload)
    except (instantly_keys.InstantlyKeyMissing, instantly.InstantlyError) as exc:
        logger.info("pre-warmed stock not priced: %s", type(exc).__name__)
        return {}
    return {
        item.domain: StockPrice(
            mailboxes=len(item.accounts),
            per_year=quotes.cents(item.domain_price),
            per_month=quotes.cents(item.accounts_price),
        )
        for item in result.order_items
    }


# Owned domains listed at once; a search narrows a longer list.
OWNED_SHOWN = 100


def owned_domains(*, workspace: Workspace, search: str = "") -> dict[str, Any]:
    """Domains from the remote mirror with their fixed provider and how many mailboxes they
    hold of the provider's most; Microsoft ones are listed as not eligible because Instantly
    takes no extra Microsoft mailboxes through the API, full ones because they are full."""
    search = search.strip().lower()[:253]
    domains = RemoteDomain.objects.filter(
        workspace=workspace, cancelled_remote_at__isnull=True
    ).order_by("domain")
    if search:
        domains = domains.filter(domain__contains=search)
    matching = domains.count()
    domains = domains[:OWNED_SHOWN]
    counts = dict(
        RemoteAccount.objects.filter(
            workspace=workspace, cancelled_remote_at__isnull=True
        )
        .values_list("domain")
        .annotate(n=Count("pk"))
        .values_list("domain", "n")
    )
    rows = []
    for remote in domains:
        if remote.provider is None:
            # Listed by the orders endpoint but no mailbox read yet: the provider, which
            # extra mailboxes must match, is not known.
            eligible, reason = False, "Provider not known yet; refresh once more."
        elif not PROVIDER_RULES[remote.provider].extra_accounts_allowed:
            eligible, reason = (
                False,
                "Microsoft domains cannot take extra mailboxes through the API.",
            )
        else:
            eligible, reason = True, ""
        held = counts.get(remote.domain, 0)
        most = (
            PROVIDER_RULES[remote.provider].max_mailboxes if remote.provider else None
        )
        if eligible and most is not None and held >= most:
            eligible, reason = (
                False,
                f"full, {remote.get_provider_display()} domains hold at most {most} mailboxes.",
            )
        rows.append(
            {
                "domain": remote.domain,
                "provider": remote.provider,
                "provider_label": remote.get_provider_display() or "provider unknown",
                "mailboxes": held,
                "capacity": most,
                "room": max(most - held, 0) if most is not None else None,
                "eligible": eligible,
                "reason": reason,
                "forwarding_domain": remote.forwarding_domain,
                "forwarding_mode": remote.forwarding_mode,
            }
        )
    state = mirror.refresh_state(workspace=workspace)
    return {
        "owned": rows,
        "owned_search": search,
        "owned_matching": matching,
        "last_seen": state.done_at,
        "refreshing": state.running,
    }


def owned_refresh_start(*, workspace: Workspace) -> None:
    """Ask the worker to re-read the workspace's domains; the panel polls until it is done."""
    mirror.refresh_requested(workspace=workspace)
    enqueue.refresh_remote_mirror(workspace_id=workspace.pk)
