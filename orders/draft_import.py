"""A write on a draft: importing a mailbox spreadsheet (parsed and checked by
`builder_forms.CsvImportForm`) into it, saved like any other builder save."""

from __future__ import annotations

from dataclasses import replace

from django.contrib.auth.models import User

from orders import drafts, mailbox_csv
from orders.builder_forms import size_problem
from orders.drafts import draft_items
from orders.models import Order, Provider
from orders.rules import DraftItem


def order_draft_import_csv(
    *, order: Order, by: User, version: int, imported: mailbox_csv.CsvImport | None
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
