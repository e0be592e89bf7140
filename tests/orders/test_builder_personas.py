"""The builder's generator with names from the persona library: the preview and the button
agree, the cap and the spread count across the draft's rows, and a short library says why."""

from __future__ import annotations

import html as html_lib
import re

import pytest
from django.http import QueryDict
from django.urls import reverse

from orders.builder_generator import plan_generation
from orders.models import Order, Persona
from orders.rules import DraftItem, DraftMailbox
from tests.orders.test_builder_views import HX, build_url, form_state

pytestmark = pytest.mark.django_db

PEOPLE = [("Ada", "Lovelace"), ("Grace", "Hopper"), ("Alan", "Turing")]


@pytest.fixture
def draft(operator_client, workspace, remote):
    operator_client.post(
        reverse("orders:new", args=[workspace.slug]),
        {"order_type": "dfy", "title": "Q3"},
    )
    Persona.objects.bulk_create(
        Persona(workspace=workspace, first_name=first, last_name=last)
        for first, last in PEOPLE
    )
    return Order.objects.get()


def fresh(order):
    return Order.objects.get(pk=order.pk)


def stored(order):
    return [
        [(m.first_name, m.last_name, m.email_prefix) for m in item.mailboxes.all()]
        for item in fresh(order).items.all()
    ]


def preview_text(response, index=0):
    found = re.search(
        rf'<div class="gen-preview" id="gen-{index}-preview"[^>]*>.*?</div>',
        response.content.decode(),
        re.S,
    )
    assert found is not None
    return " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", found.group(0))).split())


def library_fields(index=0, count="2", cap=""):
    return {
        f"gen-{index}-source": "library",
        f"gen-{index}-pattern": "first.last",
        f"gen-{index}-count": count,
        f"gen-{index}-cap": cap,
    }


TWO_ROWS: list[tuple[str, int, list[tuple[str, str, str]]]] = [
    ("acme-mail.com", 1, []),
    ("tryacme.org", 1, []),
]


def test_the_preview_shows_what_generate_then_makes(operator_client, draft):
    fields = library_fields(index=1, count="2")

    preview = operator_client.post(
        build_url(draft), form_state(fresh(draft), items=TWO_ROWS, **fields), headers=HX
    )
    operator_client.post(
        build_url(draft),
        form_state(fresh(draft), items=TWO_ROWS, generate="1", **fields),
        headers=HX,
    )

    assert "Adds these 2: Grace Hopper grace.hopper@tryacme.org Ada Lovelace" in (
        preview_text(preview, 1)
    )
    assert stored(draft) == [
        [],
        [("Grace", "Hopper", "grace.hopper"), ("Ada", "Lovelace", "ada.lovelace")],
    ]


def test_the_spread_and_the_cap_count_the_other_rows(operator_client, draft):
    first = [("acme-mail.com", 1, [("Grace", "Hopper", "grace"), ("Ada", "L", "x")])]
    items = [*first, ("tryacme.org", 1, [])]

    operator_client.post(
        build_url(draft),
        form_state(
            fresh(draft), items=items, generate="1", **library_fields(1, "3", cap="1")
        ),
        headers=HX,
    )

    # Grace is on row 1 already and the cap is one domain; "Ada L" is not Ada Lovelace.
    assert stored(draft)[1] == [
        ("Ada", "Lovelace", "ada.lovelace"),
        ("Alan", "Turing", "alan.turing"),
    ]


def test_a_short_library_makes_what_it_can_and_says_why(operator_client, draft):
    response = operator_client.post(
        build_url(draft),
        form_state(
            fresh(draft),
            items=[("acme-mail.com", 1, [])],
            generate="0",
            **library_fields(0, "5"),
        ),
        follow=True,
    )

    assert len(stored(draft)[0]) == 3
    page = html_lib.unescape(response.content.decode())
    assert (
        "Added 3 generated mailboxes to acme-mail.com. Domain row 1 (acme-mail.com): "
        "the persona library filled 3 of 5 mailboxes; it has 3 personas and each "
        "appears at most once per domain."
    ) in page


def test_an_empty_library_generates_nothing_and_says_so(
    operator_client, draft, workspace
):
    Persona.objects.all().delete()

    response = operator_client.post(
        build_url(draft),
        form_state(
            fresh(draft),
            items=[("acme-mail.com", 1, [])],
            generate="0",
            **library_fields(0, "2"),
        ),
        headers=HX,
    )

    assert stored(draft) == []  # nothing generated: the action is refused whole
    assert "the library is empty: add personas on the Personas page" in (
        html_lib.unescape(response.content.decode())
    )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"gen-0-source": "elsewhere"}, "choose typed names or the persona library"),
        (
            {"gen-0-source": "library", "gen-0-cap": "0"},
            "the most domains per persona must be a whole number from 1 to 1,000",
        ),
        (
            {"gen-0-source": "library", "gen-0-cap": "9" * 5000},
            "the most domains per persona must be a whole number",
        ),
    ],
)
def test_bad_generator_fields_are_named_and_nothing_changes(
    operator_client, draft, fields, message
):
    response = operator_client.post(
        build_url(draft),
        form_state(
            fresh(draft), items=[("acme-mail.com", 1, [])], generate="0", **fields
        ),
        headers=HX,
    )

    assert message in html_lib.unescape(response.content.decode())
    assert stored(draft) == []


def test_typed_names_are_ignored_when_the_library_is_chosen(operator_client, draft):
    operator_client.post(
        build_url(draft),
        form_state(
            fresh(draft),
            items=[("acme-mail.com", 1, [])],
            generate="0",
            **library_fields(0, "1"),
            **{"gen-0-names": "one-word-line"},
        ),
        headers=HX,
    )

    assert stored(draft) == [[("Grace", "Hopper", "grace.hopper")]]


def test_the_page_remembers_the_library_choice(operator_client, draft):
    response = operator_client.post(
        build_url(draft),
        form_state(
            fresh(draft), items=TWO_ROWS, generate="0", **library_fields(0, "1", "2")
        ),
        headers=HX,
    )

    body = response.content.decode()
    assert 'name="gen-0-source" value="library" checked' in body
    assert (
        'name="gen-0-cap" type="number" min="1" max="1000" inputmode="numeric" value="2"'
        in body
    )


def test_without_a_draft_the_library_is_not_offered():
    plan = plan_generation(
        DraftItem("acme.com"),
        0,
        QueryDict("gen-0-source=library&gen-0-count=2"),
    )

    assert plan.new == []
    assert plan.note == "The persona library is only available in a saved draft."


def test_replace_mode_draws_again_from_the_library(operator_client, draft):
    kept = [("Grace", "Hopper", "grace.hopper")]
    items = [("acme-mail.com", 1, kept)]

    operator_client.post(
        build_url(draft),
        form_state(
            fresh(draft),
            items=items,
            generate="0",
            **library_fields(0, "3"),
            **{"gen-0-mode": "replace"},
        ),
        headers=HX,
    )

    assert [m[0] for m in stored(draft)[0]] == ["Grace", "Ada", "Alan"]


def test_a_full_domain_asks_the_library_for_nothing(workspace, operator):
    order = Order.objects.create(workspace=workspace, requester=operator)
    full = DraftItem(
        "acme.com",
        mailboxes=tuple(DraftMailbox("A", str(n), f"a{n}") for n in range(5)),
    )

    plan = plan_generation(
        full, 0, QueryDict("gen-0-source=library"), order=order, items=[full]
    )

    assert plan.new == []
    assert plan.note.startswith("This domain is full")
