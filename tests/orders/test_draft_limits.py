"""Large drafts stay editable (issue #9, item 8).

One maximum draft size (orders/builder_forms.py: 200 domains, 1,000 mailboxes) holds for the
builder, its buttons and generator, CSV import, autosave, the quote and submission. The
largest draft is edited end to end through the page's own form; anything bigger is refused
with the limit named and the saved draft left as it was.
"""

from __future__ import annotations

import html as html_lib
from html.parser import HTMLParser

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from orders import drafts, instantly
from orders.builder_forms import (
    MAX_DRAFT_DOMAINS,
    MAX_DRAFT_MAILBOXES,
    post_fields_needed,
)
from orders.mailboxes import export_csv
from orders.models import Mailbox, Order, OrderItem, OrderStatus, Quote
from orders.rules import DraftItem, DraftMailbox

pytestmark = pytest.mark.django_db
HX = {"HX-Request": "true"}
PER_DOMAIN = MAX_DRAFT_MAILBOXES // MAX_DRAFT_DOMAINS  # 5: Google's maximum


class BuilderForm(HTMLParser):
    """The fields a browser would post from the page's `#builder` form (no button)."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: list[tuple[str, str]] = []
        self._inside = False
        self._select: str | None = None
        self._options: list[tuple[str, bool]] = []
        self._textarea: str | None = None
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._inside = a.get("id") == "builder"
        if not self._inside or tag == "button":
            return
        if tag == "input" and "name" in a:
            if a.get("type") in {"checkbox", "radio"} and "checked" not in a:
                return
            self.fields.append((a["name"], a.get("value", "")))
        elif tag == "select":
            self._select, self._options = a["name"], []
        elif tag == "option" and self._select is not None:
            self._options.append((a.get("value", ""), "selected" in a))
        elif tag == "textarea":
            self._textarea, self._text = a["name"], ""

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._inside = False
        elif tag == "select" and self._select is not None:
            chosen = [v for v, selected in self._options if selected]
            self.fields.append((self._select, (chosen or [self._options[0][0]])[0]))
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            self.fields.append((self._textarea, self._text))
            self._textarea = None


def posted_fields(response) -> dict[str, str]:
    parser = BuilderForm()
    parser.feed(response.content.decode())
    names = [name for name, _ in parser.fields]
    assert len(names) == len(set(names)), "a field name repeats"
    return dict(parser.fields)


@pytest.fixture
def draft(operator_client, workspace, remote):
    operator_client.post(
        reverse("orders:new", args=[workspace.slug]),
        {"order_type": "dfy", "title": "Big"},
    )
    return Order.objects.get()


def build_url(order):
    return reverse("orders:build", args=[order.workspace.slug, order.pk])


def csv_import_url(order):
    return reverse("orders:csv_import", args=[order.workspace.slug, order.pk])


def mailboxes(count: int, start: int = 0) -> tuple[DraftMailbox, ...]:
    return tuple(
        DraftMailbox("Jane", f"Roe{n}", f"jane.roe{n}")
        for n in range(start, start + count)
    )


def biggest_items() -> list[DraftItem]:
    return [
        DraftItem(domain=f"bigorder{n:03d}.com", mailboxes=mailboxes(PER_DOMAIN))
        for n in range(MAX_DRAFT_DOMAINS)
    ]


def form_body(order, items, **extra) -> dict[str, str]:
    data = {
        "version": str(order.version),
        "order_type": order.order_type,
        "title": order.title,
    }
    for i, item in enumerate(items):
        data |= {
            f"item-{i}-domain": item.domain,
            f"item-{i}-provider": str(item.provider),
            f"item-{i}-forwarding": item.forwarding_domain,
        }
        for j, mb in enumerate(item.mailboxes):
            data |= {
                f"item-{i}-mb-{j}-first": mb.first_name,
                f"item-{i}-mb-{j}-last": mb.last_name,
                f"item-{i}-mb-{j}-prefix": mb.email_prefix,
            }
    return data | extra


def accounts_ordered(quote) -> int | None:
    return instantly.parse_order_result(quote.response_body).number_of_accounts_ordered


def saved(order):
    fresh = Order.objects.get(pk=order.pk)
    return fresh.version, OrderItem.objects.count(), Mailbox.objects.count()


def save_biggest(order, operator):
    return drafts.order_draft_save(
        order=order, by=operator, version=order.version, items=biggest_items()
    )


def test_upload_field_limit_is_computed_from_the_maximum_draft():
    assert post_fields_needed() == settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
    # Django's default would refuse a draft of 7 Microsoft domains of 50 mailboxes.
    assert post_fields_needed(7, 350) > 1_000


def test_the_largest_draft_is_edited_autosaved_quoted_and_submitted(
    operator_client, draft, remote
):
    # Typed in through the builder: one POST of 200 domains and 1,000 mailboxes, over
    # Django's default 1,000-field limit.
    body = form_body(draft, biggest_items())
    assert len(body) > 1_000

    response = operator_client.post(build_url(draft), body, headers=HX)

    assert response.status_code == 200
    assert OrderItem.objects.count() == MAX_DRAFT_DOMAINS
    assert Mailbox.objects.count() == MAX_DRAFT_MAILBOXES
    first_quote = Quote.objects.get()
    assert first_quote.is_valid
    assert accounts_ordered(first_quote) == MAX_DRAFT_MAILBOXES

    # The page's own form, posted back as an autosave after one edit.
    page = operator_client.get(build_url(draft))
    fields = posted_fields(page)
    assert len(fields) + 1 <= settings.DATA_UPLOAD_MAX_NUMBER_FIELDS  # + CSRF token
    assert sum(k.endswith("-first") for k in fields) == MAX_DRAFT_MAILBOXES
    fields["item-199-mb-4-first"] = "Janet"

    autosave = operator_client.post(build_url(draft), fields, headers=HX)

    assert autosave.status_code == 200
    assert "Not saved yet" not in autosave.content.decode()
    edited = Mailbox.objects.get(item__position=199, position=4)
    assert edited.first_name == "Janet"
    assert Quote.objects.count() == 2
    quote = Quote.objects.first()
    order = Order.objects.get(pk=draft.pk)

    # The same form without JavaScript (the autosave's answer carried the new version):
    # "Save and quote" redirects back to the page.
    fields["version"] = str(order.version)
    plain = operator_client.post(build_url(draft), fields | {"save": "1"})

    assert plain.status_code == 302
    assert Order.objects.get(pk=draft.pk).version == order.version  # nothing changed

    submitted = operator_client.post(
        reverse("orders:submit", args=[draft.workspace.slug, draft.pk]),
        {"version": order.version, "fingerprint": quote.fingerprint},
    )

    assert submitted.status_code == 302
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_APPROVAL
    assert order.approved_quote == quote
    assert remote.real_posts() == 0


def test_the_quote_endpoint_prices_the_largest_draft(
    operator_client, draft, operator, remote
):
    save_biggest(draft, operator)

    response = operator_client.post(
        reverse("orders:quote", args=[draft.workspace.slug, draft.pk]), headers=HX
    )

    assert response.status_code == 200
    quote = Quote.objects.get()
    assert quote.is_valid
    assert accounts_ordered(quote) == MAX_DRAFT_MAILBOXES


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"add_mailbox": "0"}, "Add mailbox: not done, that makes 1,001 mailboxes"),
        ({"add_row": "1"}, "Add a domain row: not done, that makes 201 domains"),
        (
            {"add_domain": "onemore.com"},
            "Add domain: not done, that makes 201 domains",
        ),
        (
            # Google rows are full (5 of 5); a Microsoft row has room for 95 more.
            {
                "generate": "0",
                "item-0-provider": "3",
                "gen-0-count": "6",
                "gen-0-pattern": "first.last",
            },
            "Generate mailboxes: not done, that makes 1,006 mailboxes",
        ),
        ({"ms_bundle": "0"}, "Microsoft bundle: not done, that makes 1,045 mailboxes"),
    ],
    ids=["add_mailbox", "add_row", "add_domain", "generate", "ms_bundle"],
)
def test_growing_the_largest_draft_is_refused_and_it_stays(
    operator_client, draft, operator, extra, message
):
    order = save_biggest(draft, operator)
    before = saved(order)

    response = operator_client.post(
        build_url(order), form_body(order, biggest_items(), **extra), headers=HX
    )

    text = html_lib.unescape(response.content.decode())
    assert response.status_code == 200
    assert message in text
    assert "a draft holds at most 1,000 mailboxes" in text or (
        "a draft holds at most 200 domains" in text
    )
    assert saved(order) == before


def test_copying_personas_past_the_maximum_is_refused(operator_client, draft, operator):
    # 10 domains of 100 mailboxes (the Microsoft maximum), then an 11th with 1 mailbox.
    items = [
        DraftItem(domain=f"msbig{n}.com", provider=3, mailboxes=mailboxes(100))
        for n in range(9)
    ] + [
        DraftItem(domain="msbig9.com", provider=3, mailboxes=mailboxes(99)),
        DraftItem(domain="msbig10.com", provider=3, mailboxes=mailboxes(1)),
    ]
    order = drafts.order_draft_save(
        order=draft, by=operator, version=draft.version, items=items
    )
    before = saved(order)

    response = operator_client.post(
        build_url(order), form_body(order, items, copy_personas="0"), headers=HX
    )

    text = html_lib.unescape(response.content.decode())
    assert "Copy personas: not done, that makes 1,100 mailboxes" in text
    assert saved(order) == before


def test_a_post_bigger_than_the_maximum_is_refused_whole(
    operator_client, draft, operator
):
    order = save_biggest(draft, operator)
    before = saved(order)
    items = biggest_items()
    items[0] = DraftItem(domain=items[0].domain, mailboxes=mailboxes(6))

    response = operator_client.post(
        build_url(order), form_body(order, items), headers=HX
    )

    text = html_lib.unescape(response.content.decode())
    assert "A draft holds at most 1,000 mailboxes; this one has 1,001." in text
    assert saved(order) == before


def test_csv_import_over_the_maximum_is_refused_and_the_draft_stays(
    operator_client, draft, operator
):
    order = drafts.order_draft_save(
        order=draft,
        by=operator,
        version=draft.version,
        items=[DraftItem(domain="kept.com", mailboxes=mailboxes(3))],
    )
    before = saved(order)
    rows = [(f"csvbig{n:04d}.com", mailboxes(1, n)) for n in range(1_001)]
    upload = SimpleUploadedFile("big.csv", export_csv(rows).encode(), "text/csv")

    response = operator_client.post(
        csv_import_url(order), {"version": order.version, "file": upload}
    )

    text = html_lib.unescape(response.content.decode())
    assert response.status_code == 200
    assert "The file has 1,001 mailboxes; a draft holds at most 1,000." in text
    assert saved(order) == before


def test_csv_import_that_would_push_the_draft_past_the_maximum_is_refused(
    operator_client, draft, operator
):
    order = save_biggest(draft, operator)
    before = saved(order)
    # Replaces one domain's 5 mailboxes with 6: one over.
    rows = [("bigorder000.com", mailboxes(6))]
    upload = SimpleUploadedFile("more.csv", export_csv(rows).encode(), "text/csv")

    response = operator_client.post(
        csv_import_url(order), {"version": order.version, "file": upload}
    )

    text = html_lib.unescape(response.content.decode())
    assert (
        "Nothing was imported: with this file's rows, that makes 1,001 mailboxes"
        in text
    )
    assert saved(order) == before


def test_csv_import_up_to_the_maximum_is_applied(operator_client, draft):
    rows = [(f"csvfull{n:03d}.com", mailboxes(5)) for n in range(MAX_DRAFT_DOMAINS)]
    upload = SimpleUploadedFile("full.csv", export_csv(rows).encode(), "text/csv")

    response = operator_client.post(
        csv_import_url(draft), {"version": draft.version, "file": upload}
    )

    assert response.status_code == 302
    assert OrderItem.objects.count() == MAX_DRAFT_DOMAINS
    assert Mailbox.objects.count() == MAX_DRAFT_MAILBOXES
