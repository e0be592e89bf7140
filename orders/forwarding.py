"""Web forwarding of the domains a workspace bought: read it, set it (redirect or stealth),
remove it, and record every change on the timeline of the order that bought the domain.

A change is one quick, idempotent call (PUT or DELETE sets an absolute state), so it runs in
the request that asks for it, with a short deadline: the person sees Instantly's answer
(409 still provisioning, 422 unsupported, 502 not applied, 429 slow down) at once and can act
on it, and a repeated click can do no harm. Nothing is spent, so operators may do it.
The HTTP call never runs inside a transaction; the mirror row and the event are written
together afterwards. See docs/instantly.md ("Domain forwarding").
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from datetime import datetime

from django import forms
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django.utils.timesince import timesince

from orders import instantly, instantly_keys
from orders.domains import domain_problem, normalise_domain
from orders.lifecycle import BOUGHT_STATUSES, EventKind, order_event_record
from orders.models import (
    ForwardingMode,
    Order,
    OrderItem,
    OrderType,
    RemoteDomain,
    Workspace,
)

logger = logging.getLogger(__name__)

# The request waits at most this long for Instantly (limiter waits and retries included);
# a longer wait is reported with the time to come back instead.
FORWARDING_DEADLINE_SECONDS = 8.0
# Order types that buy the domain itself (extra_accounts adds mailboxes to an owned one).
BUYING_TYPES = frozenset({OrderType.DFY, OrderType.PRE_WARMED_UP})
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_ALPHA_TLD = re.compile(r"\.[a-z]{2,63}\Z")

PROVISIONING_PROBLEM = (
    "Instantly is still setting up {domain}, so its forwarding cannot be changed yet. "
    "Nothing changed; try again once the domain is ready (usually within minutes)."
)
UNSUPPORTED_PROBLEM = (
    "Instantly does not support forwarding for {domain}. Nothing changed."
)
NOT_APPLIED_PROBLEM = (
    "Instantly could not apply the change, so nothing changed. Try again later."
)
RATE_LIMITED_PROBLEM = (
    "Instantly allows 10 forwarding changes a minute and 60 an hour for this workspace. "
    "Nothing changed; try again in {wait}."
)
NO_ANSWER_PROBLEM = (
    "Instantly did not answer in time, so the change may or may not have been applied. "
    "Read the current forwarding from Instantly before trying again."
)


class ForwardingProblem(Exception):
    """Instantly did not make the change (or could not be asked); `message` is for a person.
    `code`: provisioning, unsupported, not_applied, rate_limited, no_answer, key, refused."""

    def __init__(
        self,
        message: str,
        *,
        code: str,
        retry_after: float | None = None,
        fix_key: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.retry_after = retry_after
        self.fix_key = fix_key


class DomainNotOwned(Exception):
    """The workspace has no bought, uncancelled domain of that name."""


@dataclass(frozen=True)
class ForwardingState:
    """What the portal knows of a domain's forwarding. Empty strings: none configured.
    `source`: "instantly" (just read or written), "mirror" (last list refresh) or "ordered"
    (the forwarding asked for in the order; not read from Instantly yet)."""

    domain: str
    forwarding_domain: str
    forwarding_mode: str
    as_of: datetime | None
    source: str

    @property
    def mode_label(self) -> str:
        try:
            return str(ForwardingMode(self.forwarding_mode).label)
        except ValueError:
            return self.forwarding_mode

    @property
    def age(self) -> str:
        """How long ago the state was read, in words ("just now", "3 minutes")."""
        if self.as_of is None:
            return ""
        if (timezone.now() - self.as_of).total_seconds() < 60:
            return "just now"
        return f"{timesince(self.as_of)} ago"

    def describe(self) -> str:
        if not self.forwarding_domain:
            return f"{self.domain} does not forward"
        mode = self.forwarding_mode or "mode not known"
        return f"{self.domain} forwards to {self.forwarding_domain} ({mode})"


class ForwardingForm(forms.Form):
    forwarding_domain = forms.CharField(
        label="Forward to",
        max_length=253,
        help_text="A domain or host name you own, e.g. mycompany.com.",
    )
    forwarding_mode = forms.ChoiceField(
        label="Mode",
        choices=ForwardingMode,
        initial=ForwardingMode.REDIRECT,
        widget=forms.RadioSelect,
    )

    def __init__(self, *args: object, domain: str, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.domain = domain

    def clean_forwarding_domain(self) -> str:
        raw: str = self.cleaned_data["forwarding_domain"].strip()
        # People paste addresses from the browser: keep only the host.
        host = _SCHEME.sub("", raw).split("/", 1)[0].split("?", 1)[0]
        value = normalise_domain(host)
        problem = domain_problem(value)
        if problem or not _ALPHA_TLD.search(value):
            reason = problem or "the last part must be letters, like .com"
            raise forms.ValidationError(
                f"“{raw}” is not a domain name like mycompany.com: {reason}."
            )
        if value == self.domain:
            raise forms.ValidationError(f"{self.domain} cannot forward to itself.")
        return value


# --- Which domains, which order ----------------------------------------------------------------


def buying_order(*, workspace: Workspace, domain: str) -> Order | None:
    """The newest bought order of this workspace that bought `domain`."""
    return (
        Order.objects.in_workspace(workspace)
        .filter(
            order_type__in=BUYING_TYPES,
            status__in=BOUGHT_STATUSES,
            items__domain=domain,
        )
        .order_by("-placed_at", "-pk")
        .first()
    )


def owned_domain(*, workspace: Workspace, domain: str) -> str:
    """`domain` normalised, when the workspace owns it: Instantly's lists (the mirror) show it
    uncancelled, or one of its bought orders bought it. Raises DomainNotOwned."""
    name = normalise_domain(domain)
    if "\x00" in name or len(name) > 253:
        # Not a name anyone can own, and PostgreSQL could not even look it up.
        raise DomainNotOwned(name)
    remote = RemoteDomain.objects.filter(workspace=workspace, domain=name).first()
    if remote is not None:
        if remote.cancelled_remote_at is not None:
            raise DomainNotOwned(name)
        return name
    if buying_order(workspace=workspace, domain=name) is None:
        raise DomainNotOwned(name)
    return name


def forwarding_known(*, workspace: Workspace, domain: str) -> ForwardingState:
    """The last known forwarding, without asking Instantly: the mirror's row, else what the
    buying order asked for (Instantly records an ordered forwarding as a redirect)."""
    remote = RemoteDomain.objects.filter(workspace=workspace, domain=domain).first()
    if remote is not None:
        return ForwardingState(
            domain=domain,
            forwarding_domain=remote.forwarding_domain,
            forwarding_mode=remote.forwarding_mode
            or (ForwardingMode.REDIRECT if remote.forwarding_domain else ""),
            as_of=remote.seen_at,
            source="mirror",
        )
    item = (
        OrderItem.objects.filter(
            order__workspace=workspace,
            order__order_type__in=BUYING_TYPES,
            order__status__in=BOUGHT_STATUSES,
            domain=domain,
        )
        .order_by("-order__placed_at", "-pk")
        .first()
    )
    target = item.forwarding_domain if item else ""
    return ForwardingState(
        domain=domain,
        forwarding_domain=target,
        forwarding_mode=ForwardingMode.REDIRECT if target else "",
        as_of=None,
        source="ordered",
    )


# --- Calls --------------------------------------------------------------------------------------


def _client(workspace: Workspace) -> instantly.InstantlyClient:
    return instantly_keys.instantly_client_for(
        workspace=workspace,
        deadline_seconds=FORWARDING_DEADLINE_SECONDS,
        max_read_retries=1,
    )


def _wait_words(seconds: float) -> str:
    whole = max(1, math.ceil(seconds))
    if whole < 90:
        return f"{whole} second{'s' if whole != 1 else ''}"
    minutes = math.ceil(whole / 60)
    return f"{minutes} minutes"


def forwarding_problem(exc: Exception, *, domain: str) -> ForwardingProblem:
    """Instantly's answer (or silence) in plain words."""
    if isinstance(exc, instantly_keys.InstantlyKeyMissing):
        return ForwardingProblem(exc.problem, code="key", fix_key=True)
    if isinstance(exc, instantly.ForwardingConflict):
        return ForwardingProblem(
            PROVISIONING_PROBLEM.format(domain=domain), code="provisioning"
        )
    if isinstance(exc, instantly.ForwardingUnsupported):
        return ForwardingProblem(
            UNSUPPORTED_PROBLEM.format(domain=domain), code="unsupported"
        )
    if isinstance(exc, instantly.ForwardingNotApplied):
        return ForwardingProblem(NOT_APPLIED_PROBLEM, code="not_applied")
    # A 429, or a wait (our limiter's or Instantly's Retry-After) longer than the deadline.
    # (A deadline passed while backing off from a server error is not about the limit.)
    if isinstance(exc, instantly.RateLimited) or (
        isinstance(exc, instantly.DeadlineExceeded)
        and exc.retry_after is not None
        and (exc.__cause__ is None or isinstance(exc.__cause__, instantly.RateLimited))
    ):
        wait = exc.retry_after if exc.retry_after is not None else 60.0
        return ForwardingProblem(
            RATE_LIMITED_PROBLEM.format(wait=_wait_words(wait)),
            code="rate_limited",
            retry_after=wait,
        )
    if isinstance(exc, instantly.InstantlyTransientError):
        if not exc.request_sent:
            return ForwardingProblem(
                "Instantly could not be reached; nothing changed. Try again in a moment.",
                code="no_answer",
            )
        return ForwardingProblem(NO_ANSWER_PROBLEM, code="no_answer")
    if isinstance(exc, instantly_keys.KEY_PROBLEMS):
        return ForwardingProblem(
            f"Instantly refused the workspace's API key: {exc}",
            code="key",
            fix_key=True,
        )
    if isinstance(exc, instantly.InstantlyNotFound):
        return ForwardingProblem(
            f"Instantly does not list {domain} as a domain of this workspace. Nothing changed.",
            code="refused",
        )
    return ForwardingProblem(f"Instantly refused the change: {exc}", code="refused")


def _ask(
    workspace: Workspace,
    domain: str,
    client: instantly.InstantlyClient | None,
    call: str,
    **kwargs: str,
) -> instantly.DomainForwarding:
    try:
        if client is not None:
            result: instantly.DomainForwarding = getattr(client, call)(domain, **kwargs)
            return result
        with _client(workspace) as built:
            result = getattr(built, call)(domain, **kwargs)
            return result
    except (instantly_keys.InstantlyKeyMissing, instantly.InstantlyError) as exc:
        logger.info("forwarding %s of %s: %s", call, domain, type(exc).__name__)
        raise forwarding_problem(exc, domain=domain) from exc


def forwarding_get(
    *,
    workspace: Workspace,
    domain: str,
    client: instantly.InstantlyClient | None = None,
) -> ForwardingState:
    """Read the forwarding from Instantly and remember it in the mirror. Raises
    DomainNotOwned or ForwardingProblem."""
    name = owned_domain(workspace=workspace, domain=domain)
    answer = _ask(workspace, name, client, "get_forwarding")
    return _mirror_write(workspace, name, answer)


def forwarding_set(
    *,
    workspace: Workspace,
    domain: str,
    forwarding_domain: str,
    forwarding_mode: str,
    by: User,
    client: instantly.InstantlyClient | None = None,
) -> ForwardingState:
    """Forward `domain` to `forwarding_domain` with the mode (redirect or stealth) and record
    the change on the buying order's timeline. Raises DomainNotOwned or ForwardingProblem;
    on a problem nothing is recorded."""
    name = owned_domain(workspace=workspace, domain=domain)
    before = forwarding_known(workspace=workspace, domain=name)
    answer = _ask(
        workspace,
        name,
        client,
        "set_forwarding",
        forwarding_domain=forwarding_domain,
        mode=forwarding_mode,
    )
    return _record(workspace, name, answer, before, by, kind=EventKind.FORWARDING_SET)


def forwarding_remove(
    *,
    workspace: Workspace,
    domain: str,
    by: User,
    client: instantly.InstantlyClient | None = None,
) -> ForwardingState:
    """Remove the forwarding (idempotent at Instantly) and record it on the timeline."""
    name = owned_domain(workspace=workspace, domain=domain)
    before = forwarding_known(workspace=workspace, domain=name)
    answer = _ask(workspace, name, client, "remove_forwarding")
    return _record(
        workspace, name, answer, before, by, kind=EventKind.FORWARDING_REMOVED
    )


# --- Writes -------------------------------------------------------------------------------------


def _mirror_write(
    workspace: Workspace, domain: str, answer: instantly.DomainForwarding
) -> ForwardingState:
    now = timezone.now()
    target = answer.forwarding_domain or ""
    mode = answer.forwarding_mode if target and answer.forwarding_mode else ""
    if mode not in ForwardingMode.values:
        mode = ""
    updated = RemoteDomain.objects.filter(workspace=workspace, domain=domain).update(
        forwarding_domain=target[:253], forwarding_mode=mode, seen_at=now
    )
    if not updated:
        # Instantly just answered for this domain, so it is ours; the next list refresh
        # fills in the rest of the row.
        RemoteDomain.objects.get_or_create(
            workspace=workspace,
            domain=domain,
            defaults={"forwarding_domain": target[:253], "forwarding_mode": mode},
        )
    return ForwardingState(
        domain=domain,
        forwarding_domain=target,
        forwarding_mode=mode,
        as_of=now,
        source="instantly",
    )


@transaction.atomic
def _record(
    workspace: Workspace,
    domain: str,
    answer: instantly.DomainForwarding,
    before: ForwardingState,
    by: User,
    *,
    kind: EventKind,
) -> ForwardingState:
    after = _mirror_write(workspace, domain, answer)
    order = buying_order(workspace=workspace, domain=domain)
    if order is None:
        # Bought outside the portal: there is no order timeline to write to.
        logger.info("forwarding of %s changed by user %s (no order)", domain, by.pk)
        return after
    if kind == EventKind.FORWARDING_SET:
        message = f"{domain} → {after.forwarding_domain} ({after.forwarding_mode})"
        if before.forwarding_domain:
            message += f", was {before.forwarding_domain} ({before.forwarding_mode or 'mode not known'})"
    else:
        message = f"{domain} no longer forwards"
        if before.forwarding_domain:
            message += f" (was {before.forwarding_domain})"
    order_event_record(
        order=order,
        by=by,
        kind=kind,
        from_status=order.status,
        to_status=order.status,
        domain=domain,
        forwarding_domain=after.forwarding_domain,
        forwarding_mode=after.forwarding_mode,
        previous_forwarding_domain=before.forwarding_domain,
        previous_forwarding_mode=before.forwarding_mode,
        message=message,
    )
    return after
