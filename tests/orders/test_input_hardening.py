"""No input a member can send makes a 500 (issue #9, item 7).

The plain tests pin each case found by hand: the message names the field, nothing changes in
the database, and the typed value is shown again. The property-based tests at the end post
arbitrary text into every field of the builder, the history (filters and CSV export) and the
workspace settings on PostgreSQL, where a NUL byte or an over-long value is a DataError.
"""

from __future__ import annotations

import codecs
import html as html_lib
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orders.models import Mailbox, Order, OrderEvent, OrderItem, Workspace
from tests.conftest import require_service

pytestmark = pytest.mark.django_db
HX = {"HX-Request": "true"}
JANE = ("Jane", "Roe", "jane")


@pytest.fixture
def draft(operator_client, workspace, remote):
    operator_client.post(
        reverse("orders:new", args=[workspace.slug]),
        {"order_type": "dfy", "title": "Q3"},
    )
    order = Order.objects.get()
    # One saved domain with one mailbox, so "nothing changed" has something to compare.
    operator_client.post(
        build_url(order),
        form_state(order, items=[("acme-mail.com", 1, [JANE])]),
        headers=HX,
    )
    order.refresh_from_db()
    return order


def build_url(order):
    return reverse("orders:build", args=[order.workspace.slug, order.pk])


def form_state(order, *, items, **extra):
    """The builder's POST body for `items`: [(domain, provider, [(first, last, prefix)])]."""
    data = {
        "version": str(order.version),
        "order_type": order.order_type,
        "title": order.title,
    }
    for i, (domain, provider, mailboxes) in enumerate(items):
        data[f"item-{i}-domain"] = domain
        data[f"item-{i}-provider"] = str(provider)
        data[f"item-{i}-forwarding"] = ""
        for j, (first, last, prefix) in enumerate(mailboxes):
            data[f"item-{i}-mb-{j}-first"] = first
            data[f"item-{i}-mb-{j}-last"] = last
            data[f"item-{i}-mb-{j}-prefix"] = prefix
    data.update(extra)
    return data


def snapshot(order):
    """Everything a builder save can change, to compare before and after."""
    fresh = Order.objects.get(pk=order.pk)
    return (
        fresh.version,
        fresh.order_type,
        fresh.title,
        list(OrderItem.objects.values_list("domain", "provider", "forwarding_domain")),
        list(Mailbox.objects.values_list("first_name", "last_name", "email_prefix")),
        OrderEvent.objects.count(),
    )


def page_text(response) -> str:
    return html_lib.unescape(response.content.decode())


# --- The cases found by hand ------------------------------------------------------------------


@pytest.mark.parametrize("htmx", [True, False])
def test_unknown_switch_type_is_refused_and_nothing_saved(operator_client, draft, htmx):
    before = snapshot(draft)
    data = form_state(
        draft, items=[("acme-mail.com", 1, [JANE])], title="Typed", switch_type="bogus"
    )

    response = operator_client.post(build_url(draft), data, headers=HX if htmx else {})

    text = page_text(response)
    assert response.status_code == 200
    assert "Order type: 'bogus' is not one of" in text
    assert 'value="Typed"' in text
    assert snapshot(draft) == before


@pytest.mark.parametrize("button", ["generate", "ms_bundle"])
def test_unknown_generator_pattern_is_refused_and_nothing_saved(
    operator_client, draft, button
):
    before = snapshot(draft)
    data = form_state(
        draft,
        items=[("acme-mail.com", 1, [JANE])],
        **{button: "0", "gen-0-pattern": "no-such-pattern", "gen-0-count": "3"},
    )

    response = operator_client.post(build_url(draft), data, headers=HX)

    text = page_text(response)
    assert response.status_code == 200
    assert (
        "Domain row 1 (acme-mail.com): the address pattern 'no-such-pattern' is not one of"
        in text
    )
    assert snapshot(draft) == before


@pytest.mark.parametrize(
    ("field", "where"),
    [
        ("title", "Title"),
        ("item-0-domain", "Domain row 1: domain"),
        ("item-0-forwarding", "Domain row 1 (acme-mail.com): forwarding domain"),
        ("item-0-mb-0-first", "Domain row 1 (acme-mail.com), mailbox 1: first name"),
        ("item-0-mb-0-last", "Domain row 1 (acme-mail.com), mailbox 1: last name"),
        ("item-0-mb-0-prefix", "Domain row 1 (acme-mail.com), mailbox 1: email prefix"),
    ],
)
def test_nul_byte_in_a_builder_field_is_refused_and_the_rest_kept(
    operator_client, draft, field, where
):
    before = snapshot(draft)
    data = form_state(draft, items=[("acme-mail.com", 1, [JANE])], title="Typed")
    data[field] = f"ab\x00cd{data[field]}"

    response = operator_client.post(build_url(draft), data, headers=HX)

    text = page_text(response)
    assert response.status_code == 200
    assert f"{where} contains a NUL character" in text or (
        f"{where}: " in text and "contains a NUL character" in text
    )
    assert f'value="{data[field]}"' in text
    assert snapshot(draft) == before


def test_too_long_title_is_refused_not_cut(operator_client, draft):
    before = snapshot(draft)
    title = "T" * 130
    data = form_state(draft, items=[("acme-mail.com", 1, [JANE])], title=title)

    response = operator_client.post(build_url(draft), data, headers=HX)

    text = page_text(response)
    assert "Title is longer than 120 characters." in text
    assert f'value="{title}"' in text
    assert snapshot(draft) == before


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        ("a" * 250 + ".com", "longer than 253 characters"),
        ("acme\x00mail.com", "contains a NUL character"),
    ],
)
def test_added_domain_the_database_cannot_hold_is_refused(
    operator_client, draft, token, reason
):
    before = snapshot(draft)
    data = form_state(draft, items=[("acme-mail.com", 1, [JANE])], add_domain=token)

    response = operator_client.post(build_url(draft), data, headers=HX)

    text = page_text(response)
    assert response.status_code == 200
    assert "Add domain: " in text
    assert reason in text
    assert snapshot(draft) == before


def test_pasted_check_list_with_a_long_token_and_nul_is_answered(
    operator_client, draft
):
    paste = "a" * 300 + ".com\nacme\x00mail.com\ngood-domain.com"

    response = operator_client.post(
        reverse("orders:check", args=[draft.workspace.slug, draft.pk]),
        {"domains": paste},
        headers=HX,
    )

    assert response.status_code == 200
    from orders.models import DomainCheck

    check = DomainCheck.objects.get()
    assert "good-domain.com" in check.domains
    assert all("\x00" not in d and len(d) <= 253 for d in check.domains)


@pytest.mark.parametrize(
    "query",
    [
        {"created_to": "9999-12-31"},
        {"created_from": "9999-12-31"},
        {"created_from": "0001-01-01", "created_to": "9999-12-31"},
    ],
)
def test_far_dates_in_the_history_are_named_not_a_500(
    operator_client, workspace, operator, query
):
    url = reverse("orders:list", args=[workspace.slug]) + "?" + urlencode(query)

    response = operator_client.get(url)

    text = page_text(response)
    assert response.status_code == 200
    assert "Created " in text
    assert "between 2000-01-01 and 2999-12-31" in text


def test_far_date_in_the_csv_export_is_refused_with_the_field_named(
    operator_client, workspace, operator
):
    url = reverse("orders:history_export", args=[workspace.slug])

    response = operator_client.get(url, {"created_to": "9999-12-31"})

    body = response.content.decode()
    assert response.status_code == 400
    assert "Nothing exported" in body
    assert "Created to: Enter a date between 2000-01-01 and 2999-12-31." in body


def test_webhook_url_longer_than_the_column_is_refused(client, workspace, ws_admin):
    client.force_login(ws_admin)
    url = "https://hooks.example.com/" + "a" * 200

    response = client.post(
        reverse("orders:settings", args=[workspace.slug]),
        {"ws-approval_policy": "always", "ws-webhook_url": url},
    )

    text = page_text(response)
    assert response.status_code == 200
    assert "at most 200 characters" in text
    assert Workspace.objects.get(pk=workspace.pk).webhook_url == ""


def test_csv_upload_with_nul_in_cells_is_refused_line_named(operator_client, draft):
    """UTF-16 is the one encoding in which a NUL can arrive as a character; every cell the
    import keeps is checked, so each line is named and nothing is imported."""
    before = snapshot(draft)
    text = (
        "domain,first_name,last_name,email_prefix\r\n"
        "acme-mail.com,Ja\x00ne,Roe,jane\r\n"
        "acme-mail.com,John,Roe,jo\x00hn\r\n"
        "acme\x00mail.com,Max,Roe,max\r\n"
    )
    upload = codecs.BOM_UTF16_LE + text.encode("utf-16-le")
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = operator_client.post(
        reverse("orders:csv_import", args=[draft.workspace.slug, draft.pk]),
        {
            "version": draft.version,
            "file": SimpleUploadedFile("m.csv", upload, "text/csv"),
        },
    )

    page = page_text(response)
    assert response.status_code == 200
    assert "Line 2: the first name contains a control character" in page
    assert (
        "Line 3: the prefix 'jo\ufffdhn' contains the invisible character U+0000"
        in page
    )
    assert "Line 4: the domain 'acme\ufffdmail.com' is not valid" in page
    assert snapshot(draft) == before


# --- Arbitrary input on PostgreSQL -------------------------------------------------------------
# PostgreSQL is where NUL and over-long text fail (SQLite stores both), so these run there.

LONG = [63, 64, 65, 100, 101, 120, 121, 200, 201, 253, 254, 300, 5_000]
ODD_NUMBERS = [
    "-1", "0", "1e309", "NaN", "-Infinity", "99999999999999999999", "٣", "1_0", "0x10",
    " 3 ", "3.0", "1" * 5_000,
]  # fmt: skip
ODD_DATES = [
    "9999-12-31", "9999-12-30", "0001-01-01", "0001-01-02", "2026-02-30", "10000-01-01", "1999-12-31", "2026-13-01",
    "+002026-01-01", "2026-1-1", "31/12/2026",
]  # fmt: skip
# Unicode without surrogates (a browser cannot send those), NUL and friends made likely.
TEXT = st.one_of(
    st.text(st.characters(exclude_categories=["Cs"]), max_size=40),
    st.text(
        st.sampled_from("a.-_@|:\x00\t\n\r '\"<>%\u00e9\u0130\u3002\ufeff"), max_size=20
    ),
    st.builds(lambda n, ch: ch * n, st.sampled_from(LONG), st.sampled_from("aé\x00.")),
    st.sampled_from(ODD_NUMBERS + ODD_DATES),
)


DATES = st.one_of(st.dates().map(str), st.sampled_from(ODD_DATES), TEXT)
NUMBERS = st.one_of(
    st.integers().map(str),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(ODD_NUMBERS),
    TEXT,
)


def junk_in(fields: dict[str, str], group: dict[str, st.SearchStrategy[str]]):  # type: ignore[no-untyped-def]
    """`fields` with one or more of the `group`'s fields replaced by a value drawn from the
    field's strategy."""
    pairs = st.one_of(
        *(st.tuples(st.just(name), strategy) for name, strategy in group.items())
    )
    return st.lists(pairs, min_size=1, max_size=len(group)).map(
        lambda junk: {**fields, **dict(junk)}
    )


PROPERTY = settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def on_postgres():  # type: ignore[no-untyped-def]
    require_service(
        "PostgreSQL",
        connection.vendor == "postgresql",
        "set DATABASE_URL=postgres://... (NUL and length limits are PostgreSQL's)",
    )


def assert_no_server_error(response) -> None:  # type: ignore[no-untyped-def]
    if getattr(response, "streaming", False):
        b"".join(response.streaming_content)
    assert response.status_code < 500, response.status_code


CURRENT = "<the draft's current version>"
BUILDER_FIELDS = {
    "version": CURRENT,
    "title": "Q3",
    "order_type": "dfy",
    "item-0-domain": "acme-mail.com",
    "item-0-provider": "1",
    "item-0-forwarding": "",
    "item-0-mb-0-first": "Jane",
    "item-0-mb-0-last": "Roe",
    "item-0-mb-0-prefix": "jane",
    "item-1-domain": "acme-mail.org",
    "item-1-provider": "3",
    "item-1-forwarding": "acme.com",
}
# Each button with a value the page sends; arbitrary text is tried too.
BUTTONS = {
    "add_domain": "acme-new.com acme-pw.com|3",
    "add_row": "1",
    "remove_domain": "1",
    "add_mailbox": "0",
    "remove_mailbox": "0:0",
    "generate": "0",
    "ms_bundle": "1",
    "copy_personas": "0",
    "switch_type": "extra_accounts",
    "save": "1",
}
GENERATOR_FIELDS = {
    "gen-0-names": "Jane Roe\nMax Power",
    "gen-0-pattern": "first.last",
    "gen-0-count": "3",
    "gen-1-pattern": "flast",
}


def with_version(order, data: dict[str, str]) -> dict[str, str]:
    version = str(Order.objects.get(pk=order.pk).version)
    return {k: version if v == CURRENT else v for k, v in data.items()}


BUILDER_GROUPS = {
    "text": {
        name: TEXT
        for name in BUILDER_FIELDS
        if name.endswith(("title", "domain", "forwarding", "first", "last", "prefix"))
    },
    "choices": {
        "version": NUMBERS,
        "order_type": TEXT,
        "item-0-provider": NUMBERS,
        "item-1-provider": NUMBERS,
    },
}


@pytest.mark.postgres
@pytest.mark.parametrize("group", sorted(BUILDER_GROUPS))
def test_builder_fields_take_any_text_without_a_server_error(
    on_postgres, operator_client, draft, group
):
    @PROPERTY
    @given(data=junk_in(BUILDER_FIELDS, BUILDER_GROUPS[group]), htmx=st.booleans())
    def post(data, htmx):  # type: ignore[no-untyped-def]
        response = operator_client.post(
            build_url(draft), with_version(draft, data), headers=HX if htmx else {}
        )

        assert_no_server_error(response)

    post()


@pytest.mark.postgres
def test_builder_buttons_take_any_value_without_a_server_error(
    on_postgres, operator_client, draft
):
    @PROPERTY
    @given(
        button=st.sampled_from(sorted(BUTTONS)),
        value=st.one_of(st.none(), TEXT),
        generator=st.one_of(
            st.just(GENERATOR_FIELDS),
            junk_in(
                GENERATOR_FIELDS,
                {
                    name: NUMBERS if name.endswith("count") else TEXT
                    for name in GENERATOR_FIELDS
                },
            ),
        ),
    )
    def press(button, value, generator):  # type: ignore[no-untyped-def]
        pressed = BUTTONS[button] if value is None else value
        data = {**BUILDER_FIELDS, **generator, button: pressed}

        response = operator_client.post(
            build_url(draft), with_version(draft, data), headers=HX
        )

        assert_no_server_error(response)

    press()


HISTORY_FIELDS = {
    "q": "acme",
    "status": "draft",
    "type": "dfy",
    "provider": "1",
    "requester": "",
    "approver": "",
    "created_from": "2026-01-01",
    "created_to": "2026-12-31",
    "sort": "-created",
    "per_page": "50",
    "page": "1",
}


HISTORY_GROUPS = {
    "filters": {
        "q": TEXT,
        "status": TEXT,
        "type": TEXT,
        "sort": TEXT,
        "provider": NUMBERS,
        "requester": NUMBERS,
        "approver": NUMBERS,
        "per_page": NUMBERS,
        "page": NUMBERS,
    },
    "dates": {"created_from": DATES, "created_to": DATES},
}


@pytest.mark.postgres
@pytest.mark.parametrize("group", sorted(HISTORY_GROUPS))
def test_history_filters_and_export_take_any_text_without_a_server_error(
    on_postgres, operator_client, draft, group
):
    list_url = reverse("orders:list", args=[draft.workspace.slug])
    export_url = reverse("orders:history_export", args=[draft.workspace.slug])

    @PROPERTY
    @given(params=junk_in(HISTORY_FIELDS, HISTORY_GROUPS[group]), htmx=st.booleans())
    def browse(params, htmx):  # type: ignore[no-untyped-def]
        page = operator_client.get(list_url, params, headers=HX if htmx else {})
        export = operator_client.get(export_url, params)

        assert_no_server_error(page)
        assert_no_server_error(export)

    browse()


SETTINGS_FIELDS = {
    "ws-approval_policy": "above_amount",
    "ws-approval_threshold": "100.00",
    "ws-allow_self_approval": "on",
    "ws-monthly_budget": "5000",
    "ws-webhook_url": "https://hooks.example.com/dfy",
}
KEY_FIELDS = {
    "save_key": "1",
    "key-label": "Main",
    "key-secret": "sk_live_0123456789",
    "key-mode": "sandbox",
}


@pytest.mark.postgres
def test_settings_fields_take_any_text_without_a_server_error(
    on_postgres, client, workspace, ws_admin
):
    client.force_login(ws_admin)
    url = reverse("orders:settings", args=[workspace.slug])

    @PROPERTY
    @given(
        approval=junk_in(
            SETTINGS_FIELDS,
            {
                name: NUMBERS if name.endswith(("threshold", "budget")) else TEXT
                for name in SETTINGS_FIELDS
            },
        ),
        key=junk_in(KEY_FIELDS, dict.fromkeys(KEY_FIELDS, TEXT)),
    )
    def save(approval, key):  # type: ignore[no-untyped-def]
        approval_response = client.post(url, approval)
        key_response = client.post(url, key)

        assert_no_server_error(approval_response)
        assert_no_server_error(key_response)

    save()
