"""Order shapes: what an order asks for without its domain names, and drafts made from one.

A shape is the order type and, per domain, the provider, the mailboxes' names and the
forwarding. Templates store it as JSON, "order again" reads it off a past order, and the
planner and burn-and-replace build one; `draft_from_shape` turns any of them into a draft
with fresh domains (docs/planning.md, "Order shapes").

Forwarding to another domain of the same order is kept as a reference to that domain's
place in the shape (`#2`), not its old name: in the new draft it points at the new domain
that took that place, so the order keeps its structure, and never at a domain that a failed
or rejected order never bought.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from django.contrib.auth.models import User
from django.db import transaction

from orders import drafts, finders, instantly, instantly_keys
from orders.builder_forms import MAX_DRAFT_DOMAINS, MAX_DRAFT_MAILBOXES
from orders.domains import domain_problem, normalise_domain, shorten
from orders.models import (
    DomainCheck,
    Order,
    OrderItem,
    OrderType,
    RemoteDomain,
    Workspace,
)
from orders.rules import (
    GOOGLE,
    ORDER_TYPE_RULES,
    PROVIDER_RULES,
    DraftItem,
    DraftMailbox,
    name_problem,
    prefix_problem,
)

logger = logging.getLogger(__name__)

SHAPE_FORMAT: Final = 1
# Forwarding to the domain in place N of the same shape (1-based).
SIBLING_MARK: Final = "#"
# Each seed is one similar-domains call: an old order of 200 domains must not make 200.
MAX_SEEDS: Final = 10
SIMILAR_TLDS: Final = ("com", "org")
# Shown (and stored in the check) at most this many problems of a bad shape.
PROBLEMS_SHOWN: Final = 5


class ShapeError(ValueError):
    """Shape data that cannot be used; the message is for a person."""


@dataclass(frozen=True)
class DomainShape:
    provider: int
    mailboxes: tuple[DraftMailbox, ...]
    forwarding_domain: str = ""  # "", a domain, or "#N": the domain in place N


@dataclass(frozen=True)
class OrderShape:
    order_type: str
    domains: tuple[DomainShape, ...]


@dataclass
class ShapedDraft:
    order: Order
    check: DomainCheck | None
    problems: list[str] = field(default_factory=list)


def sibling_forwarding(place: int) -> str:
    return f"{SIBLING_MARK}{place}"


def forwarding_sibling(forwarding: str) -> int | None:
    """The 1-based place a forwarding reference names, or None for "" or a domain."""
    if forwarding.startswith(SIBLING_MARK) and forwarding[1:].isdigit():
        return int(forwarding[1:])
    return None


# --- Reading a shape off an order ---------------------------------------------------------


def shape_of_order(order: Order) -> OrderShape:
    """What `order` asks for (draft or bought), without domain names. A bought order's shape
    is what it asked for: mailboxes cancelled since are in it. Pre-warmed domains come with
    their own mailboxes, so their shape has none."""
    items = drafts.draft_items(order)
    places: dict[str, int] = {}
    for place, item in enumerate(items, start=1):
        places.setdefault(normalise_domain(item.domain), place)
    takes_mailboxes = (
        ORDER_TYPE_RULES[order.order_type].takes_mailboxes
        if order.order_type in ORDER_TYPE_RULES
        else True
    )
    return OrderShape(
        order_type=order.order_type,
        domains=tuple(
            DomainShape(
                provider=item.provider,
                mailboxes=item.mailboxes if takes_mailboxes else (),
                forwarding_domain=_relative_forwarding(
                    item.forwarding_domain, place, places
                ),
            )
            for place, item in enumerate(items, start=1)
        ),
    )


def _relative_forwarding(forwarding: str, place: int, places: Mapping[str, int]) -> str:
    target = normalise_domain(forwarding)
    sibling = places.get(target) if target else None
    if sibling is not None and sibling != place:
        return sibling_forwarding(sibling)
    return forwarding.strip()


# --- JSON (OrderTemplate.shape) -----------------------------------------------------------


def shape_to_json(shape: OrderShape) -> dict[str, Any]:
    return {
        "format": SHAPE_FORMAT,
        "order_type": shape.order_type,
        "domains": [
            {
                "provider": domain.provider,
                "forwarding_domain": domain.forwarding_domain,
                "mailboxes": [
                    [m.first_name, m.last_name, m.email_prefix]
                    for m in domain.mailboxes
                ],
            }
            for domain in shape.domains
        ],
    }


def shape_from_json(data: object) -> OrderShape:
    """The shape stored by `shape_to_json`. Raises ShapeError naming what is wrong when the
    data is not a shape, or is one that could not be ordered (`shape_problems`)."""
    if not isinstance(data, dict):
        raise ShapeError("The saved shape is not readable: it is not an object.")
    if data.get("format") != SHAPE_FORMAT:
        raise ShapeError(
            f"The saved shape is not readable: format {shorten(str(data.get('format')))} "
            f"is not {SHAPE_FORMAT}."
        )
    order_type = data.get("order_type")
    rows = data.get("domains")
    if not isinstance(order_type, str) or not isinstance(rows, list):
        raise ShapeError(
            "The saved shape is not readable: it needs an order type and a list of domains."
        )
    domains = tuple(
        _domain_from_json(row, place) for place, row in enumerate(rows, start=1)
    )
    shape = OrderShape(order_type=order_type, domains=domains)
    problems = shape_problems(shape)
    if problems:
        raise ShapeError(_joined(problems))
    return shape


def _domain_from_json(row: object, place: int) -> DomainShape:
    where = f"The saved shape is not readable: domain {place}"
    if not isinstance(row, dict):
        raise ShapeError(f"{where} is not an object.")
    provider = row.get("provider")
    forwarding = row.get("forwarding_domain", "")
    mailboxes = row.get("mailboxes")
    if isinstance(provider, bool) or not isinstance(provider, int):
        raise ShapeError(f"{where} has no provider number.")
    if not isinstance(forwarding, str):
        raise ShapeError(f"{where} has a forwarding that is not text.")
    if not isinstance(mailboxes, list):
        raise ShapeError(f"{where} has no list of mailboxes.")
    parsed = []
    for number, mailbox in enumerate(mailboxes, start=1):
        if (
            not isinstance(mailbox, list)
            or len(mailbox) != 3
            or not all(isinstance(part, str) for part in mailbox)
        ):
            raise ShapeError(
                f"{where}, mailbox {number} is not [first name, last name, prefix]."
            )
        parsed.append(DraftMailbox(*mailbox))
    return DomainShape(
        provider=provider, mailboxes=tuple(parsed), forwarding_domain=forwarding
    )


def _joined(problems: Sequence[str]) -> str:
    shown = " ".join(problems[:PROBLEMS_SHOWN])
    more = len(problems) - PROBLEMS_SHOWN
    return f"{shown} ({more} more.)" if more > 0 else shown


def shape_problems(shape: OrderShape) -> list[str]:
    """Why this shape could not be ordered with fresh domains, in words naming the domain's
    place and the mailbox; empty when it could."""
    type_rule = ORDER_TYPE_RULES.get(shape.order_type)
    if type_rule is None:
        return [f"The order type “{shorten(shape.order_type)}” is unknown."]
    count = len(shape.domains)
    if count == 0:
        return ["The shape has no domains."]
    problems = []
    if count > MAX_DRAFT_DOMAINS:
        problems.append(
            f"The shape has {count:,} domains; a draft holds at most {MAX_DRAFT_DOMAINS:,}."
        )
    total = sum(len(domain.mailboxes) for domain in shape.domains)
    if total > MAX_DRAFT_MAILBOXES:
        problems.append(
            f"The shape has {total:,} mailboxes; a draft holds at most {MAX_DRAFT_MAILBOXES:,}."
        )
    for place, domain in enumerate(shape.domains, start=1):
        problems.extend(
            _domain_problems(domain, place, count, type_rule.takes_mailboxes)
        )
    return problems


def _domain_problems(
    domain: DomainShape, place: int, count: int, takes_mailboxes: bool
) -> Iterator[str]:
    rule = PROVIDER_RULES.get(domain.provider)
    if rule is None:
        yield f"Domain {place}: the provider {domain.provider} is unknown."
    forwarding = domain.forwarding_domain
    sibling = forwarding_sibling(forwarding)
    if forwarding.startswith(SIBLING_MARK):
        if sibling is None or not 1 <= sibling <= count or sibling == place:
            yield (
                f"Domain {place}: the forwarding “{shorten(forwarding)}” names no other "
                "domain of this shape."
            )
    elif forwarding and (problem := domain_problem(normalise_domain(forwarding))):
        yield f"Domain {place}: the forwarding domain “{shorten(forwarding)}” is not valid ({problem})."
    if not takes_mailboxes:
        if domain.mailboxes:
            yield f"Domain {place}: pre-warmed domains come with their mailboxes; the shape lists some."
        return
    number = len(domain.mailboxes)
    if rule is not None and not rule.min_mailboxes <= number <= rule.accepted_max:
        yield f"Domain {place}: {rule.label} needs {rule.count_text} per domain; the shape has {number}."
    seen: set[str] = set()
    for row, mailbox in enumerate(domain.mailboxes, start=1):
        where = f"Domain {place}, mailbox {row}"
        if problem := prefix_problem(mailbox.email_prefix):
            yield f"{where}: the prefix “{shorten(mailbox.email_prefix)}” {problem}."
        elif mailbox.email_prefix in seen:
            yield f"{where}: the prefix “{mailbox.email_prefix}” is already used on this domain."
        seen.add(mailbox.email_prefix)
        for label, value in (
            ("first name", mailbox.first_name),
            ("last name", mailbox.last_name),
        ):
            if issue := name_problem(value):
                yield f"{where}: the {label} {issue[1]}."


# --- Seeds --------------------------------------------------------------------------------

_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\Z")
_SEPARATORS = re.compile(r"[\s,;]+")


@dataclass(frozen=True)
class Seeds:
    """Brand names to ask suggestions for, each with the TLDs to ask in."""

    labels: dict[str, tuple[str, ...]]
    problems: list[str]
    refused: list[str]  # the problems that are names not usable as seeds


def seeds_read(seeds: Sequence[str]) -> Seeds:
    """Each seed's name without its TLD, in order, duplicates merged. A seed given with a
    .com or .org keeps that TLD ("acme.org" asks for .org names); a bare name or any other
    TLD asks for both. At most MAX_SEEDS names; the problems say what was left out."""
    labels: dict[str, list[str]] = {}
    problems = []
    refused = []
    for token in (t for seed in seeds for t in _SEPARATORS.split(seed) if t):
        name = normalise_domain(token)
        label, _dot, tld = name.partition(".")
        if "." in tld:  # a host such as mail.acme.com: the registrable part
            parts = name.split(".")
            label, tld = parts[-2], parts[-1]
        if not _LABEL.match(label) or len(label) > 63:
            refused.append(f"“{shorten(token)}” is not a name to find domains for.")
            problems.append(refused[-1])
            continue
        wanted = [tld] if tld in SIMILAR_TLDS else list(SIMILAR_TLDS)
        if label not in labels and len(labels) == MAX_SEEDS:
            problems.append(
                f"Only the first {MAX_SEEDS} names are used to find domains; "
                f"“{shorten(token)}” and any after it were left out."
            )
            break
        known = labels.setdefault(label, [])
        known.extend(t for t in wanted if t not in known)
    return Seeds(
        labels={label: tuple(tlds) for label, tlds in labels.items()},
        problems=problems,
        refused=refused,
    )


def seeds_of_order(order: Order) -> list[str]:
    """The names of an order's domains, seeds for "order again": each keeps its TLD."""
    return list(
        dict.fromkeys(
            normalise_domain(d) for d in order.items.values_list("domain", flat=True)
        )
    )


# --- Drafts from a shape ------------------------------------------------------------------


def draft_from_shape(
    *,
    workspace: Workspace,
    by: User,
    shape: OrderShape,
    seeds: Sequence[str],
    title: str = "",
) -> ShapedDraft:
    """A new draft with one fresh domain per domain of `shape`, then a background
    availability check of them that the builder shows.

    New domains come from Instantly's similar-domain suggestions for the seeds (one call per
    seed), spread over the seeds in turn, skipping any domain this workspace has in an order
    or in the mirror of its remote. A pre-warmed shape takes domains of the right provider
    from Instantly's stock instead (one call; preferring names with a seed in them) and
    needs no check. An extra-mailbox shape becomes a new-domain (DFY) draft: new domains
    cannot take "extra" mailboxes.

    Never raises for the remote's sake: with too few domains, no key or a refused call the
    draft holds what was found and `problems` says what is missing. The remote is called
    before the draft is written, never inside a transaction."""
    order_type = (
        OrderType.DFY
        if shape.order_type == OrderType.EXTRA_ACCOUNTS
        else shape.order_type
    )
    read = seeds_read(seeds)
    problems = list(read.problems)
    if shape.order_type == OrderType.EXTRA_ACCOUNTS:
        problems.append(
            "The old order added mailboxes to domains you own; this draft buys new "
            "domains with the same mailboxes instead."
        )
    needed = len(shape.domains)
    if order_type == OrderType.PRE_WARMED_UP:
        found = _prewarmed_for(workspace, shape, read, problems)
    else:
        pool = _suggested(workspace, read, problems)
        found = [pool[i] if i < len(pool) else None for i in range(needed)]
    items = _items(shape, found, problems)
    missing = [place for place, domain in enumerate(found, start=1) if not domain]
    if missing:
        problems.append(_missing_text(shape, missing))
    with transaction.atomic():
        order = drafts.order_draft_create(
            workspace=workspace, by=by, order_type=order_type, title=title
        )
        if items:
            order = drafts.order_draft_save(
                order=order, by=by, version=order.version, items=items
            )
        check = None
        if items and order_type == OrderType.DFY:
            check = finders.domain_check_start(
                order=order, by=by, domains=[item.domain for item in items]
            )
    return ShapedDraft(order=order, check=check, problems=problems)


def _taken(workspace: Workspace, candidates: Sequence[str]) -> set[str]:
    in_orders = OrderItem.objects.filter(
        order__workspace=workspace, domain__in=candidates
    ).values_list("domain", flat=True)
    in_mirror = RemoteDomain.objects.filter(
        workspace=workspace, domain__in=candidates
    ).values_list("domain", flat=True)
    return set(in_orders) | set(in_mirror)


def _remote_trouble(exc: Exception, problems: list[str]) -> bool:
    """Adds what went wrong; True when no later call can go better (the key)."""
    if isinstance(exc, instantly_keys.InstantlyKeyMissing):
        problems.append(f"No domains were found: {exc.problem}")
        return True
    text = (
        finders._remote_problem(exc)
        if isinstance(exc, instantly.InstantlyError)
        else str(exc)
    )
    if text not in problems:
        problems.append(text)
    return isinstance(exc, instantly_keys.KEY_PROBLEMS)


def _suggested(workspace: Workspace, seeds: Seeds, problems: list[str]) -> list[str]:
    """Suggestions for every seed, taken from each seed's list in turn, new ones only."""
    if not seeds.labels:
        problems.append("No names were given to find new domains for.")
        return []
    lists: list[list[str]] = []
    policy = ORDER_TYPE_RULES[OrderType.DFY].tld_policy
    try:
        with instantly_keys.instantly_client_for(workspace=workspace) as client:
            for label, tlds in seeds.labels.items():
                try:
                    answer = client.similar_domains(f"{label}.{tlds[0]}", tlds=tlds)
                except instantly.InstantlyError as exc:
                    if _remote_trouble(exc, problems):
                        break
                    continue
                lists.append(
                    [
                        d
                        for d in map(normalise_domain, answer)
                        if not domain_problem(d) and not policy.problem(d)
                    ]
                )
    except instantly_keys.InstantlyKeyMissing as exc:
        _remote_trouble(exc, problems)
    taken = _taken(workspace, [d for found in lists for d in found])
    pool: list[str] = []
    seen = set(taken)
    for turn in range(max(map(len, lists), default=0)):
        for found in lists:
            if turn < len(found) and found[turn] not in seen:
                seen.add(found[turn])
                pool.append(found[turn])
    return pool


def _prewarmed_for(
    workspace: Workspace, shape: OrderShape, seeds: Seeds, problems: list[str]
) -> list[str | None]:
    try:
        with instantly_keys.instantly_client_for(workspace=workspace) as client:
            stock = client.pre_warmed_domains()
    except (instantly_keys.InstantlyKeyMissing, instantly.InstantlyError) as exc:
        _remote_trouble(exc, problems)
        return [None] * len(shape.domains)
    names = [normalise_domain(d.domain) for d in stock]
    taken = _taken(workspace, names)
    labels = tuple(seeds.labels)

    def liked(name: str) -> bool:
        return any(label in name for label in labels)

    # The stock's older entries name no provider; the finder shows those as Google too.
    free = sorted(
        (
            (name, entry.account_type or GOOGLE)
            for name, entry in zip(names, stock, strict=True)
            if name not in taken
        ),
        key=lambda pair: not liked(pair[0]),
    )
    found: list[str | None] = []
    for domain in shape.domains:
        pick = next((n for n, p in free if p == domain.provider), None)
        if pick is not None:
            free = [(n, p) for n, p in free if n != pick]
        found.append(pick)
    return found


def _items(
    shape: OrderShape, found: Sequence[str | None], problems: list[str]
) -> list[DraftItem]:
    items = []
    for domain, name in zip(shape.domains, found, strict=True):
        if not name:
            continue
        forwarding = domain.forwarding_domain
        sibling = forwarding_sibling(forwarding)
        if sibling is not None:
            # The new domain that took that place.
            target = found[sibling - 1] if 1 <= sibling <= len(found) else None
            forwarding = target if target and target != name else ""
            if not forwarding:
                problems.append(
                    f"{name} forwarded to domain {sibling} of the shape, which has no new "
                    "domain: set its forwarding once that domain is added."
                )
        items.append(
            DraftItem(
                domain=name,
                provider=domain.provider,
                forwarding_domain=forwarding,
                mailboxes=domain.mailboxes,
            )
        )
    return items


def _missing_text(shape: OrderShape, missing: Sequence[int]) -> str:
    described = []
    for place in missing:
        domain = shape.domains[place - 1]
        rule = PROVIDER_RULES.get(domain.provider)
        label = rule.label if rule else f"provider {domain.provider}"
        count = len(domain.mailboxes)
        mailboxes = f", {count} mailbox{'es' if count != 1 else ''}" if count else ""
        described.append(f"domain {place} ({label}{mailboxes})")
    shown = ", ".join(described[:PROBLEMS_SHOWN])
    if len(described) > PROBLEMS_SHOWN:
        shown += f" and {len(described) - PROBLEMS_SHOWN} more"
    found = len(shape.domains) - len(missing)
    return (
        f"Found {found} new domain{'s' if found != 1 else ''} of the {len(shape.domains)} "
        f"needed; not in the draft: {shown}. Find more with “Find domains” and add them."
    )
