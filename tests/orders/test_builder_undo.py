"""Issue #10, "work must never be lost", through the test client: undo of destructive actions,
the generator's add-or-replace with preview and capacity, pattern labels, addresses that fill
themselves, duplicate and invalid domains said once and inline, and bulk adds."""

from __future__ import annotations

import html as html_lib
import re

import pytest
from django.urls import reverse

from orders import drafts
from orders.models import (
    CheckStatus,
    DomainCheck,
    DraftSnapshot,
    Mailbox,
    Order,
    OrderEdit,
    OrderItem,
)
from orders.rules import DraftItem, DraftMailbox
from tests.orders.test_builder_views import HX, JANE, JOHN, build_url, form_state

pytestmark = pytest.mark.django_db


@pytest.fixture
def draft(operator_client, workspace, remote):
    operator_client.post(
        reverse("orders:new", args=[workspace.slug]),
        {"order_type": "dfy", "title": "Q3"},
    )
    return Order.objects.get()


def fresh(order):
    return Order.objects.get(pk=order.pk)


def text_of(response) -> str:
    """What the user reads: tags removed, entities decoded."""
    return html_lib.unescape(re.sub(r"<[^>]+>", " ", response.content.decode()))


def stored(order):
    return [
        (item.domain, [m.email_prefix for m in item.mailboxes])
        for item in drafts.draft_items(fresh(order))
    ]


def save(client, order, items, **extra):
    return client.post(
        build_url(order), form_state(fresh(order), items=items, **extra), headers=HX
    )


TWO = [("acme-mail.com", 1, [JANE, JOHN]), ("tryacme.org", 1, [JANE])]


# --- Item 1: every destructive button offers Undo ----------------------------------------


@pytest.mark.parametrize(
    ("button", "value", "label", "after"),
    [
        (
            "remove_domain",
            "0",
            "Removed acme-mail.com and its 2 mailboxes",
            [("tryacme.org", ["jane"])],
        ),
        (
            "remove_mailbox",
            "0:1",
            "Removed mailbox 2 (John Roe) from acme-mail.com",
            [("acme-mail.com", ["jane"]), ("tryacme.org", ["jane"])],
        ),
        (
            "clear_mailboxes",
            "0",
            "Removed all 2 mailboxes from acme-mail.com",
            [("acme-mail.com", []), ("tryacme.org", ["jane"])],
        ),
    ],
)
def test_destructive_button_offers_undo_that_restores_as_a_new_version(
    operator_client, draft, operator, button, value, label, after
):
    save(operator_client, draft, TWO)
    before = stored(draft)
    version_before = fresh(draft).version

    response = save(operator_client, draft, TWO, **{button: value})

    assert stored(draft) == after
    snapshot = DraftSnapshot.objects.get()
    assert snapshot.label == label
    assert snapshot.version == version_before
    page = operator_client.get(build_url(draft)).content.decode()
    assert f'name="undo" value="{snapshot.pk}"' in page
    assert label in html_lib.unescape(page)
    assert label in text_of(response)

    response = save(operator_client, draft, after_form(after), undo=str(snapshot.pk))

    order = fresh(draft)
    assert stored(draft) == before
    assert order.version == version_before + 2
    # The restore is an ordinary edit: four-eyes sees who made it.
    assert (
        OrderEdit.objects.filter(order=order, version=order.version).get().editor
        == operator
    )
    assert "Undone: " + label in text_of(response)
    # The undo itself can be undone (it replaced the draft too).
    redo = DraftSnapshot.objects.get()
    assert redo.label == f"Undid “{label}”"


def after_form(after):
    return [(d, 1, [("Jane", "Roe", p) for p in prefixes]) for d, prefixes in after]


def test_undo_stays_offered_for_the_next_actions(operator_client, draft):
    save(operator_client, draft, TWO)
    save(operator_client, draft, TWO, remove_domain="1")
    snapshot = DraftSnapshot.objects.get()
    left = [("acme-mail.com", 1, [JANE, JOHN])]

    save(operator_client, draft, left, add_mailbox="0")
    save(
        operator_client,
        draft,
        [("acme-mail.com", 1, [JANE, JOHN, ("Max", "Power", "max")])],
    )

    page = operator_client.get(build_url(draft)).content.decode()
    assert f'name="undo" value="{snapshot.pk}"' in page


def test_generator_replace_and_microsoft_bundle_offer_undo(operator_client, draft):
    save(operator_client, draft, TWO)

    save(
        operator_client,
        draft,
        TWO,
        generate="0",
        **{"gen-0-mode": "replace", "gen-0-names": "Max Power", "gen-0-count": "2"},
    )

    assert stored(draft)[0] == ("acme-mail.com", ["max.power", "max.power2"])
    assert (
        DraftSnapshot.objects.get().label == "Replaced the 2 mailboxes of acme-mail.com"
    )
    now = [
        ("acme-mail.com", 1, [("Max", "Power", p) for p in ("max.power", "max.power2")])
    ]

    save(operator_client, draft, [*now, TWO[1]], ms_bundle="1")

    assert len(stored(draft)[1][1]) == 50
    assert DraftSnapshot.objects.first().label == (
        "Replaced the mailboxes of tryacme.org by a Microsoft bundle"
    )
    save(operator_client, draft, TWO, copy_personas="0")  # acme's 2 over tryacme's 1
    assert DraftSnapshot.objects.first().label == (
        "Copied the personas of acme-mail.com over other domains' mailboxes"
    )


def test_undo_keeps_what_was_typed_and_can_itself_be_undone(operator_client, draft):
    save(operator_client, draft, TWO)
    save(operator_client, draft, TWO, remove_domain="1")
    snapshot = DraftSnapshot.objects.get()
    typed = [
        ("acme-mail.com", 1, [JANE, ("Johnny", "Roe", "johnny")])
    ]  # not autosaved yet

    save(operator_client, draft, typed, undo=str(snapshot.pk))

    assert stored(draft) == [
        ("acme-mail.com", ["jane", "john"]),
        ("tryacme.org", ["jane"]),
    ]
    redo = DraftSnapshot.objects.get()
    save(operator_client, draft, TWO, undo=str(redo.pk))
    assert stored(draft) == [("acme-mail.com", ["jane", "johnny"])]


def test_undo_of_a_removal_brings_back_typing_autosave_had_not_sent(
    operator_client, draft
):
    save(operator_client, draft, [("acme-mail.com", 1, [JANE]), ("", 1, [])])
    # The second row's domain is typed, then a removal is clicked before autosave ran.
    typed = [("acme-mail.com", 1, [JANE]), ("tryacme.org", 1, [])]
    save(operator_client, draft, typed, remove_domain="0")
    assert stored(draft) == [("tryacme.org", [])]

    snapshot = DraftSnapshot.objects.get()
    save(operator_client, draft, [("tryacme.org", 1, [])], undo=str(snapshot.pk))

    assert stored(draft) == [("acme-mail.com", ["jane"]), ("tryacme.org", [])]


def test_undo_from_a_stale_tab_is_refused_and_changes_nothing(operator_client, draft):
    save(operator_client, draft, TWO)
    stale = fresh(draft)
    save(operator_client, draft, TWO, remove_domain="0")
    snapshot = DraftSnapshot.objects.get()
    save(operator_client, draft, [("tryacme.org", 1, [JOHN])])
    current = stored(draft)

    response = operator_client.post(
        build_url(draft),
        form_state(stale, items=TWO, undo=str(snapshot.pk)),
        headers=HX,
    )

    assert "changed in another tab" in text_of(response)
    assert stored(draft) == current
    assert DraftSnapshot.objects.filter(pk=snapshot.pk).exists()


def test_undo_of_another_orders_snapshot_is_refused(
    operator_client, draft, operator, workspace
):
    other = drafts.order_draft_create(
        workspace=workspace, by=operator, order_type="dfy"
    )
    other = drafts.order_draft_save(
        order=other,
        by=operator,
        version=other.version,
        items=[
            DraftItem(domain="other-one.com", mailboxes=(DraftMailbox("A", "B", "ab"),))
        ],
    )
    drafts.order_draft_save(
        order=other,
        by=operator,
        version=other.version,
        items=[],
        undo_label="Removed x",
    )
    foreign = DraftSnapshot.objects.get(order=other)
    save(operator_client, draft, TWO)
    before = stored(draft)

    response = save(operator_client, draft, TWO, undo=str(foreign.pk))

    assert "That undo is no longer available" in text_of(response)
    assert stored(draft) == before
    assert DraftSnapshot.objects.filter(pk=foreign.pk).exists()


def test_only_the_newest_snapshots_are_kept(draft, operator):
    order = draft
    for n in range(drafts.SNAPSHOTS_KEPT + 3):
        items = [DraftItem(domain=f"d{n}.com")]
        order = drafts.order_draft_save(
            order=order,
            by=operator,
            version=order.version,
            items=items,
            undo_label=f"step {n}",
        )

    assert DraftSnapshot.objects.filter(order=draft).count() == drafts.SNAPSHOTS_KEPT


# --- Item 2: the generator adds by default, previews, and stops at capacity ---------------


def test_generate_adds_to_typed_mailboxes_up_to_capacity_and_says_so(
    operator_client, draft
):
    typed = [("acme-mail.com", 1, [JANE, JOHN])]
    save(operator_client, draft, typed)

    response = save(
        operator_client,
        draft,
        typed,
        generate="0",
        **{"gen-0-names": "Max Power\nJane Roe", "gen-0-count": "5"},
    )

    prefixes = stored(draft)[0][1]
    assert prefixes == ["jane", "john", "max.power", "jane.roe", "max.power2"]
    text = text_of(response)
    assert "Added 3 generated mailboxes to acme-mail.com" in text
    assert (
        "Stops at 5 mailboxes, the most a Google domain holds: 3 of the 5 asked for"
        in text
    )
    assert not DraftSnapshot.objects.exists()  # adding destroys nothing


def test_generate_on_a_full_domain_adds_nothing_and_says_why(operator_client, draft):
    full = [("acme-mail.com", 1, [(f"N{n}", "Roe", f"n{n}") for n in range(5)])]
    save(operator_client, draft, full)
    before = stored(draft)

    response = save(operator_client, draft, full, generate="0")

    assert stored(draft) == before
    assert (
        "Domain row 1 (acme-mail.com): nothing was generated. This domain is full: a "
        "Google domain holds at most 5 mailboxes. Choose “Replace” to make new ones"
    ) in text_of(response)


def test_autosave_previews_the_generator_with_names_and_addresses(
    operator_client, draft
):
    typed = [("acme-mail.com", 1, [JANE])]
    save(operator_client, draft, typed)

    response = save(
        operator_client,
        draft,
        typed,
        **{"gen-0-names": "Max Power", "gen-0-pattern": "flast", "gen-0-count": "9"},
    )

    body = response.content.decode()
    preview = re.search(
        r'<div class="gen-preview" id="gen-0-preview"[^>]*>.*?</div>', body, re.S
    )
    assert preview is not None
    assert 'hx-swap-oob="true"' in preview.group(0)
    text = html_lib.unescape(re.sub(r"<[^>]+>", " ", preview.group(0)))
    assert "Adds these 4" in text
    assert "Max Power" in text
    assert "mpower@acme-mail.com" in text
    assert "mpower2@acme-mail.com" in text
    assert "Stops at 5 mailboxes" in text
    assert stored(draft) == [("acme-mail.com", ["jane"])]  # a preview saves nothing


def test_builder_page_previews_the_default_generation(operator_client, draft):
    save(operator_client, draft, [("acme-mail.com", 1, [])])

    text = text_of(operator_client.get(build_url(draft)))

    assert "Adds these 5" in text
    assert "emma.johnson@acme-mail.com" in text


# --- Item 3: pattern labels --------------------------------------------------------------


def test_pattern_list_shows_human_labels_with_an_example(operator_client, draft):
    save(operator_client, draft, [("acme-mail.com", 1, [])])

    page = html_lib.unescape(operator_client.get(build_url(draft)).content.decode())

    assert "PrefixPattern(" not in page
    assert ">first.last, as in jane.roe@</option>" in page
    assert ">flast, as in jroe@</option>" in page


# --- Item 4: addresses fill themselves ----------------------------------------------------


def test_empty_addresses_fill_from_names_with_the_rows_pattern(operator_client, draft):
    items = [
        (
            "acme-mail.com",
            1,
            [
                ("Jane", "Roe", ""),
                ("Jane", "Roe", ""),
                ("Max", "Power", "boss"),
                ("", "", ""),
            ],
        ),
        ("tryacme.org", 1, [("Zoë", "Weiß", "")]),
    ]

    save(operator_client, draft, items, **{"gen-0-pattern": "flast"})

    assert stored(draft) == [
        ("acme-mail.com", ["jroe", "jroe2", "boss", ""]),
        ("tryacme.org", ["zoe.weiss"]),
    ]


# --- Item 5: duplicates, inline reasons, one message per problem --------------------------


def test_adding_a_domain_already_in_the_draft_says_so(operator_client, draft):
    save(operator_client, draft, TWO)

    response = save(operator_client, draft, TWO, add_domain="tryacme.org")

    assert [d for d, _ in stored(draft)] == ["acme-mail.com", "tryacme.org"]
    assert (
        "tryacme.org is already in this draft (domain 2); it was not added twice."
        in text_of(response)
    )


def test_invalid_pasted_domain_shows_its_reason_inline(operator_client, draft):
    response = operator_client.post(
        reverse("orders:check", args=[draft.workspace.slug, draft.pk]),
        {"domains": "acme..com"},
        headers=HX,
    )

    check = DomainCheck.objects.get()
    reason = check.results["acme..com"]["reason"]
    assert reason
    assert reason in text_of(response)
    assert f'title="{reason}"' not in html_lib.unescape(response.content.decode())


def test_one_problem_is_shown_once_with_its_source(operator_client, draft):
    # The first name is empty: the portal's rule and Instantly's simulation both object.
    items = [("acme-mail.com", 1, [("", "Roe", "jane")])]

    response = save(operator_client, draft, items, save="1")

    body = response.content.decode()
    findings = re.search(
        r'id="item-0-mb-0-findings".*?</span></span>', body, re.S
    ).group(0)
    shown = re.findall(r'<span class="finding error">(.*?)</span>', findings)
    assert len(shown) == 1
    assert shown[0].startswith("Portal rule: ")
    assert "refuse" in body  # Instantly did refuse it


# --- Item 6: bulk adds are confirmed and answered with one message ------------------------


def test_bulk_add_from_a_check_is_confirmed_first(operator_client, draft):
    domains = [f"fresh{n}-mail.com" for n in range(80)]
    check = DomainCheck.objects.create(
        workspace=draft.workspace,
        order=draft,
        domains=domains,
        results={d: {"state": "available"} for d in domains},
        status=CheckStatus.DONE,
    )

    response = operator_client.get(
        reverse("orders:check_status", args=[draft.workspace.slug, draft.pk, check.pk]),
        headers=HX,
    )

    body = response.content.decode()
    confirm = re.search(r'<details class="confirm-bulk".*?</details>', body, re.S)
    assert confirm is not None
    assert "<summary>Add all 80 available…</summary>" in confirm.group(0)
    assert "Yes, add 80 domains" in confirm.group(0)
    # The only button that adds all 80 is the one inside the confirmation.
    assert body.count('value="' + " ".join(domains) + '"') == 1


def test_bulk_add_answers_with_one_message(operator_client, draft):
    save(operator_client, draft, [("fresh3-mail.com", 1, [])])
    domains = [f"fresh{n}-mail.com" for n in range(81)]

    response = save(
        operator_client,
        draft,
        [("fresh3-mail.com", 1, [])],
        add_domain=" ".join(domains),
    )

    text = text_of(response)
    assert OrderItem.objects.count() == 81
    assert text.count("Added 80 domains.") == 1
    assert "Added fresh0-mail.com" not in text
    assert "fresh3-mail.com is already in this draft (domain 1)" in text
    assert Mailbox.objects.count() == 0


def test_add_all_suggestions_is_confirmed_first(operator_client, draft):
    response = operator_client.get(
        reverse("orders:suggest", args=[draft.workspace.slug, draft.pk]),
        {"domain": "acme", "tld": ["com"]},
        headers=HX,
    )

    body = html_lib.unescape(response.content.decode())
    count = body.count('<li><span class="domain">')
    assert count > 1
    confirm = re.search(r'<details class="confirm-bulk".*?</details>', body, re.S)
    assert confirm is not None
    assert f"<summary>Add all {count}…</summary>" in confirm.group(0)
    assert f"Yes, add {count} domains" in confirm.group(0)
    outside = body.replace(confirm.group(0), "")
    assert f"Add all {count}" not in outside
