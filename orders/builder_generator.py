"""The builder's mailbox generator: one plan serves both the row's preview and the
"Generate" button, so what the preview shows is what the button makes."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.http import QueryDict

from orders import mailboxes
from orders.builder_forms import MAX_MAILBOXES_PER_ITEM
from orders.domains import shorten
from orders.models import Provider
from orders.rules import PROVIDER_RULES, DraftItem, DraftMailbox

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
