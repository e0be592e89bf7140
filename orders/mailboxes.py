"""Mailbox personas: prefix patterns, the generator, pasted name lists, and CSV import/export.

Pure Python (no Django). Everything that reads user input returns its problems with a line
number instead of raising; the caller applies a result only when it is wholly good, so
nothing is ever half imported.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from itertools import count as counter
from types import MappingProxyType
from typing import Final, Literal

from orders.domains import shorten

# The CSV half lives in its own module to keep files small; its public names are offered
# here too, so callers need only this module.
from orders.mailbox_csv import CSV_COLUMNS as CSV_COLUMNS
from orders.mailbox_csv import CsvImport as CsvImport
from orders.mailbox_csv import DecodedUpload as DecodedUpload
from orders.mailbox_csv import LineProblem as LineProblem
from orders.mailbox_csv import decode_upload as decode_upload
from orders.mailbox_csv import export_csv as export_csv
from orders.mailbox_csv import import_csv as import_csv
from orders.mailbox_csv import upload_size_problem as upload_size_problem
from orders.rules import (
    MICROSOFT,
    PREFIX_MAX_LENGTH,
    PROVIDER_RULES,
    DraftMailbox,
    name_problem,
)

# --- Prefix patterns ------------------------------------------------------------------

NamePart = Literal["first", "last", "f", "l"]  # f and l are the initials


@dataclass(frozen=True)
class PrefixPattern:
    key: str
    parts: tuple[NamePart, ...]
    separator: str = ""

    @property
    def label(self) -> str:
        """Human label for a pattern picker, e.g. "first.last, as in jane.roe@"."""
        return f"{self.key}, as in {self.example}@"

    @property
    def example(self) -> str:
        return make_prefix(EXAMPLE_NAME[0], EXAMPLE_NAME[1], self.key)


PATTERNS: Final[Mapping[str, PrefixPattern]] = MappingProxyType(
    {
        pattern.key: pattern
        for pattern in (
            PrefixPattern("first.last", ("first", "last"), "."),
            PrefixPattern("first", ("first",)),
            PrefixPattern("firstlast", ("first", "last")),
            PrefixPattern("first_last", ("first", "last"), "_"),
            PrefixPattern("first-last", ("first", "last"), "-"),
            PrefixPattern("f.last", ("f", "last"), "."),
            PrefixPattern("flast", ("f", "last")),
            PrefixPattern("first.l", ("first", "l"), "."),
            PrefixPattern("first_l", ("first", "l"), "_"),
            PrefixPattern("firstl", ("first", "l")),
            PrefixPattern("last.first", ("last", "first"), "."),
            PrefixPattern("lastfirst", ("last", "first")),
            PrefixPattern("last", ("last",)),
        )
    }
)
DEFAULT_PATTERN: Final = "first.last"
# The person the pattern picker's examples are made for.
EXAMPLE_NAME: Final = ("Jane", "Roe")
# Used when a name folds to nothing at all (for example a name in a non-Latin script).
FALLBACK_PREFIX: Final = "mailbox"
# One domain never needs more; the cap keeps a mistyped count from doing unbounded work.
MAX_GENERATED: Final = 1_000

# Letters NFKD does not decompose into ASCII.
_EXTRA_FOLDS = str.maketrans(
    {
        "ß": "ss",
        "ẞ": "SS",
        "æ": "ae",
        "Æ": "AE",
        "œ": "oe",
        "Œ": "OE",
        "ø": "o",
        "Ø": "O",
        "đ": "d",
        "Đ": "D",
        "ð": "d",
        "Ð": "D",
        "ł": "l",
        "Ł": "L",
        "þ": "th",
        "Þ": "Th",
        "ı": "i",
        "ħ": "h",
        "Ħ": "H",
        "ŧ": "t",
        "Ŧ": "T",
    }
)
_NOT_IN_PART = re.compile(r"[^a-z0-9-]+")
_SEPARATOR_RUN = re.compile(r"[._-]{2,}")


def ascii_fold(text: str) -> str:
    """`text` with accents removed and anything without an ASCII spelling dropped."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_EXTRA_FOLDS))
    return decomposed.encode("ascii", "ignore").decode("ascii")


def _slug(name: str) -> str:
    # Hyphens inside a name survive ("jean-luc"); spaces, apostrophes and dots do not.
    return _NOT_IN_PART.sub("", ascii_fold(name).lower()).strip("-")


def make_prefix(first: str, last: str, pattern: str = DEFAULT_PATTERN) -> str:
    """The prefix `pattern` makes of a name; always passes `prefix_problem`.

    Raises KeyError for an unknown pattern. Parts that fold to nothing are left out, and a
    name that leaves nothing at all becomes FALLBACK_PREFIX.
    """
    spec = PATTERNS[pattern]
    slugs = {"first": _slug(first), "last": _slug(last)}
    slugs["f"] = slugs["first"][:1]
    slugs["l"] = slugs["last"][:1]
    if not slugs["first"] or not slugs["last"]:
        # Drop the separator too: "john." for a missing last name is not a prefix.
        joined = "".join(slugs[part] for part in spec.parts)
    else:
        joined = spec.separator.join(slugs[part] for part in spec.parts)
    prefix = _clean_prefix(joined) or _clean_prefix(slugs["first"] + slugs["last"])
    return prefix or FALLBACK_PREFIX


def _clean_prefix(text: str) -> str:
    text = _SEPARATOR_RUN.sub(lambda run: run.group()[0], text).strip("._-")
    return text[:PREFIX_MAX_LENGTH].rstrip("._-")


def unique_prefix(base: str, taken: Collection[str]) -> str:
    """`base`, or `base` with the smallest number 2, 3, … appended that is not in `taken`.

    `base` must be a valid prefix; the result is valid too, still at most 64 characters.
    A digit at the end of `base` gets a hyphen first, so "agent7" becomes "agent7-2", not
    the confusing "agent72".
    """
    if base not in taken:
        return base
    for number in counter(2):
        suffix = str(number)
        room = PREFIX_MAX_LENGTH - len(suffix)
        stem = base[:room].rstrip("._-")
        if stem[-1].isdigit():
            stem = stem[: room - 1].rstrip("._-") + "-"
        candidate = stem + suffix
        if candidate not in taken:
            return candidate
    raise AssertionError("unreachable")  # pragma: no cover - counter() never ends


def generate_mailboxes(
    names: Sequence[tuple[str, str]],
    pattern: str,
    count: int,
    existing_prefixes: Collection[str] = (),
) -> list[DraftMailbox]:
    """`count` mailboxes for one domain, cycling through `names` (BUILTIN_NAMES if empty).

    Every prefix passes the prefix rule and is unique on the domain, including against
    `existing_prefixes` (compared in lower case). Names are used stripped of surrounding
    spaces. Raises ValueError for an unknown pattern, a count outside 0..MAX_GENERATED or a
    name that breaks the name rules (`parse_names` only returns good ones).
    """
    if pattern not in PATTERNS:
        raise ValueError(f"unknown prefix pattern {pattern!r}")
    if not 0 <= count <= MAX_GENERATED:
        raise ValueError(f"count must be between 0 and {MAX_GENERATED}")
    pool = [(first.strip(), last.strip()) for first, last in names]
    # The built-in set is known good (tests/orders/test_mailboxes.py checks it); checking it
    # again on every call would cost each builder row's preview most of its time.
    for number, pair in enumerate(pool, start=1):
        for value in pair:
            if name_problem(value):
                raise ValueError(
                    f"name {number} ({shorten(value)!r}) breaks the name rules"
                )
    pool = pool or list(BUILTIN_NAMES)
    taken = {prefix.lower() for prefix in existing_prefixes}
    mailboxes = []
    for index in range(count):
        first, last = pool[index % len(pool)]
        prefix = unique_prefix(make_prefix(first, last, pattern), taken)
        taken.add(prefix)
        mailboxes.append(DraftMailbox(first, last, prefix))
    return mailboxes


def microsoft_bundle(
    names: Sequence[tuple[str, str]] | None = None, pattern: str = DEFAULT_PATTERN
) -> list[DraftMailbox]:
    """A full Microsoft bundle: as many mailboxes as the rules table's Microsoft minimum."""
    return generate_mailboxes(
        names or (), pattern, PROVIDER_RULES[MICROSOFT].min_mailboxes
    )


def copy_personas(mailboxes: Sequence[DraftMailbox]) -> list[DraftMailbox]:
    """The same names and prefixes, for another domain.

    Prefixes only need to be unique per domain, so a set that is valid on one domain is
    valid on any other: nothing is renamed.
    """
    return [DraftMailbox(m.first_name, m.last_name, m.email_prefix) for m in mailboxes]


# Realistic, varied personas in Latin script (so every one folds to a readable prefix); each
# first name appears once so the "first" pattern needs no numbers for a full set.
BUILTIN_NAMES: Final[tuple[tuple[str, str], ...]] = (
    ("Emma", "Johnson"),
    ("Liam", "Smith"),
    ("Olivia", "Williams"),
    ("Noah", "Brown"),
    ("Ava", "Miller"),
    ("Ethan", "Davis"),
    ("Sophia", "García"),
    ("Mateo", "Hernández"),
    ("Isabella", "Martínez"),
    ("Lucas", "Rodríguez"),
    ("Chloé", "Dubois"),
    ("Louis", "Lefèvre"),
    ("Léa", "Moreau"),
    ("Jonas", "Müller"),
    ("Hannah", "Schäfer"),
    ("Felix", "Weiß"),
    ("Sofia", "Rossi"),
    ("Marco", "Bianchi"),
    ("Giulia", "Ferrari"),
    ("Lars", "Nilsson"),
    ("Ingrid", "Johansson"),
    ("Søren", "Jørgensen"),
    ("Freya", "Ólafsdóttir"),
    ("Aleksander", "Kowalski"),
    ("Zofia", "Wiśniewska"),
    ("Tomáš", "Novák"),
    ("Ana", "Popescu"),
    ("Dimitri", "Papadopoulos"),
    ("Elif", "Yılmaz"),
    ("Mehmet", "Demir"),
    ("Aisha", "Khan"),
    ("Omar", "Haddad"),
    ("Layla", "Nasser"),
    ("Yusuf", "Rahman"),
    ("Priya", "Patel"),
    ("Arjun", "Sharma"),
    ("Ananya", "Iyer"),
    ("Rohan", "Gupta"),
    ("Wei", "Chen"),
    ("Mei", "Lin"),
    ("Hiroshi", "Tanaka"),
    ("Yuki", "Sato"),
    ("Min-jun", "Kim"),
    ("Seo-yeon", "Park"),
    ("Linh", "Nguyen"),
    ("Minh", "Tran"),
    ("Maria", "Santos"),
    ("João", "Silva"),
    ("Camila", "Pereira"),
    ("Diego", "Torres"),
    ("Valentina", "López"),
    ("Kwame", "Mensah"),
    ("Amara", "Okafor"),
    ("Chidi", "Nwosu"),
    ("Zanele", "Dlamini"),
    ("Tariq", "Abdullah"),
    ("Noa", "Cohen"),
    ("Aroha", "Ngata"),
    ("Kai", "Kahananui"),
    ("Siobhán", "O'Brien"),
    ("Declan", "McCarthy"),
    ("Grace", "Taylor"),
)


# --- Pasted name lists -------------------------------------------------------------------


MAX_NAME_LINES: Final = 10_000
MAX_NAME_CHARS: Final = 200_000


def parse_names(text: str) -> tuple[list[tuple[str, str]], list[LineProblem]]:
    """Read one person per line, as "First Last" or "Last, First". Never raises.

    Without a comma the first word is the first name and the rest the last name
    ("Jan van der Berg" → Jan / van der Berg). Blank lines are skipped; one-word lines and
    names that break the name rules are rejected with their line number. Repeated names
    are kept: the generator gives each its own prefix.
    """
    if len(text) > MAX_NAME_CHARS:
        reason = f"the list has {len(text):,} characters; paste at most {MAX_NAME_CHARS:,} at a time"
        return [], [LineProblem(1, "name", reason)]
    names: list[tuple[str, str]] = []
    problems: list[LineProblem] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if number > MAX_NAME_LINES:
            problems.append(
                LineProblem(
                    number, "name", f"only the first {MAX_NAME_LINES:,} lines are read"
                )
            )
            break
        entry = line.strip()
        if not entry:
            continue
        if "," in entry:
            last, _, first = (part.strip() for part in entry.partition(","))
        else:
            words = entry.split()
            first, last = words[0], " ".join(words[1:])
        shown = shorten(entry)
        if not first or not last:
            problems.append(
                LineProblem(
                    number,
                    "name",
                    f"'{shown}' needs a first and a last name ('First Last' or 'Last, First')",
                )
            )
            continue
        issues = [
            (label, name_problem(value))
            for label, value in (("first name", first), ("last name", last))
        ]
        bad = [
            f"the {label} in '{shown}' {issue[1]}" for label, issue in issues if issue
        ]
        if bad:
            problems.append(LineProblem(number, "name", "; ".join(bad)))
            continue
        names.append((first, last))
    return names, problems
