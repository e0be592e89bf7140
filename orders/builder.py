"""What the builder page shows and how its buttons change a draft (no HTTP, no rendering).

Kept apart from the views so the views stay "parse, call, render" and this logic can be tested
without a request.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from django import forms
from django.http import HttpRequest, QueryDict

from orders import (
    drafts,
    finders,
    instantly,
    mailbox_csv,
    mailboxes,
    quotes,
    rules,
    services,
)
from orders.builder_form import MAX_ITEMS, BuilderPost
from orders.domains import normalise_domain
from orders.drafts import draft_items
from orders.models import DomainCheck, Order, OrderItem, OrderType, Provider
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
        "save",
    )

    @classmethod
    def from_post(cls, data: QueryDict) -> Action:
        for name in cls.BUTTONS:
            if name in data:
                return cls(name, str(data.get(name, "")))
        return cls("autosave")

    @property
    def is_autosave(self) -> bool:
        return self.name == "autosave"


@dataclass
class ActionResult:
    items: list[DraftItem]
    notes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _index(value: str, items: Sequence[Any]) -> int | None:
    try:
        index = int(value)
    except ValueError:
        return None
    return index if 0 <= index < len(items) else None


def apply_action(action: Action, posted: BuilderPost, data: QueryDict) -> ActionResult:
    """The draft after the clicked button; problems are reported, never raised."""
    items = list(posted.items)
    result = ActionResult(items=items)
    name, value = action.name, action.value
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
        result.notes.append(f"Removed {removed.domain or 'an empty domain row'}.")
    elif name == "add_mailbox" and (i := _index(value, items)) is not None:
        blank = DraftMailbox(first_name="", last_name="", email_prefix="")
        items[i] = replace(items[i], mailboxes=(*items[i].mailboxes, blank))
    elif name == "remove_mailbox":
        item_part, _, row_part = value.partition(":")
        if (i := _index(item_part, items)) is not None and (
            j := _index(row_part, items[i].mailboxes)
        ) is not None:
            rows = list(items[i].mailboxes)
            rows.pop(j)
            items[i] = replace(items[i], mailboxes=tuple(rows))
    elif name == "generate" and (i := _index(value, items)) is not None:
        _generate(result, i, data)
    elif name == "ms_bundle" and (i := _index(value, items)) is not None:
        names = _names_for(result, i, data)
        pattern = str(data.get(f"gen-{i}-pattern", "")) or mailboxes.DEFAULT_PATTERN
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
                items[k] = replace(item, mailboxes=personas)
        result.notes.append(
            f"Copied {len(personas)} personas from {source.domain} to the other {Provider(source.provider).label} domains."
        )
    return result


def _add_domains(result: ActionResult, value: str, order_type: str) -> None:
    existing = {item.domain for item in result.items}
    for token in value.split():
        domain, _, provider_text = token.partition("|")
        domain = normalise_domain(domain)
        if not domain or domain in existing:
            continue
        if len(result.items) >= MAX_ITEMS:
            result.errors.append(f"An order can hold at most {MAX_ITEMS} domains.")
            return
        provider = (
            int(provider_text) if provider_text in {"1", "2", "3"} else Provider.GOOGLE
        )
        result.items.append(
            DraftItem(
                domain=domain, provider=provider, forwarding_domain="", mailboxes=()
            )
        )
        existing.add(domain)
        result.notes.append(f"Added {domain}.")


def _names_for(
    result: ActionResult, index: int, data: QueryDict
) -> list[tuple[str, str]]:
    names, rejections = mailboxes.parse_names(str(data.get(f"gen-{index}-names", "")))
    for rejection in rejections:
        result.errors.append(f"Names for domain row {index + 1}: {rejection}")
    return names


def _generate(result: ActionResult, index: int, data: QueryDict) -> None:
    item = result.items[index]
    names = _names_for(result, index, data) or list(mailboxes.BUILTIN_NAMES)
    pattern = str(data.get(f"gen-{index}-pattern", "")) or mailboxes.DEFAULT_PATTERN
    rule = PROVIDER_RULES[Provider(item.provider)]
    try:
        count = int(str(data.get(f"gen-{index}-count", "")) or rule.max_mailboxes)
    except ValueError:
        result.errors.append(
            f"Domain row {index + 1}: the number of mailboxes must be a whole number."
        )
        return
    if not 1 <= count <= 100:
        result.errors.append(
            f"Domain row {index + 1}: generate between 1 and 100 mailboxes."
        )
        return
    try:
        generated = mailboxes.generate_mailboxes(names, pattern, count)
    except ValueError as exc:
        result.errors.append(f"Domain row {index + 1}: {exc}")
        return
    result.items[index] = replace(item, mailboxes=tuple(generated))
    result.notes.append(
        f"Generated {len(generated)} mailboxes for {item.domain or 'the domain'}."
    )


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


def quote_now(order: Order) -> QuoteView:
    """Ask for a quote of the saved draft; trouble becomes a message, never an exception."""
    try:
        client = services.instantly_client_for(workspace=order.workspace)
    except services.InstantlyKeyMissing:
        return QuoteView(
            problem="This workspace has no Instantly API key yet.", fix_key=True
        )
    try:
        with client:
            outcome = quotes.quote_for_order(order=order, client=client)
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


def remote_problems(result: instantly.OrderResult | None, item: DraftItem) -> list[str]:
    if result is None:
        return []
    found = []
    for attribute, text in DOMAIN_LIST_TEXT.items():
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
    if item.forwarding_domain and (
        item.forwarding_domain in forwarding or item.domain in forwarding
    ):
        found.append(
            f"Instantly: forwarding domain {item.forwarding_domain} is not valid."
        )
    return found


def rows_for(
    items: Sequence[DraftItem], order_type: str, result: instantly.OrderResult | None
) -> list[ItemRow]:
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
            problems = [f.message for f in findings.get((index, row), [])]
            remote = invalid_accounts.get(
                f"{mailbox.email_prefix}@{item.domain}".lower()
            )
            if remote:
                problems.append(f"Instantly: {remote}")
            mailbox_rows.append(
                MailboxRow(index=row, mailbox=mailbox, problems=problems)
            )
        rows.append(
            ItemRow(
                index=index,
                item=item,
                problems=[f.message for f in domain_findings if f.severity == "error"]
                + remote_problems(result, item),
                warnings=[f.message for f in domain_findings if f.severity != "error"],
                mailboxes=mailbox_rows,
                rule=PROVIDER_RULES[Provider(item.provider)]
                if item.provider in Provider.values
                else PROVIDER_RULES[Provider.GOOGLE],
                price=prices.get(item.domain),
                is_free=item.domain in free,
            )
        )
    return rows


def quote_context(
    order: Order, quote_view: QuoteView, *, submittable: bool = True
) -> dict[str, object]:
    """What the quote panel needs, and nothing more (the quote endpoint renders only it)."""
    result = quote_view.result
    return {
        "order": order,
        "version": order.version,
        "quote_view": quote_view,
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
) -> dict[str, object]:
    # The stored rows are read once and serve both the form and the quote's fingerprint.
    rows = list(order.items.prefetch_related("mailboxes"))
    items = posted.items if posted is not None else draft_items(order, rows)
    order_type = posted.order_type if posted is not None else order.order_type
    quote_view = outcome if outcome is not None else stored_quote(order, rows)
    order_findings = [
        f.message for f in rules.check_draft(order_type, items) if f.where == "order"
    ]
    return {
        **quote_context(
            order, quote_view, submittable=posted is None and not action_errors
        ),
        "order_type": order_type,
        "rows": rows_for(items, order_type, quote_view.result),
        "order_findings": order_findings,
        "form_errors": [*(posted.errors if posted else []), *action_errors],
        "providers": [(p.value, p.label, PROVIDER_RULES[p].rule) for p in Provider],
        "order_types": OrderType.choices,
        "patterns": list(mailboxes.PATTERNS.items()),
        "default_pattern": mailboxes.DEFAULT_PATTERN,
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
    return drafts.order_draft_save(order=order, by=by, version=version, items=items)


def detail_context(order: Order) -> dict[str, object]:
    return {
        "order": order,
        "items": order.items.prefetch_related("mailboxes"),
        "quote": order.approved_quote,
        "events": order.events.select_related("actor"),
        "can_reopen": order.status in drafts.REOPENABLE,
    }
