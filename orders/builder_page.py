"""What the builder page shows (reads only): the domain and mailbox rows with their
findings and prices, the quote panel, the sticky summary's problem links and the generator's
previews. The buttons are `builder_actions`, the writes `drafts`."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, QueryDict

from orders import billing, drafts, finders, instantly, mailboxes, rules
from orders.builder_forms import BuilderPost
from orders.builder_generator import GeneratorPlan, plan_generation
from orders.builder_quote import QuoteView, stored_quote
from orders.drafts import draft_items
from orders.models import DomainCheck, Order, OrderItem, OrderType, Provider
from orders.rules import PROVIDER_RULES, DraftItem, DraftMailbox, Finding

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
    order: Order | None = None,
    checked: Sequence[Finding] | None = None,
) -> list[ItemRow]:
    """The domain rows as shown; with `generator_data` (the posted form, or an empty one)
    each row also carries its generator's preview (`order`: the draft, for names from the
    persona library). `checked`: the draft's findings, when the caller has them already."""
    if checked is None:
        checked = rules.check_draft(order_type, items)
    # Findings count items and rows from 1; the page indexes them from 0.
    findings: dict[tuple[int | None, int | None], list[Finding]] = defaultdict(list)
    for finding in checked:
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
                generator=plan_generation(
                    item,
                    index,
                    generator_data,
                    preview=True,
                    order=order,
                    items=items,
                )
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
    draft: Sequence[DraftItem] | None = None,
) -> dict[str, object]:
    """What the quote panel and the sticky summary need, and nothing more (the quote
    endpoint renders only them). `prefetched`: the draft's items with their mailboxes, or
    `draft`: the draft as `drafts.draft_read` gives it, when the caller has read it already."""
    result = quote_view.result
    if rows is None or order_findings is None:
        items = list(draft) if draft is not None else draft_items(order, prefetched)
        checked = rules.check_draft(order.order_type, items)
        rows = rows_for(items, order.order_type, result, checked=checked)
        order_findings = [f.message for f in checked if f.where == "order"]
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
    checked = rules.check_draft(order_type, items)
    order_findings = [f.message for f in checked if f.where == "order"]
    item_rows = rows_for(
        items,
        order_type,
        quote_view.result,
        generator_data=form_data if form_data is not None else QueryDict(),
        order=order,
        checked=checked,
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
