"""The order builder's forms: the one big form (parsed by hand), the new-order form and the
CSV import.

The builder posts every domain row and mailbox row with indexed names
(`item-3-domain`, `item-3-mb-0-prefix`, ...). Parsing keeps whatever the user typed: values
that the database cannot hold (too long, a NUL character, unknown provider) become errors
naming the row, and the page is shown again with the typed values; everything else is saved as
typed and judged by the local rules and Instantly's simulation.

One maximum draft size holds for every way a draft grows (typing, buttons, the generator, CSV
import) so that whatever was saved can be saved, quoted and submitted again; see
`MAX_DRAFT_MAILBOXES`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from django import forms
from django.http import QueryDict

from orders import mailbox_csv
from orders.models import OrderType, Provider
from orders.rules import DraftItem, DraftMailbox

# The largest draft: 1,000 mailboxes on at most 200 domains. 1,000 is ten Microsoft domains
# at Instantly's newest per-domain maximum of 100; 200 domains is 1,000 mailboxes at Google's
# and AirMail's 5 per domain, so neither limit makes the other unreachable. At this size the
# builder page, an autosave and a quote stay well under a second (`make bench ARGS=draft`);
# bigger purchases are split into several orders.
MAX_DRAFT_DOMAINS: Final = 200
MAX_DRAFT_MAILBOXES: Final = 1_000
MAX_MAILBOXES_PER_ITEM: Final = 100
# What one builder POST carries, for DATA_UPLOAD_MAX_NUMBER_FIELDS in dfyportal/settings.py:
# per domain row its domain, provider and forwarding fields plus the generator's names, pattern,
# count, add-or-replace choice, source (typed or the persona library) and cap per persona; per
# mailbox first name, last name and prefix; then the CSRF token, version, order type, title and
# the clicked button, with room for a few more.
FIELDS_PER_DOMAIN: Final = 9
FIELDS_PER_MAILBOX: Final = 3
FIXED_FIELDS: Final = 20
LIMITS: Final = {
    "title": 120,
    "domain": 253,
    "forwarding_domain": 253,
    "first_name": 100,
    "last_name": 100,
    "email_prefix": 64,
}

ITEM_KEY = re.compile(r"^item-(\d{1,4})-domain$")
MAILBOX_KEY = re.compile(r"^item-(\d{1,4})-mb-(\d{1,4})-first$")


def post_fields_needed(
    domains: int = MAX_DRAFT_DOMAINS, mailboxes: int = MAX_DRAFT_MAILBOXES
) -> int:
    """How many form fields the builder posts for a draft of this size."""
    return domains * FIELDS_PER_DOMAIN + mailboxes * FIELDS_PER_MAILBOX + FIXED_FIELDS


def size_problem(items: Sequence[DraftItem]) -> str | None:
    """Why a draft of `items` is bigger than any draft may be, or None."""
    domains = len(items)
    mailboxes = sum(len(item.mailboxes) for item in items)
    if domains > MAX_DRAFT_DOMAINS:
        return (
            f"that makes {domains:,} domains; a draft holds at most {MAX_DRAFT_DOMAINS:,} "
            f"domains and {MAX_DRAFT_MAILBOXES:,} mailboxes. Split it into several orders."
        )
    if mailboxes > MAX_DRAFT_MAILBOXES:
        return (
            f"that makes {mailboxes:,} mailboxes; a draft holds at most "
            f"{MAX_DRAFT_MAILBOXES:,} mailboxes and {MAX_DRAFT_DOMAINS:,} domains. "
            "Split it into several orders."
        )
    return None


def text_problem(value: str, label: str, limit: int) -> str | None:
    """Why the database cannot store `value` in a column of `limit` characters, or None.

    PostgreSQL text cannot hold NUL at all, and a value over the column's length is refused
    there too (SQLite would store both silently). The phrase starts with `label`.
    """
    if "\x00" in value:
        return f"{label} contains a NUL character (\\0); remove it"
    if len(value) > limit:
        return f"{label} is longer than {limit} characters"
    return None


@dataclass
class BuilderPost:
    items: list[DraftItem]
    order_type: str
    title: str
    version: int | None
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def _text(data: QueryDict, key: str) -> str:
    return str(data.get(key, "")).strip()


def _limit(value: str, name: str, where: str, errors: list[str]) -> str:
    problem = text_problem(value, name.replace("_", " "), LIMITS[name])
    if problem:
        errors.append(f"{where}: {problem}.")
    return value


def parse_builder_post(data: QueryDict) -> BuilderPost:
    errors: list[str] = []
    order_type = _text(data, "order_type") or OrderType.DFY
    if order_type not in OrderType.values:
        errors.append(
            f"Order type {order_type!r} is not one of {', '.join(OrderType.values)}."
        )
        order_type = OrderType.DFY
    try:
        version: int | None = int(_text(data, "version"))
    except ValueError:
        version = None
        errors.append("The form lost its version number; reload the page.")
    title = _text(data, "title")
    if problem := text_problem(title, "Title", LIMITS["title"]):
        errors.append(f"{problem}.")
    item_indexes = sorted(int(m.group(1)) for key in data if (m := ITEM_KEY.match(key)))
    if len(item_indexes) > MAX_DRAFT_DOMAINS:
        errors.append(
            f"A draft holds at most {MAX_DRAFT_DOMAINS:,} domains; this one has "
            f"{len(item_indexes):,}. Nothing was saved; split it into several orders."
        )
        item_indexes = item_indexes[:MAX_DRAFT_DOMAINS]
    mailbox_indexes: dict[int, list[int]] = {}
    for key in data:
        if m := MAILBOX_KEY.match(key):
            mailbox_indexes.setdefault(int(m.group(1)), []).append(int(m.group(2)))
    items = []
    for number, index in enumerate(item_indexes, start=1):
        prefix = f"item-{index}-"
        domain = _limit(
            _text(data, prefix + "domain").lower(),
            "domain",
            f"Domain row {number}",
            errors,
        )
        where = f"Domain row {number} ({domain or 'empty'})"
        raw_provider = _text(data, prefix + "provider") or str(Provider.GOOGLE.value)
        try:
            provider = Provider(int(raw_provider))
        except ValueError:
            errors.append(
                f"{where}: provider {raw_provider!r} is not Google, AirMail or Microsoft."
            )
            provider = Provider.GOOGLE
        forwarding = _limit(
            _text(data, prefix + "forwarding").lower(),
            "forwarding_domain",
            where,
            errors,
        )
        rows = sorted(mailbox_indexes.get(index, []))
        if len(rows) > MAX_MAILBOXES_PER_ITEM:
            errors.append(
                f"{where}: at most {MAX_MAILBOXES_PER_ITEM} mailboxes per domain."
            )
            rows = rows[:MAX_MAILBOXES_PER_ITEM]
        mailboxes = []
        for row_number, row in enumerate(rows, start=1):
            mb = f"{prefix}mb-{row}-"
            row_where = f"{where}, mailbox {row_number}"
            mailboxes.append(
                DraftMailbox(
                    first_name=_limit(
                        _text(data, mb + "first"), "first_name", row_where, errors
                    ),
                    last_name=_limit(
                        _text(data, mb + "last"), "last_name", row_where, errors
                    ),
                    email_prefix=_limit(
                        _text(data, mb + "prefix").lower(),
                        "email_prefix",
                        row_where,
                        errors,
                    ),
                )
            )
        items.append(
            DraftItem(
                domain=domain,
                provider=int(provider),
                forwarding_domain=forwarding,
                mailboxes=tuple(mailboxes),
            )
        )
    mailbox_count = sum(len(rows) for rows in mailbox_indexes.values())
    if mailbox_count > MAX_DRAFT_MAILBOXES:
        errors.append(
            f"A draft holds at most {MAX_DRAFT_MAILBOXES:,} mailboxes; this one has "
            f"{mailbox_count:,}. Nothing was saved; split it into several orders."
        )
    return BuilderPost(
        items=items,
        order_type=order_type,
        title=title,
        version=version,
        errors=errors,
    )


# --- The new-order form and the CSV import --------------------------------------------


class NewOrderForm(forms.Form):
    order_type = forms.ChoiceField(
        choices=OrderType.choices, initial=OrderType.DFY, widget=forms.RadioSelect
    )
    title = forms.CharField(
        max_length=120,
        required=False,
        help_text="Optional, e.g. the client or campaign.",
    )


class CsvImportForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput)
    file = forms.FileField()

    imported: mailbox_csv.CsvImport | None = None
    decode_error: str = ""

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        # The one cap (mailbox_csv.MAX_UPLOAD_BYTES), checked before the file is read.
        if too_big := mailbox_csv.upload_size_problem(upload.size):
            raise forms.ValidationError(too_big)
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
