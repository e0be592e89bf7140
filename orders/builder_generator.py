"""The builder's mailbox generator: one plan serves both the row's preview and the
"Generate" button, so what the preview shows is what the button makes.

Names come from what is typed (or the built-in set), or from the workspace's persona library
through orders/persona_picker.py, counted across the draft's rows so that a persona's cap and
the even spread hold for the whole draft."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from django.http import QueryDict

from orders import mailboxes
from orders.builder_forms import MAX_MAILBOXES_PER_ITEM
from orders.domains import shorten
from orders.models import Order, Provider
from orders.persona_picker import persona_mailboxes
from orders.rules import PROVIDER_RULES, DraftItem, DraftMailbox

GENERATE_MODES = ("add", "replace")
# Where the names come from: typed (empty: the built-in set), or the persona library.
NAME_SOURCES = ("typed", "library")
PREVIEW_SHOWN = 10
# The cap on domains per persona: one draft never has more domains than this.
MAX_CAP = 1_000


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
    source: str = "typed"
    cap_text: str = ""  # the library's cap on domains per persona, as typed

    @property
    def shown(self) -> list[DraftMailbox]:
        return self.new[:PREVIEW_SHOWN]

    @property
    def hidden_count(self) -> int:
        return max(0, self.made - PREVIEW_SHOWN)


def plan_generation(
    item: DraftItem,
    index: int,
    data: QueryDict,
    *,
    preview: bool = False,
    order: Order | None = None,
    items: Sequence[DraftItem] = (),
) -> GeneratorPlan:
    """`preview` makes only the mailboxes a preview shows: every row previews on every
    autosave, and the first ones do not depend on how many follow (`result` is then partial).

    Names from the library need `order` (the draft: its workspace's library, and its own
    mailboxes are not someone else's) and `items`, the draft's rows as they stand (`item` is
    `items[index]`), across which each persona's domains are counted."""
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
    source = str(data.get(f"gen-{index}-source", "")) or "typed"
    if source not in NAME_SOURCES:
        problems.append(f"{where}: choose typed names or the persona library.")
        source = "typed"
    names_text = str(data.get(f"gen-{index}-names", ""))
    names: list[tuple[str, str]] = []
    if source == "typed":
        names, rejections = mailboxes.parse_names(names_text)
        problems += [f"Names for domain row {index + 1}: {r}" for r in rejections]
    cap_text = str(data.get(f"gen-{index}-cap", "")).strip()
    cap = None
    if source == "library" and cap_text:
        # Four digits are enough; more would only make int() slow or refuse.
        cap = int(cap_text) if cap_text.isdigit() and len(cap_text) <= 4 else 0
        if not 1 <= cap <= MAX_CAP:
            problems.append(
                f"{where}: the most domains per persona must be a whole number from 1 "
                f"to {MAX_CAP:,}, or empty for no limit."
            )
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
    if source == "library":
        new, short = (
            _from_library(
                order, items or (item,), index if items else 0, keep, pattern, made, cap
            )
            if not problems
            else ([], "")
        )
        # The library's own words, naming the row and why it fell short.
        note = " ".join(part for part in (note, short) if part)
        made = len(new)
    else:
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
        source=source,
        cap_text=cap_text,
    )


def _from_library(
    order: Order | None,
    rows: Sequence[DraftItem],
    at: int,
    keep: Sequence[DraftMailbox],
    pattern: str,
    wanted: int,
    cap: int | None,
) -> tuple[list[DraftMailbox], str]:
    """Up to `wanted` mailboxes for row `at` from the library, and why fewer ("" if not).

    The whole library is sorted once per call whatever `wanted` is, so a preview asks for
    them all: its list then is exactly what the button makes."""
    if order is None:
        return [], "The persona library is only available in a saved draft."
    if not wanted:
        return [], ""
    counts = [0] * len(rows)
    counts[at] = wanted
    existing = [list(row.mailboxes) for row in rows]
    existing[at] = list(keep)
    pick = persona_mailboxes(
        workspace=order.workspace,
        counts=counts,
        pattern=pattern,
        max_domains_per_persona=cap,
        domains=[row.domain for row in rows],
        existing=existing,
        exclude_order=order,
    )
    return pick.per_domain[at], " ".join(pick.problems)
