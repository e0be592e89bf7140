"""What the builder page shows and how its buttons change a draft (no HTTP, no rendering).

Kept apart from the views so the views stay "parse, call, render" and this logic can be tested
without a request.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from django import forms
from django.http import HttpRequest, QueryDict

from orders import (
    billing,
    drafts,
    finders,
    instantly,
    mailbox_csv,
    mailboxes,
    quotes,
    rules,
    services,
)
from orders.builder_form import (
    LIMITS,
    MAX_DRAFT_MAILBOXES,
    MAX_MAILBOXES_PER_ITEM,
    BuilderPost,
    size_problem,
    text_problem,
)
from orders.domains import normalise_domain, shorten
from orders.drafts import draft_items
from orders.models import (
    DomainCheck,
    Order,
    OrderItem,
    OrderStatus,
    OrderType,
    Provider,
)
from orders.rules import PROVIDER_RULES, DraftItem, DraftMailbox, Finding

logger = logging.getLogger(__name__)

ORDER_ERROR_TEXT = {
    "unavailable_domains": "Some domains can no longer be bought; they are marked below.",
    "blacklist_domains": "Some domains contain a restricted (trademark) keyword; they are marked below.",
    "invalid_domains": "Some domains are not valid for this order type; they are marked below.",
    "invalid_forwarding_domains": "Some forwarding domains are not valid; they are marked below.",
    "invalid_accounts": "Some mailboxes are not valid; the reasons are shown on their rows.",
    "payment_failed": "Instantly could not charge the workspace's payment method.",
    "missing_domain_orders": "Extra mailboxes can only be added to domains this workspace already ordered.",
    "domains_without_accounts": "Every domain needs at least one mailbox.",
    "provider_mismatch": "A domain's provider differs from the provider of its existing mailboxes.",
    "unsupported_provider": "Some domains cannot take extra mailboxes through the API (Microsoft).",
    "provider_unavailable": "A chosen provider cannot be ordered right now.",
}

DOMAIN_LIST_TEXT = {
    "unavailable_domains": "not available to buy",
    "invalid_domains": "Instantly says this domain is not valid here",
    "provider_mismatch_domains": "provider differs from the domain's existing mailboxes",
    "unsupported_provider_domains": "this provider cannot take extra mailboxes",
    "missing_domain_orders": "this workspace never ordered this domain",
    "domains_without_accounts": "needs at least one mailbox",
}


class NewOrderForm(forms.Form):
    order_type = forms.ChoiceField(
        choices=OrderType.choices, initial=OrderType.DFY, widget=forms.RadioSelect
    )
    title = forms.CharField(
        max_length=120,
        required=False,
        help_text="Optional, e.g. the client or campaign.",
    )


@dataclass(frozen=True)
class Action:
    name: str  # "autosave", "save", or one of the button names below
    value: str = ""

    BUTTONS = (
        "add_domain",
        "add_row",
        "remove_domain",
        "add_mailbox",
        "remove_mailbox",
        "generate",
        "ms_bundle",
        "copy_personas",
        "switch_type",
        "clear_mailboxes",
        "undo",
        "save",
        "enter",
    )

    @classmethod
    def from_post(cls, data: QueryDict) -> Action:
        for name in cls.BUTTONS:
            if name in data:
                return cls(name, str(data.get(name, "")))
        return cls("autosave")

    @property
    def is_autosave(self) -> bool:
        """Answered with fragments only, so the field being typed in keeps its focus: typing,
        and Enter in a field (the form's hidden default button, named "enter", saves and
        quotes)."""
        return self.name in {"autosave", "enter"}

    @property
    def problem(self) -> str | None:
        """Why the button's value cannot be acted on (it is sent by the page, but a member
        can send anything), or None."""
        if self.name == "switch_type" and self.value not in OrderType.values:
            return (
                f"Order type: {shorten(self.value)!r} is not one of "
                f"{', '.join(OrderType.values)}; the draft was not changed."
            )
        return None


# How an action that would make the draft too big is named in the refusal.
ACTION_LABELS = {
    "add_domain": "Add domain",
    "add_row": "Add a domain row",
    "add_mailbox": "Add mailbox",
    "generate": "Generate mailboxes",
    "ms_bundle": "Microsoft bundle",
    "copy_personas": "Copy personas",
    "clear_mailboxes": "Remove all mailboxes",
}


@dataclass
class ActionResult:
    items: list[DraftItem]
    notes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    # Set by destructive actions: the save keeps the previous items for "Undo" under this name.
    undo_label: str = ""


def _index(value: str, items: Sequence[Any]) -> int | None:
    try:
        index = int(value)
    except ValueError:
        return None
    return index if 0 <= index < len(items) else None


def apply_action(action: Action, posted: BuilderPost, data: QueryDict) -> ActionResult:
    """The draft after the clicked button; problems are reported, never raised.

    With any error the caller saves nothing: an action is done whole or not at all, and a
    draft never grows past the maximum size (`size_problem`).
    """
    items = fill_prefixes(posted.items, data)
    result = ActionResult(items=items)
    name, value = action.name, action.value
    if problem := action.problem:
        result.errors.append(problem)
        return result
    if name == "add_domain":
        _add_domains(result, value, posted.order_type)
    elif name == "add_row":
        items.append(
            DraftItem(
                domain="", provider=Provider.GOOGLE, forwarding_domain="", mailboxes=()
            )
        )
    elif name == "remove_domain" and (i := _index(value, items)) is not None:
        removed = items.pop(i)
        what = removed.domain or f"empty domain row {i + 1}"
        count = len(removed.mailboxes)
        result.undo_label = f"Removed {what}" + (
            f" and its {count} mailbox{'es' if count != 1 else ''}" if count else ""
        )
    elif name == "add_mailbox" and (i := _index(value, items)) is not None:
        blank = DraftMailbox(first_name="", last_name="", email_prefix="")
        items[i] = replace(items[i], mailboxes=(*items[i].mailboxes, blank))
    elif name == "remove_mailbox":
        item_part, _, row_part = value.partition(":")
        if (i := _index(item_part, items)) is not None and (
            j := _index(row_part, items[i].mailboxes)
        ) is not None:
            rows = list(items[i].mailboxes)
            gone = rows.pop(j)
            items[i] = replace(items[i], mailboxes=tuple(rows))
            who = " ".join(p for p in (gone.first_name, gone.last_name) if p)
            result.undo_label = (
                f"Removed mailbox {j + 1}"
                + (f" ({who})" if who else "")
                + f" from {items[i].domain or f'domain row {i + 1}'}"
            )
    elif name == "clear_mailboxes" and (i := _index(value, items)) is not None:
        count = len(items[i].mailboxes)
        items[i] = replace(items[i], mailboxes=())
        where = items[i].domain or f"domain row {i + 1}"
        result.undo_label = f"Removed all {count} mailboxes from {where}"
    elif name == "generate" and (i := _index(value, items)) is not None:
        _generate(result, i, data)
    elif name == "ms_bundle" and (i := _index(value, items)) is not None:
        names = _names_for(result, i, data)
        pattern = _pattern_for(result, i, data)
        if pattern is None:
            return result
        if items[i].mailboxes:
            result.undo_label = f"Replaced the mailboxes of {items[i].domain or f'domain row {i + 1}'} by a Microsoft bundle"
        items[i] = replace(
            items[i],
            provider=Provider.MICROSOFT,
            mailboxes=tuple(
                mailboxes.microsoft_bundle(names=names or None, pattern=pattern)
            ),
        )
        result.notes.append(
            f"Filled {items[i].domain or 'the domain'} with a Microsoft bundle of {len(items[i].mailboxes)} mailboxes."
        )
    elif name == "copy_personas" and (i := _index(value, items)) is not None:
        source = items[i]
        personas = tuple(mailboxes.copy_personas(source.mailboxes))
        for k, item in enumerate(items):
            if k != i and item.provider == source.provider:
                if item.mailboxes and item.mailboxes != personas:
                    result.undo_label = f"Copied the personas of {source.domain} over other domains' mailboxes"
                items[k] = replace(item, mailboxes=personas)
        result.notes.append(
            f"Copied {len(personas)} persona{'' if len(personas) == 1 else 's'} from {source.domain} to the other {Provider(source.provider).label} domains."
        )
    if not result.errors and (problem := size_problem(items)):
        result.errors.append(f"{ACTION_LABELS.get(name, name)}: not done, {problem}")
    return result


def _pattern_for(result: ActionResult, index: int, data: QueryDict) -> str | None:
    pattern = str(data.get(f"gen-{index}-pattern", "")) or mailboxes.DEFAULT_PATTERN
    if pattern not in mailboxes.PATTERNS:
        result.errors.append(
            f"{_row_name(result, index)}: the address pattern {shorten(pattern)!r} is not "
            f"one of {', '.join(mailboxes.PATTERNS)}."
        )
        return None
    return pattern


def _row_name(result: ActionResult, index: int) -> str:
    domain = result.items[index].domain
    return f"Domain row {index + 1} ({shorten(domain) or 'empty'})"


def _add_domains(result: ActionResult, value: str, order_type: str) -> None:
    positions = {item.domain: n for n, item in enumerate(result.items, start=1)}
    added: list[str] = []
    already: list[str] = []
    for token in value.split():
        domain, _, provider_text = token.partition("|")
        domain = normalise_domain(domain)
        if not domain:
            continue
        if domain in positions:
            if domain not in already:
                already.append(domain)
            continue
        # Other syntax problems are the rules' findings; what no column can hold is refused.
        if problem := text_problem(domain, "the domain", LIMITS["domain"]):
            result.errors.append(f"Add domain: {shorten(domain)!r}: {problem}.")
            continue
        provider = (
            int(provider_text) if provider_text in {"1", "2", "3"} else Provider.GOOGLE
        )
        result.items.append(
            DraftItem(
                domain=domain, provider=provider, forwarding_domain="", mailboxes=()
            )
        )
        positions[domain] = len(result.items)
        added.append(domain)
    # One message per click, however many domains it adds (a bulk add is one action).
    if len(added) == 1:
        result.notes.append(f"Added {added[0]}.")
    elif added:
        result.notes.append(f"Added {len(added)} domains.")
    if len(already) == 1:
        result.notes.append(
            f"{already[0]} is already in this draft (domain {positions[already[0]]}); "
            "it was not added twice."
        )
    elif already:
        shown = ", ".join(already[:5]) + (" …" if len(already) > 5 else "")
        result.notes.append(
            f"{len(already)} domains are already in this draft and were not added twice: {shown}."
        )


def _names_for(
    result: ActionResult, index: int, data: QueryDict
) -> list[tuple[str, str]]:
    names, rejections = mailboxes.parse_names(str(data.get(f"gen-{index}-names", "")))
    for rejection in rejections:
        result.errors.append(f"Names for domain row {index + 1}: {rejection}")
    return names


GENERATE_MODES = ("add", "replace")
PREVIEW_SHOWN = 10


@dataclass
class GeneratorPlan:
    """What "Generate" on one domain row would do with the generator's fields as posted; the
    preview shows it and the action applies it, so both always agree."""

    mode: str
    names_text: str
    pattern: str
    count: int  # what the count field says (or its default: the room left)
    made: int  # how many it makes
    new: list[DraftMailbox]  # the first PREVIEW_SHOWN of them for a preview, else all
    result: tuple[DraftMailbox, ...]
    room: int  # how many more the provider's capacity allows
    capacity: int
    note: str = ""  # why fewer than asked are made
    problems: list[str] = field(default_factory=list)

    @property
    def shown(self) -> list[DraftMailbox]:
        return self.new[:PREVIEW_SHOWN]

    @property
    def hidden_count(self) -> int:
        return max(0, self.made - PREVIEW_SHOWN)


def plan_generation(
    item: DraftItem, index: int, data: QueryDict, *, preview: bool = False
) -> GeneratorPlan:
    """`preview` makes only the mailboxes a preview shows: every row previews on every
    autosave, and the first ones do not depend on how many follow (`result` is then partial)."""
    rule = (
        PROVIDER_RULES[Provider(item.provider)]
        if item.provider in Provider.values
        else PROVIDER_RULES[Provider.GOOGLE]
    )
    where = f"Domain row {index + 1} ({shorten(item.domain) or 'empty'})"
    mode = str(data.get(f"gen-{index}-mode", "")) or "add"
    problems = []
    if mode not in GENERATE_MODES:
        problems.append(f"{where}: choose whether to add or replace mailboxes.")
        mode = "add"
    names_text = str(data.get(f"gen-{index}-names", ""))
    names, rejections = mailboxes.parse_names(names_text)
    problems += [f"Names for domain row {index + 1}: {r}" for r in rejections]
    pattern = str(data.get(f"gen-{index}-pattern", "")) or mailboxes.DEFAULT_PATTERN
    if pattern not in mailboxes.PATTERNS:
        problems.append(
            f"{where}: the address pattern {shorten(pattern)!r} is not one of "
            f"{', '.join(mailboxes.PATTERNS)}."
        )
        pattern = mailboxes.DEFAULT_PATTERN
    keep = item.mailboxes if mode == "add" else ()
    room = max(0, rule.max_mailboxes - len(keep))
    raw_count = str(data.get(f"gen-{index}-count", "")).strip()
    count = room
    if raw_count:
        try:
            count = int(raw_count)
        except ValueError:
            problems.append(f"{where}: the number of mailboxes must be a whole number.")
        else:
            if not 1 <= count <= MAX_MAILBOXES_PER_ITEM:
                problems.append(
                    f"{where}: generate between 1 and {MAX_MAILBOXES_PER_ITEM} mailboxes."
                )
                count = room
    made = min(count, room)
    note = ""
    if mode == "add" and room == 0:
        note = (
            f"This domain is full: a {rule.label} domain holds at most "
            f"{rule.max_mailboxes} mailboxes. "
            "Choose “Replace” to make new ones instead."
        )
    elif count > room:
        note = (
            f"Stops at {rule.max_mailboxes} mailboxes, the most a {rule.label} domain "
            f"holds: {made} of the {count} asked for will be made."
        )
    wanted = min(made, PREVIEW_SHOWN) if preview else made
    new = (
        mailboxes.generate_mailboxes(
            names, pattern, wanted, existing_prefixes=[m.email_prefix for m in keep]
        )
        if wanted
        else []
    )
    return GeneratorPlan(
        mode=mode,
        names_text=names_text,
        pattern=pattern,
        count=count,
        made=made,
        new=new,
        result=(*keep, *new),
        room=room,
        capacity=rule.max_mailboxes,
        note=note,
        problems=problems,
    )


def _generate(result: ActionResult, index: int, data: QueryDict) -> None:
    item = result.items[index]
    plan = plan_generation(item, index, data)
    if plan.problems:
        result.errors.extend(plan.problems)
        return
    if not plan.new:
        row = f"Domain row {index + 1} ({shorten(item.domain) or 'empty'})"
        result.errors.append(f"{row}: nothing was generated. {plan.note}".strip())
        return
    where = item.domain or f"domain row {index + 1}"
    if plan.mode == "replace" and item.mailboxes:
        result.undo_label = f"Replaced the {len(item.mailboxes)} mailbox{'' if len(item.mailboxes) == 1 else 'es'} of {where}"
    result.items[index] = replace(item, mailboxes=plan.result)
    verb = "Replaced the mailboxes of" if plan.mode == "replace" else "Added"
    if plan.mode == "replace":
        text = f"{verb} {where} by {len(plan.new)} generated ones."
    else:
        text = f"{verb} {len(plan.new)} generated mailbox{'' if len(plan.new) == 1 else 'es'} to {where}."
    if plan.note:
        text += f" {plan.note}"
    result.notes.append(text)


def fill_prefixes(items: Sequence[DraftItem], data: QueryDict) -> list[DraftItem]:
    """Empty addresses filled from the row's first and last name with the row's pattern.

    Only empty ones: a typed address is the user's and stays as typed. The page fills them as
    the names are typed too (static/js/app.js); this covers plain posts and keeps both equal.
    """
    filled = []
    for index, item in enumerate(items):
        if not any(
            not m.email_prefix and (m.first_name or m.last_name) for m in item.mailboxes
        ):
            filled.append(item)
            continue
        pattern = str(data.get(f"gen-{index}-pattern", ""))
        if pattern not in mailboxes.PATTERNS:
            pattern = mailboxes.DEFAULT_PATTERN
        taken = {m.email_prefix.lower() for m in item.mailboxes if m.email_prefix}
        rows = []
        for m in item.mailboxes:
            if not m.email_prefix and (m.first_name or m.last_name):
                prefix = mailboxes.unique_prefix(
                    mailboxes.make_prefix(m.first_name, m.last_name, pattern), taken
                )
                taken.add(prefix)
                m = replace(m, email_prefix=prefix)
            rows.append(m)
        filled.append(replace(item, mailboxes=tuple(rows)))
    return filled


# --- What the page shows ----------------------------------------------------------------


@dataclass
class QuoteView:
    """The quote panel: a fresh or reused quote, or why there is none."""

    quote: Any = None
    result: instantly.OrderResult | None = None
    reused: bool = False
    problem: str = ""
    retry: bool = False
    fix_key: bool = False


def quote_now(order: Order, items: Sequence[OrderItem] | None = None) -> QuoteView:
    """Ask for a quote of the saved draft; trouble becomes a message, never an exception.
    `items` (prefetched with their mailboxes) saves reading the draft again."""
    try:
        client = services.instantly_client_for(workspace=order.workspace)
    except services.InstantlyKeyMissing as exc:
        return QuoteView(problem=exc.problem, fix_key=True)
    try:
        with client:
            outcome = quotes.quote_for_order(order=order, client=client, items=items)
    except quotes.QuoteUnavailable as exc:
        return QuoteView(problem=str(exc), retry=exc.retry, fix_key=exc.fix_key)
    return QuoteView(quote=outcome.quote, result=outcome.result, reused=outcome.reused)


def stored_quote(order: Order, rows: Sequence[OrderItem] | None = None) -> QuoteView:
    quote = quotes.current_quote(order, rows)
    if quote is None:
        return QuoteView()
    return QuoteView(
        quote=quote,
        result=instantly.parse_order_result(quote.response_body),
        reused=True,
    )


@dataclass
class MailboxRow:
    index: int
    mailbox: DraftMailbox
    problems: list[str]


@dataclass
class ItemRow:
    index: int
    item: DraftItem
    problems: list[str]
    warnings: list[str]
    mailboxes: list[MailboxRow]
    rule: rules.ProviderRule
    price: Any = None
    is_free: bool = False
    generator: GeneratorPlan | None = None


# Which local rule field each of Instantly's per-domain lists is about: when the portal's
# rules already report a problem on that field, Instantly's message for it is left out, so
# one problem is shown once (the portal's, which names the field and the fix).
REMOTE_LIST_FIELD = {
    "invalid_domains": "domain",
    "provider_mismatch_domains": "provider",
    "unsupported_provider_domains": "provider",
    "domains_without_accounts": "mailboxes",
}
PORTAL = "Portal rule: "


def remote_problems(
    result: instantly.OrderResult | None,
    item: DraftItem,
    local_fields: Collection[str] = (),
) -> list[str]:
    if result is None:
        return []
    found = []
    for attribute, text in DOMAIN_LIST_TEXT.items():
        if REMOTE_LIST_FIELD.get(attribute) in local_fields:
            continue
        if item.domain in getattr(result, attribute):
            found.append(f"Instantly: {text}.")
    if item.domain in result.blacklist_domains:
        keywords = [k for k in result.blacklist_keywords if k.lower() in item.domain]
        found.append(
            f"Instantly: restricted keyword {', '.join(repr(k) for k in keywords)}."
            if keywords
            else "Instantly: restricted (trademark) domain."
        )
    forwarding = set(result.invalid_forwarding_domains)
    if (
        "forwarding_domain" not in local_fields
        and item.forwarding_domain
        and (item.forwarding_domain in forwarding or item.domain in forwarding)
    ):
        found.append(
            f"Instantly: forwarding domain {item.forwarding_domain} is not valid."
        )
    return found


def rows_for(
    items: Sequence[DraftItem],
    order_type: str,
    result: instantly.OrderResult | None,
    *,
    generator_data: QueryDict | None = None,
) -> list[ItemRow]:
    """The domain rows as shown; with `generator_data` (the posted form, or an empty one)
    each row also carries its generator's preview."""
    # Findings count items and rows from 1; the page indexes them from 0.
    findings: dict[tuple[int | None, int | None], list[Finding]] = defaultdict(list)
    for finding in rules.check_draft(order_type, items):
        at_item = finding.item - 1 if finding.item is not None else None
        at_row = finding.row - 1 if finding.row is not None else None
        findings[(at_item, at_row)].append(finding)
    invalid_accounts = (
        {a.email.lower(): a.reason for a in result.invalid_accounts} if result else {}
    )
    prices = {p.domain: p for p in result.order_items} if result else {}
    free = set(result.free_domains) if result else set()
    rows = []
    for index, item in enumerate(items):
        domain_findings = findings.get((index, None), [])
        mailbox_rows = []
        for row, mailbox in enumerate(item.mailboxes):
            problems = [PORTAL + f.message for f in findings.get((index, row), [])]
            remote = invalid_accounts.get(
                f"{mailbox.email_prefix}@{item.domain}".lower()
            )
            # Instantly's reason only when the portal's rules found nothing on this mailbox:
            # both would describe the same problem.
            if remote and not problems:
                problems.append(f"Instantly: {remote}")
            mailbox_rows.append(
                MailboxRow(index=row, mailbox=mailbox, problems=problems)
            )
        rows.append(
            ItemRow(
                index=index,
                item=item,
                problems=[
                    PORTAL + f.message for f in domain_findings if f.severity == "error"
                ]
                + remote_problems(
                    result,
                    item,
                    {f.field for f in domain_findings if f.severity == "error"},
                ),
                warnings=[f.message for f in domain_findings if f.severity != "error"],
                mailboxes=mailbox_rows,
                rule=PROVIDER_RULES[Provider(item.provider)]
                if item.provider in Provider.values
                else PROVIDER_RULES[Provider.GOOGLE],
                price=prices.get(item.domain),
                is_free=item.domain in free,
                generator=plan_generation(item, index, generator_data, preview=True)
                if generator_data is not None and order_type != OrderType.PRE_WARMED_UP
                else None,
            )
        )
    return rows


@dataclass(frozen=True)
class ProblemLink:
    """One place on the page with a problem, for the sticky summary's jump links."""

    label: str
    anchor: str


def problem_links(
    rows: Sequence[ItemRow], order_findings: Sequence[str]
) -> list[ProblemLink]:
    links = []
    if order_findings:
        first = order_findings[0]
        label = first if len(first) <= 60 else f"{first[:59]}…"
        links.append(ProblemLink(label, "order-findings"))
    for row in rows:
        name = row.item.domain or f"Domain row {row.index + 1}"
        if row.problems:
            links.append(ProblemLink(name, f"item-{row.index}"))
        for mb in row.mailboxes:
            if mb.problems:
                prefix = mb.mailbox.email_prefix or f"mailbox {mb.index + 1}"
                links.append(
                    ProblemLink(
                        f"{prefix}@{row.item.domain or '…'}",
                        f"item-{row.index}-mb-{mb.index}",
                    )
                )
    return links


def quote_context(
    order: Order,
    quote_view: QuoteView,
    *,
    submittable: bool = True,
    rows: Sequence[ItemRow] | None = None,
    order_findings: Sequence[str] | None = None,
    prefetched: Sequence[OrderItem] | None = None,
) -> dict[str, object]:
    """What the quote panel and the sticky summary need, and nothing more (the quote
    endpoint renders only them). `prefetched`: the draft's items with their mailboxes, when
    the caller has read them already."""
    result = quote_view.result
    if rows is None or order_findings is None:
        items = draft_items(order, prefetched)
        rows = rows_for(items, order.order_type, result)
        order_findings = [
            f.message
            for f in rules.check_draft(order.order_type, items)
            if f.where == "order"
        ]
    bill = (
        billing.bill_from_result(result, order_type=order.order_type)
        if result is not None and quote_view.quote is not None
        else None
    )
    return {
        "order": order,
        "version": order.version,
        "quote_view": quote_view,
        "bill": bill,
        "bill_words": bill.charge_words() if bill else "",
        "renewal_words": billing.RENEWAL_WORDS,
        "problem_links": problem_links(rows, order_findings),
        "has_items": bool(rows),
        "order_error_text": ORDER_ERROR_TEXT.get(
            result.order_error or "", result.order_error
        )
        if result
        else "",
        "unavailable_providers": [
            Provider(p).label for p in result.unavailable_email_providers
        ]
        if result
        else [],
        "can_submit": bool(
            submittable and quote_view.quote is not None and quote_view.quote.is_valid
        ),
    }


def page_context(
    order: Order,
    *,
    request: HttpRequest,
    posted: BuilderPost | None = None,
    outcome: QuoteView | None = None,
    action_errors: Sequence[str] = (),
    form_data: QueryDict | None = None,
) -> dict[str, object]:
    """`form_data`: the posted form, whose generator fields (names, pattern, count, add or
    replace) are shown again with their preview; None shows the generator's defaults."""
    # The stored rows are read once and serve both the form and the quote's fingerprint.
    rows = list(order.items.prefetch_related("mailboxes"))
    items = posted.items if posted is not None else draft_items(order, rows)
    order_type = posted.order_type if posted is not None else order.order_type
    quote_view = outcome if outcome is not None else stored_quote(order, rows)
    order_findings = [
        f.message for f in rules.check_draft(order_type, items) if f.where == "order"
    ]
    item_rows = rows_for(
        items,
        order_type,
        quote_view.result,
        generator_data=form_data if form_data is not None else QueryDict(),
    )
    return {
        **quote_context(
            order,
            quote_view,
            submittable=posted is None and not action_errors,
            rows=item_rows,
            order_findings=order_findings,
        ),
        "order_type": order_type,
        # The typed title when the post is shown again, the saved one otherwise.
        "title": posted.title if posted is not None else order.title,
        "rows": item_rows,
        "order_findings": order_findings,
        "form_errors": [*(posted.errors if posted else []), *action_errors],
        "providers": [(p.value, p.label, PROVIDER_RULES[p].rule) for p in Provider],
        "order_types": OrderType.choices,
        # Parts and separator too: static/js/app.js fills empty addresses as names are typed.
        "patterns": [
            (key, p.label, ",".join(p.parts), p.separator)
            for key, p in mailboxes.PATTERNS.items()
        ],
        "default_pattern": mailboxes.DEFAULT_PATTERN,
        "undo": drafts.undo_offer(order),
        **check_panel(order),
    }


def check_panel(order: Order) -> dict[str, object]:
    """The latest availability check of this draft, so a reload shows it (and resumes polling)."""
    check = DomainCheck.objects.filter(order=order).first()
    return finders.check_context(check) if check else {"check": None}


# --- CSV import and the read-only page ---------------------------------------------------

MAX_CSV_BYTES = 1_000_000


class CsvImportForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput)
    file = forms.FileField()

    imported: mailbox_csv.CsvImport | None = None
    decode_error: str = ""

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_CSV_BYTES:
            raise forms.ValidationError(
                f"The file is {upload.size:,} bytes; at most {MAX_CSV_BYTES:,} are accepted."
            )
        decoded = mailbox_csv.decode_upload(upload.read())
        if not decoded.ok:
            raise forms.ValidationError(decoded.error)
        self.imported = mailbox_csv.import_csv(decoded.text)
        if not self.imported.ok:
            raise forms.ValidationError("The file has problems; nothing was imported.")
        if self.imported.rows > MAX_DRAFT_MAILBOXES:
            raise forms.ValidationError(
                f"The file has {self.imported.rows:,} mailboxes; a draft holds at most "
                f"{MAX_DRAFT_MAILBOXES:,}. Nothing was imported; split the file into "
                "several orders."
            )
        return upload

    @property
    def imported_count(self) -> int:
        return self.imported.rows if self.imported else 0

    def problems(self) -> list[str]:
        listed = [p.message for p in self.imported.problems] if self.imported else []
        return [*[str(e) for e in self.errors.get("file", [])], *listed]


def csv_apply(
    *, order: Order, by: Any, version: int, imported: mailbox_csv.CsvImport | None
) -> Order:
    """Merge an all-good CSV into the draft: listed domains get exactly the file's mailboxes,
    new domains are appended (Google unless the draft already has the domain)."""
    if imported is None or not imported.ok:
        raise drafts.DraftError("The file has problems; nothing was imported.")
    items = draft_items(order)
    positions = {item.domain: index for index, item in enumerate(items)}
    for domain, rows in imported.items.items():
        if domain in positions:
            items[positions[domain]] = replace(
                items[positions[domain]], mailboxes=tuple(rows)
            )
        else:
            items.append(
                DraftItem(
                    domain=domain,
                    provider=Provider.GOOGLE,
                    forwarding_domain="",
                    mailboxes=tuple(rows),
                )
            )
            positions[domain] = len(items) - 1
    if problem := size_problem(items):
        raise drafts.DraftError(
            f"Nothing was imported: with this file's rows, {problem}"
        )
    return drafts.order_draft_save(order=order, by=by, version=version, items=items)


CANCELLED_STATES = frozenset({OrderStatus.PARTIALLY_CANCELLED, OrderStatus.CANCELLED})


def detail_context(order: Order) -> dict[str, object]:
    bill = billing.order_bill(order)
    cost = None
    # Only cancellations change what an order costs a month.
    if bill is not None and order.status in CANCELLED_STATES:
        cost = billing.current_cost(bill, billing.live_mailboxes(order))
    return {
        "order": order,
        "items": order.items.prefetch_related("mailboxes"),
        "quote": order.approved_quote,
        "bill": bill,
        "bill_words": bill.charge_words(placed=order.placed_at is not None)
        if bill
        else "",
        "current_cost": cost,
        "renewal_words": billing.RENEWAL_WORDS,
        "events": order.events.select_related("actor"),
        "can_reopen": order.status in drafts.REOPENABLE,
    }
