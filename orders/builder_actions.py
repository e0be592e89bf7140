"""How the builder's buttons change a draft (no HTTP, no rendering, no writes): the clicked
button is parsed from the post and applied to the posted items; the view saves the result.

Kept apart from the views so they stay "parse, call, render" and this logic can be tested
without a request.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from django.http import QueryDict

from orders import mailboxes
from orders.builder_forms import LIMITS, BuilderPost, size_problem, text_problem
from orders.builder_generator import plan_generation
from orders.domains import normalise_domain, shorten
from orders.models import Order, OrderType, Provider
from orders.rules import DraftItem, DraftMailbox


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


def apply_action(
    action: Action, posted: BuilderPost, data: QueryDict, *, order: Order | None = None
) -> ActionResult:
    """The draft after the clicked button; problems are reported, never raised.

    `order` is the draft being edited, for the generator's names from the persona library.

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
        _generate(result, i, data, order)
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


def _generate(
    result: ActionResult, index: int, data: QueryDict, order: Order | None
) -> None:
    item = result.items[index]
    plan = plan_generation(item, index, data, order=order, items=result.items)
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
