"""Mailboxes named from the workspace's persona library (docs/planning.md, "Persona
library"): which person gets a mailbox on which domain. Reads only.

The rules, in the order they are applied to each domain:

- a persona appears at most once on a domain, counting the mailboxes already on it (those
  passed in `existing`, and when domains are named, the workspace's live mailboxes and the
  remote mirror on that domain, matched by name without regard to case);
- with a cap, a persona appears on at most that many of the call's domains;
- among the personas still allowed, the least used so far go first, ties in library order,
  so a library is spread evenly over the domains and the same call always picks the same;
- each prefix follows the pattern and is made unique on its domain (a number is added when
  two people fold to the same prefix), against the live addresses too.

What the library cannot fill is left short, and `problems` says why, per domain row.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from orders import mailboxes
from orders.domains import normalise_domain, shorten
from orders.models import (
    Mailbox,
    MailboxStatus,
    Order,
    OrderStatus,
    Persona,
    RemoteAccount,
    Workspace,
)
from orders.rules import DraftMailbox, name_problem

NameKey = tuple[str, str]


def name_key(first: str, last: str) -> NameKey:
    """How two names are compared: the database's unique constraint lower-cases them too."""
    return first.strip().lower(), last.strip().lower()


@dataclass(frozen=True)
class PersonaPick:
    per_domain: list[list[DraftMailbox]]
    problems: list[str]


@dataclass
class _Domain:
    """What one domain already holds: the people on it and the prefixes taken."""

    people: set[NameKey] = field(default_factory=set)
    prefixes: set[str] = field(default_factory=set)

    def hold(self, first: str, last: str, prefix: str) -> None:
        self.people.add(name_key(first, last))
        self.prefixes.add(prefix.lower())


def persona_mailboxes(
    *,
    workspace: Workspace,
    counts: Sequence[int],
    pattern: str = mailboxes.DEFAULT_PATTERN,
    max_domains_per_persona: int | None = None,
    domains: Sequence[str] | None = None,
    existing: Sequence[Sequence[DraftMailbox]] | None = None,
    exclude_order: Order | None = None,
) -> PersonaPick:
    """`counts[i]` new mailboxes for domain row i, named from the library.

    `existing[i]` are mailboxes domain row i keeps (the builder's "add" mode, or the other
    rows of a draft with a count of 0): their people and prefixes are taken, and they count
    towards each persona's domains. `exclude_order` leaves one order's own mailboxes out of
    the live ones (the draft being edited). Raises ValueError for an unknown pattern, a
    negative count or a cap below 1, or lists of different lengths (programming errors).
    """
    if pattern not in mailboxes.PATTERNS:
        raise ValueError(f"unknown prefix pattern {pattern!r}")
    if any(count < 0 for count in counts):
        raise ValueError("counts cannot be negative")
    if max_domains_per_persona is not None and max_domains_per_persona < 1:
        raise ValueError("the cap on domains per persona must be at least 1")
    for name, other in (("domains", domains), ("existing", existing)):
        if other is not None and len(other) != len(counts):
            raise ValueError(f"{name} must have one entry per count")
    library = [
        (persona.first_name.strip(), persona.last_name.strip())
        for persona in Persona.objects.in_workspace(workspace).only(
            "first_name", "last_name"
        )
        if not name_problem(persona.first_name) and not name_problem(persona.last_name)
    ]
    keys = [name_key(first, last) for first, last in library]
    # Rows of the same domain share what is on it; a row without a domain is its own.
    row_keys: list[str | int] = list(range(len(counts)))
    if domains is not None:
        row_keys = [normalise_domain(d) or index for index, d in enumerate(domains)]
    named = [key for key in row_keys if isinstance(key, str)]
    held = _live(workspace, named, exclude_order) if named else {}
    rows: dict[str | int, _Domain] = {}
    for row_key in row_keys:
        if row_key not in rows:
            rows[row_key] = (
                held.get(row_key, _Domain()) if isinstance(row_key, str) else _Domain()
            )
    uses: dict[NameKey, int] = defaultdict(int)
    if existing is not None:
        for index, kept in enumerate(existing):
            row = rows[row_keys[index]]
            fresh = {name_key(m.first_name, m.last_name) for m in kept} - row.people
            for key in fresh:
                uses[key] += 1
            for mailbox in kept:
                row.hold(mailbox.first_name, mailbox.last_name, mailbox.email_prefix)
    per_domain: list[list[DraftMailbox]] = []
    problems: list[str] = []
    for index, wanted in enumerate(counts):
        row = rows[row_keys[index]]
        allowed = [
            position
            for position, key in enumerate(keys)
            if key not in row.people
            and (max_domains_per_persona is None or uses[key] < max_domains_per_persona)
        ]
        allowed.sort(key=lambda position: (uses[keys[position]], position))
        # Why the row may come out short, in the state before its own picks.
        why = _shortfall(library, keys, row, uses, max_domains_per_persona)
        made = []
        for position in allowed[:wanted]:
            first, last = library[position]
            prefix = mailboxes.unique_prefix(
                mailboxes.make_prefix(first, last, pattern), row.prefixes
            )
            row.hold(first, last, prefix)
            uses[keys[position]] += 1
            made.append(DraftMailbox(first, last, prefix))
        per_domain.append(made)
        if len(made) < wanted:
            where = f"Domain row {index + 1}"
            if domains is not None:
                where += f" ({shorten(domains[index].strip()) or 'empty'})"
            problems.append(
                f"{where}: the persona library filled {len(made)} of {wanted} "
                f"mailboxes; {why}."
            )
    return PersonaPick(per_domain=per_domain, problems=problems)


def _shortfall(
    library: list[tuple[str, str]],
    keys: list[NameKey],
    row: _Domain,
    uses: dict[NameKey, int],
    cap: int | None,
) -> str:
    """Why a domain row is short, in words."""
    if not library:
        return "the library is empty: add personas on the Personas page"
    reasons = [
        f"it has {len(library)} persona{'s' if len(library) != 1 else ''} and each "
        "appears at most once per domain"
    ]
    on_domain = sum(1 for key in keys if key in row.people)
    if on_domain:
        reasons.append(f"{on_domain} already on this domain")
    if cap is not None:
        capped = sum(1 for key in keys if key not in row.people and uses[key] >= cap)
        if capped:
            reasons.append(
                f"{capped} already on {cap} domain{'s' if cap != 1 else ''}, the cap"
            )
    return ", ".join(reasons)


def _live(
    workspace: Workspace, domains: Sequence[str], exclude_order: Order | None
) -> dict[str, _Domain]:
    """The people and prefixes on `domains` in the workspace's live mailboxes (orders and
    mailboxes not cancelled, drafts included) and in the remote mirror's live accounts."""
    wanted = set(domains)
    found: dict[str, _Domain] = defaultdict(_Domain)
    live = (
        Mailbox.objects.filter(
            item__order__workspace=workspace, item__domain__in=wanted
        )
        .exclude(status=MailboxStatus.CANCELLED)
        .exclude(item__order__status=OrderStatus.CANCELLED)
    )
    if exclude_order is not None:
        live = live.exclude(item__order=exclude_order)
    for domain, prefix, first, last in live.values_list(
        "item__domain", "email_prefix", "first_name", "last_name"
    ):
        found[domain].hold(first, last, prefix)
    remote = RemoteAccount.objects.filter(
        workspace=workspace, domain__in=wanted, cancelled_remote_at__isnull=True
    ).values_list("domain", "email", "first_name", "last_name")
    for domain, email, first, last in remote:
        prefix = email.rpartition("@")[0]
        row = found[domain]
        row.prefixes.add(prefix.lower())
        if first and last:
            row.people.add(name_key(first, last))
    return dict(found)
