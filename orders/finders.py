"""Finding domains for a draft: suggestions, background availability checks, pre-warmed
stock and the domains a workspace already owns (for extra mailboxes).

Reads that answer in one call (suggestions, pre-warmed stock) happen in the request; a check
of many domains runs in the worker, batch by batch under Instantly's check limit, and writes its
progress to its DomainCheck row, which the page polls. One run at a time works on a check, under
a lease; the sweeper sends a check whose run died (a killed worker) again, and the next run
carries on from the last saved batch.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from orders import conf, enqueue, instantly, instantly_keys, mirror, quotes, ratelimit
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
    OrderItem,
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


# A batch may wait up to a whole window of Instantly's check limit for its turn (a paste of
# more than 1,500 domains, or a second check within the minute): the check's client has that
# long on top of the usual deadline, so the page says how long and the run waits, instead of
# failing the call and burning the task's retries in a few seconds.
CHECK_WINDOW_SECONDS = ratelimit.CHECK_MINUTE
# One run at a time works on a check, under a lease kept in `DomainCheck.waiting_until`: a run
# claims the check when no lease is running, renews the lease with every save and saves nothing
# once it has lost it. A live run saves at least once per call, and a call ends within the
# check's deadline, so a lease that ran out belongs to a dead run (a killed worker, whose
# message Redis returns only after its two-hour visibility timeout). The margin covers the
# clocks of different hosts.
CHECK_LEASE_MARGIN_SECONDS = 15
# The sweeper sends a check again once its lease ran out this long ago (longer than a task
# retry's countdown, which waits with the lease released), or once it has waited this long for
# its first run (a lost message).
CHECK_RESEND_AFTER_SECONDS = 60
# A check still unfinished this long after it was asked for is stopped, so the page stops
# waiting: 5,000 domains take a few minutes at 30 calls a minute.
CHECK_GIVE_UP_SECONDS = 3600
CHECK_SWEEP_BATCH = 100
UNFINISHED = (CheckStatus.QUEUED, CheckStatus.RUNNING)
CHECK_STATE = [
    "results",
    "status",
    "waiting_until",
    "wait_reason",
    "error",
    "finished_at",
]


def _check_deadline_seconds() -> float:
    return conf.instantly_deadline_seconds() + CHECK_WINDOW_SECONDS


class _LeaseLost(Exception):
    """Another run took the check over: this one stops without saving anything more."""


@dataclass
class _Lease:
    check: DomainCheck
    until: datetime

    def save(self, **fields: object) -> None:
        """Save `fields` and renew the lease, only while this run still holds it."""
        self._write(timezone.now() + timedelta(seconds=_lease_seconds()), fields)

    def end(self, **fields: object) -> None:
        """Save `fields` and let the lease go: the check is finished."""
        self._write(None, fields)

    def release(self) -> None:
        """Let the lease go now so that the task's retry may claim the check."""
        self._write(timezone.now(), {})

    def _write(self, until: datetime | None, fields: dict[str, object]) -> None:
        held = DomainCheck.objects.filter(
            pk=self.check.pk, waiting_until=self.until
        ).update(waiting_until=until, **fields)
        if not held:
            raise _LeaseLost
        for name, value in {**fields, "waiting_until": until}.items():
            setattr(self.check, name, value)
        if until is not None:
            self.until = until


def _lease_seconds() -> float:
    return _check_deadline_seconds() + CHECK_LEASE_MARGIN_SECONDS


def _check_claim(check: DomainCheck) -> _Lease | None:
    """The check's lease for this run, with what earlier runs saved; None when the check is
    finished or another run holds a lease that has not run out."""
    now = timezone.now()
    until = now + timedelta(seconds=_lease_seconds())
    claimed = (
        DomainCheck.objects.filter(pk=check.pk, status__in=UNFINISHED)
        .filter(Q(waiting_until__isnull=True) | Q(waiting_until__lte=now))
        .update(status=CheckStatus.RUNNING, waiting_until=until)
    )
    # Only the check's own columns: the task's select_related order and workspace stay.
    check.refresh_from_db(fields=CHECK_STATE)
    return _Lease(check, until) if claimed else None


def domain_check_run(
    *,
    check: DomainCheck,
    client: instantly.InstantlyClient | None = None,
    final: bool = False,
) -> DomainCheck:
    """Check every domain not yet checked, batch by batch, saving after each batch so the page
    shows progress. Safe to run again and twice at once: finished domains are skipped, and
    the check's lease lets one run at a time work on it (a second run returns at once, a run
    that lost its lease stops), so progress never goes backwards and no saved batch is
    checked again. Never inside a transaction.

    A transient failure propagates (the task retries it) unless this is the `final` try: then
    the check fails with the reason, so the page stops polling instead of "checking" forever."""
    lease = _check_claim(check)
    if lease is None:
        return check
    try:
        return _check_batches(lease, client, final)
    except _LeaseLost:
        logger.warning("domain check %s: another run took it over", check.pk)
        check.refresh_from_db(fields=CHECK_STATE)
        return check


def _check_batches(
    lease: _Lease, client: instantly.InstantlyClient | None, final: bool
) -> DomainCheck:
    check = lease.check
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
    lease.save(results=check.results)

    def waiting(seconds: float, reason: str) -> None:
        lease.save(
            wait_reason=f"Waiting {seconds:.0f} s for Instantly's limit of 30 checks a minute."
        )

    try:
        own_client = client is None
        client = client or instantly_keys.instantly_client_for(
            workspace=check.workspace,
            on_wait=waiting,
            deadline_seconds=_check_deadline_seconds(),
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
                lease.save(results=check.results, wait_reason="")
        finally:
            if own_client:
                client.close()
    except instantly_keys.InstantlyKeyMissing as exc:
        return _check_failed(lease, exc.problem)
    except instantly.InstantlyTransientError as exc:
        if not final:
            lease.release()
            raise  # the task retries later: what was checked so far stays
        return _check_failed(
            lease,
            f"Instantly did not answer after several tries ({exc.message}). The domains "
            "checked so far are kept; check the rest again later.",
        )
    except instantly.InstantlyError as exc:
        return _check_failed(lease, _remote_problem(exc))
    lease.end(status=CheckStatus.DONE, finished_at=timezone.now())
    return check


def _check_failed(lease: _Lease, reason: str) -> DomainCheck:
    lease.end(status=CheckStatus.FAILED, error=reason, finished_at=timezone.now())
    return lease.check


def domain_checks_sweep(*, now: datetime | None = None) -> int:
    """Beat: send again the checks no run is working on, those whose run died (its lease ran
    out) and those whose message was lost (never started); the lease makes a duplicate
    harmless. A check past its bound is stopped instead, with what it found so far. Returns
    how many were sent."""
    now = now or timezone.now()
    quiet_since = now - timedelta(seconds=CHECK_RESEND_AFTER_SECONDS)
    unattended = DomainCheck.objects.filter(status__in=UNFINISHED).filter(
        Q(waiting_until__lt=quiet_since)
        | Q(waiting_until__isnull=True, created_at__lt=quiet_since)
    )
    stopped = unattended.filter(
        created_at__lt=now - timedelta(seconds=CHECK_GIVE_UP_SECONDS)
    ).update(
        status=CheckStatus.FAILED,
        error="The check stopped before it finished. The domains checked so far are "
        "kept; check the rest again.",
        finished_at=now,
        waiting_until=None,
    )
    sent = list(unattended.values_list("pk", flat=True)[:CHECK_SWEEP_BATCH])
    for pk in sent:
        enqueue.check_domains(check_id=pk)
    if sent or stopped:
        logger.info("domain check sweep: %s sent again, %s stopped", len(sent), stopped)
    return len(sent)


def check_context(check: DomainCheck) -> dict[str, Any]:
    rows = [(domain, check.results.get(domain)) for domain in check.domains]
    # A draft made from a template checks domains it already holds (orders/order_shapes.py):
    # those say so instead of offering to add them a second time.
    in_draft = set(
        OrderItem.objects.filter(order=check.order_id).values_list("domain", flat=True)
    )
    return {
        "check": check,
        "check_rows": rows,
        "in_draft": in_draft,
        "available": [
            d for d, r in rows if r and r["state"] == "available" and d not in in_draft
        ],
    }


# --- Pre-warmed stock and owned domains -----------------------------------------------------


def prewarmed_stock(
    *, order: Order, search: str, extensions: Sequence[str]
) -> dict[str, Any]:
    taken = set(order.items.values_list("domain", flat=True))
    return prewarmed_offers(
        workspace=order.workspace, search=search, extensions=extensions, taken=taken
    )


def prewarmed_offers(
    *,
    workspace: Workspace,
    search: str = "",
    extensions: Sequence[str] = (),
    taken: Collection[str] = (),
    priced: int | None = None,
) -> dict[str, Any]:
    """The pre-warmed stock now, less `taken`: {"stock": rows with their "price"
    (StockPrice, or None past the first `priced` rows or when the simulation failed)} or
    {"problem": words, "fix_key": bool}. The builder's finder and the capacity planner."""
    allowed = [e for e in extensions if e in {"com", "org", "co"}]
    try:
        with instantly_keys.instantly_client_for(workspace=workspace) as client:
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
    prices = _prewarmed_prices(workspace, rows[: priced or PREWARMED_PRICED])
    for row in rows:
        row["price"] = prices.get(str(row["domain"]))
    return {"stock": rows, "searched": True, "priced": bool(prices)}


# How many listed pre-warmed domains are priced (one simulation covers them all).
PREWARMED_PRICED = 50


@dataclass(frozen=True)
class StockPrice:
    mailboxes: int
    per_year: Decimal
    per_month: Decimal


def _prewarmed_prices(
    workspace: Workspace, rows: Sequence[Mapping[str, Any]]
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
        with instantly_keys.instantly_client_for(workspace=workspace) as client:
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
