"""The Personas page and its services: add, change, remove, import and export, who may use
them, and that a persona's change never reaches a mailbox already ordered."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from orders import drafts, personas
from orders.mailbox_csv import MAX_UPLOAD_BYTES
from orders.models import Mailbox, Persona
from orders.persona_csv import (
    MAX_LIBRARY,
    MAX_ROWS,
    PersonaFields,
    PersonaFile,
    read_text,
)
from orders.rules import DraftItem, DraftMailbox
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db

HEADER = "first_name,last_name,title,signature\r\n"


def url(name, workspace, *args):
    return reverse(f"orders:{name}", args=[workspace.slug, *args])


def add(workspace, first, last, title="", signature=""):
    return Persona.objects.create(
        workspace=workspace,
        first_name=first,
        last_name=last,
        title=title,
        signature=signature,
    )


def upload(text, name="people.csv"):
    data = text if isinstance(text, bytes) else text.encode()
    return SimpleUploadedFile(name, data, content_type="text/csv")


def names(workspace):
    return [str(p) for p in Persona.objects.in_workspace(workspace)]


# --- who may see and change it ------------------------------------------------------------


@pytest.mark.parametrize("role", ["operator", "lead", "admin"])
def test_every_role_sees_and_edits_the_library(client, workspace, role):
    member = MembershipFactory(workspace=workspace, role=role).user
    add(workspace, "Ada", "Lovelace", title="Analyst")
    client.force_login(member)

    page = client.get(url("personas", workspace))
    added = client.post(
        url("personas", workspace), {"first_name": "Grace", "last_name": "Hopper"}
    )

    assert page.status_code == 200
    assert "Ada Lovelace" in page.text
    assert "Analyst" in page.text
    assert added.status_code == 302
    assert names(workspace) == ["Grace Hopper", "Ada Lovelace"]


def test_the_nav_links_to_the_page(operator_client, workspace):
    page = operator_client.get(url("dashboard", workspace))

    assert url("personas", workspace) in page.text


def test_logged_out_people_are_sent_to_log_in(client, workspace):
    response = client.get(url("personas", workspace))

    assert response.status_code == 302
    assert "login" in response["Location"]


def test_a_non_member_gets_404(operator_client, other_workspace):
    assert operator_client.get(url("personas", other_workspace)).status_code == 404


def test_another_workspaces_personas_are_invisible_and_untouchable(
    operator_client, workspace, other_workspace
):
    theirs = add(other_workspace, "Secret", "Agent")

    page = operator_client.get(url("personas", workspace))
    edit_get = operator_client.get(url("persona_edit", workspace, theirs.pk))
    edit = operator_client.post(
        url("persona_edit", workspace, theirs.pk),
        {"first_name": "Changed", "last_name": "Name"},
    )
    delete = operator_client.post(url("persona_delete", workspace, theirs.pk))
    export = operator_client.get(url("personas_export", workspace))

    assert "Secret" not in page.text
    assert edit_get.status_code == edit.status_code == delete.status_code == 404
    theirs.refresh_from_db()
    assert str(theirs) == "Secret Agent"
    assert "Secret" not in export.text


# --- add, change, remove ------------------------------------------------------------------


def test_an_empty_library_says_how_to_fill_it(operator_client, workspace):
    page = operator_client.get(url("personas", workspace))

    assert "No personas yet" in page.text
    assert url("personas_export", workspace) not in page.text


def test_a_bad_add_keeps_what_was_typed(operator_client, workspace):
    add(workspace, "Ada", "Lovelace")

    response = operator_client.post(
        url("personas", workspace),
        {
            "first_name": "ada",
            "last_name": "LOVELACE",
            "title": "Countess",
            "signature": "Ada\nLondon",
        },
    )

    assert response.status_code == 200
    assert "ada LOVELACE is already in the library." in response.text
    assert 'value="Countess"' in response.text
    assert "Ada\nLondon</textarea>" in response.text
    assert names(workspace) == ["Ada Lovelace"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"first_name": "", "last_name": "Roe"}, "Enter a first name."),
        ({"first_name": "   ", "last_name": "Roe"}, "The first name is missing."),
        ({"first_name": "Jane", "last_name": "x" * 101}, "at most 100 characters"),
        (
            {"first_name": "Jane", "last_name": "Roe", "title": "a\u0007b"},
            "The title contains a control character",
        ),
        (
            {"first_name": "Jane", "last_name": "Roe", "signature": "a\u0007b"},
            "The signature contains a control character.",
        ),
    ],
)
def test_bad_fields_are_named(operator_client, workspace, data, message):
    response = operator_client.post(url("personas", workspace), data)

    assert response.status_code == 200
    assert message in response.text
    assert names(workspace) == []


def test_spaces_are_trimmed_on_add(operator_client, workspace):
    operator_client.post(
        url("personas", workspace),
        {"first_name": "  Jane ", "last_name": " Roe", "signature": "Jane\r\nRoe\r\n"},
    )

    persona = Persona.objects.get()
    assert (persona.first_name, persona.last_name, persona.signature) == (
        "Jane",
        "Roe",
        "Jane\nRoe",
    )


def test_editing_changes_the_persona(operator_client, workspace):
    persona = add(workspace, "Ada", "Lovelace")

    form = operator_client.get(url("persona_edit", workspace, persona.pk))
    saved = operator_client.post(
        url("persona_edit", workspace, persona.pk),
        {"first_name": "Ada", "last_name": "King", "title": "Countess"},
        follow=True,
    )

    assert 'value="Lovelace"' in form.text
    persona.refresh_from_db()
    assert (persona.last_name, persona.title) == ("King", "Countess")
    assert "Saved Ada King." in saved.text


def test_an_edit_onto_another_persona_is_refused_and_keeps_the_typing(
    operator_client, workspace
):
    add(workspace, "Grace", "Hopper")
    persona = add(workspace, "Ada", "Lovelace")

    response = operator_client.post(
        url("persona_edit", workspace, persona.pk),
        {"first_name": "GRACE", "last_name": "hopper", "title": "Rear admiral"},
    )

    assert response.status_code == 200
    assert "GRACE hopper is already in the library." in response.text
    assert 'value="Rear admiral"' in response.text
    assert "Edit Ada Lovelace" in response.text
    persona.refresh_from_db()
    assert str(persona) == "Ada Lovelace"


def test_a_persona_may_change_the_case_of_its_own_name(operator_client, workspace):
    persona = add(workspace, "ada", "lovelace")

    operator_client.post(
        url("persona_edit", workspace, persona.pk),
        {"first_name": "Ada", "last_name": "Lovelace"},
    )

    persona.refresh_from_db()
    assert str(persona) == "Ada Lovelace"


def test_removing_asks_first_then_removes(operator_client, workspace):
    persona = add(workspace, "Ada", "Lovelace")

    confirm = operator_client.get(url("persona_delete", workspace, persona.pk))
    removed = operator_client.post(
        url("persona_delete", workspace, persona.pk), follow=True
    )

    assert "Remove Ada Lovelace?" in confirm.text
    assert names(workspace) == []
    assert "Removed Ada Lovelace from the library." in removed.text


def test_editing_or_removing_a_persona_never_changes_ordered_mailboxes(
    operator_client, workspace, operator
):
    persona = add(workspace, "Ada", "Lovelace")
    order = drafts.order_draft_create(
        workspace=workspace, by=operator, order_type="dfy"
    )
    drafts.order_draft_save(
        order=order,
        by=operator,
        version=order.version,
        items=[
            DraftItem(
                "acme.com",
                mailboxes=(DraftMailbox("Ada", "Lovelace", "ada.lovelace"),),
            )
        ],
    )

    operator_client.post(
        url("persona_edit", workspace, persona.pk),
        {"first_name": "Augusta", "last_name": "King"},
    )
    mailbox = Mailbox.objects.get()
    assert (mailbox.first_name, mailbox.last_name, mailbox.email_prefix) == (
        "Ada",
        "Lovelace",
        "ada.lovelace",
    )
    operator_client.post(url("persona_delete", workspace, persona.pk))
    mailbox.refresh_from_db()
    assert (mailbox.first_name, mailbox.last_name) == ("Ada", "Lovelace")


def test_the_library_has_a_size_cap(workspace, operator, monkeypatch):
    monkeypatch.setattr(personas, "MAX_LIBRARY", 1)
    add(workspace, "Ada", "Lovelace")

    with pytest.raises(personas.PersonaError, match="at most 1 people"):
        personas.persona_create(
            workspace=workspace, by=operator, first_name="Grace", last_name="Hopper"
        )
    result = personas.personas_import(
        workspace=workspace, by=operator, data=(HEADER + "Grace,Hopper,,\r\n").encode()
    )
    assert [p.message for p in result.problems] == [
        "The library holds at most 1 people; it has 1, so 1 more do not fit."
    ]
    assert MAX_LIBRARY == 5_000


def test_a_race_on_the_same_name_is_a_message_not_a_500(
    workspace, operator, monkeypatch
):
    add(workspace, "Ada", "Lovelace")
    other = add(workspace, "Grace", "Hopper")
    # Another person saves the same name between the check and the write: only the
    # database constraint sees it.
    monkeypatch.setattr(
        personas,
        "_checked",
        lambda **kw: PersonaFields(kw["first_name"], kw["last_name"], "", ""),
    )
    monkeypatch.setattr(
        personas,
        "read_upload",
        lambda data, existing: PersonaFile(people=[PersonaFields("ADA", "lovelace")]),
    )

    with pytest.raises(personas.PersonaError, match="ADA lovelace is already"):
        personas.persona_create(
            workspace=workspace, by=operator, first_name="ADA", last_name="lovelace"
        )
    with pytest.raises(personas.PersonaError, match="already in the library"):
        personas.persona_change(
            persona=other, by=operator, first_name="ada", last_name="LOVELACE"
        )
    result = personas.personas_import(workspace=workspace, by=operator, data=b"")

    assert [p.message for p in result.problems] == [
        "Someone added one of these people meanwhile; upload the file again."
    ]
    assert names(workspace) == ["Grace Hopper", "Ada Lovelace"]


# --- import -------------------------------------------------------------------------------


def test_import_adds_every_person(operator_client, workspace):
    text = "First_Name;LAST_NAME;Title\r\nAda;Lovelace;Analyst\r\n\r\nGrace;Hopper;\r\n"

    response = operator_client.post(
        url("personas_import", workspace), {"file": upload(text)}, follow=True
    )

    assert "Imported 2 personas from people.csv." in response.text
    assert names(workspace) == ["Grace Hopper", "Ada Lovelace"]


def test_a_bad_row_imports_nobody_and_names_row_and_column(operator_client, workspace):
    add(workspace, "Alan", "Turing")
    text = (
        HEADER
        + "Ada,Lovelace,,\r\n"
        + ",Hopper,,\r\n"
        + "ada,LOVELACE,,\r\n"
        + "alan,turing,,\r\n"
        + 'Edsger,Dijkstra,,"a\x07"\r\n'
    )

    response = operator_client.post(
        url("personas_import", workspace), {"file": upload(text)}
    )

    assert response.status_code == 200
    assert "Nothing was imported." in response.text
    for message in (
        "Row 3, first_name: the first name is missing.",
        "Row 4, last_name: ada LOVELACE is already on row 2 of this file.",
        "Row 5, last_name: alan turing is already in the library.",
        "Row 6, signature: the signature contains a control character.",
    ):
        assert message in response.text
    assert names(workspace) == ["Alan Turing"]


def test_an_import_without_a_file_says_so(operator_client, workspace):
    response = operator_client.post(url("personas_import", workspace), {})

    assert response.status_code == 200
    assert "Choose a CSV file to import." in response.text


def test_an_oversized_file_is_refused_before_reading(operator_client, workspace):
    big = HEADER.encode() + b"a" * MAX_UPLOAD_BYTES

    response = operator_client.post(
        url("personas_import", workspace), {"file": upload(big)}
    )

    assert response.status_code == 200
    assert "the limit is 1,048,576 (1 MB)" in response.text


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"PK\x03\x04rest", "This is an Excel workbook, not a CSV file"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "This is not a text file"),
        (b"\xff\xfe\x00", "The file says it is UTF-16 but is not"),
        (b"   \r\n\r\n", "The file is empty; its first row must be the header"),
        (HEADER.encode(), "There are no people after the header."),
        (
            b'first_name,last_name\r\n"Ada,Lovelace\r\n',
            "this is not a readable CSV file",
        ),
    ],
)
def test_files_that_are_not_persona_csv_get_a_message(
    operator_client, workspace, data, message
):
    response = operator_client.post(
        url("personas_import", workspace), {"file": upload(data)}
    )

    assert response.status_code == 200
    assert message in response.text
    assert names(workspace) == []


def test_a_windows_1252_file_is_read_with_a_note(operator_client, workspace):
    data = (HEADER + "Chloé,Dubois,,\r\n").encode("cp1252")

    response = operator_client.post(
        url("personas_import", workspace), {"file": upload(data)}, follow=True
    )

    assert names(workspace) == ["Chloé Dubois"]
    assert "read as Windows-1252" in response.text


def test_a_windows_1252_file_with_problems_keeps_the_note(operator_client, workspace):
    data = (HEADER + "Chloé,,,\r\n").encode("cp1252")

    response = operator_client.post(
        url("personas_import", workspace), {"file": upload(data)}
    )

    assert "Row 2, last_name: the last name is missing." in response.text
    assert "read as Windows-1252" in response.text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("first_name,last_name,email\r\nA,B,c\r\n", "the column 'email' is not one"),
        ("first_name,title\r\nA,B\r\n", "it has no last_name column"),
        ("Ada,Lovelace\r\n", "it has no first_name or last_name column"),
        (
            "first_name,last_name,First Name\r\nA,B,C\r\n",
            "columns 1 and 3 are both first_name",
        ),
        ("first_name,last_name\r\nA,B,extra\r\n", "the row has 3 cells"),
    ],
)
def test_header_and_shape_problems(text, message):
    read = read_text(text)

    assert not read.ok
    assert read.people == []
    assert any(message in p.message for p in read.problems), read.problems


def test_a_short_row_and_extra_empty_cells_are_fine():
    read = read_text(
        "first_name,last_name,title\r\nAda,Lovelace\r\nGrace,Hopper,,,\r\n"
    )

    assert read.ok
    assert [(p.first_name, p.last_name, p.title) for p in read.people] == [
        ("Ada", "Lovelace", ""),
        ("Grace", "Hopper", ""),
    ]


def test_too_many_rows_are_refused():
    text = HEADER + "".join(f"A{n},B,,\r\n" for n in range(MAX_ROWS + 1))

    read = read_text(text)

    assert [p.message for p in read.problems] == [
        f"Row {MAX_ROWS + 2}: the file has more than {MAX_ROWS:,} people; import at "
        f"most {MAX_ROWS:,} at a time."
    ]


def test_too_much_text_is_refused():
    read = read_text("a" * (MAX_UPLOAD_BYTES + 1))

    assert read.problems[0].message.startswith("The file has 1,048,577 characters")


# --- export -------------------------------------------------------------------------------


def test_export_escapes_formulas_and_imports_back(operator_client, workspace, operator):
    add(workspace, "=cmd", "@Evil", title="+1", signature="-- \nJane\nCEO")
    add(workspace, "Ada", "Lovelace")

    response = operator_client.get(url("personas_export", workspace))

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="personas-acme.csv"' in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["first_name", "last_name", "title", "signature"]
    assert rows[1] == ["'=cmd", "'@Evil", "'+1", "'-- \nJane\nCEO"]
    read = read_text(response.content.decode())
    assert [(p.first_name, p.last_name, p.title, p.signature) for p in read.people] == [
        ("=cmd", "@Evil", "+1", "-- \nJane\nCEO"),
        ("Ada", "Lovelace", "", ""),
    ]


def test_the_list_is_paged(operator_client, workspace):
    Persona.objects.bulk_create(
        Persona(workspace=workspace, first_name=f"P{n:03}", last_name="Roe")
        for n in range(105)
    )

    first = operator_client.get(url("personas", workspace))
    second = operator_client.get(url("personas", workspace) + "?page=2")

    assert "Page 1 of 2" in first.text
    assert "P099" in first.text
    assert "P100" not in first.text
    assert "P104" in second.text


def test_services_refuse_bad_fields_in_words(workspace, operator):
    with pytest.raises(personas.PersonaError, match=r"^The last name is missing\.$"):
        personas.persona_create(
            workspace=workspace, by=operator, first_name="Ada", last_name=" "
        )
    with pytest.raises(personas.PersonaError, match="signature is 2,001 characters"):
        personas.persona_create(
            workspace=workspace,
            by=operator,
            first_name="Ada",
            last_name="Lovelace",
            signature="x" * 2001,
        )


def test_a_bad_edit_keeps_what_was_typed(operator_client, workspace):
    persona = add(workspace, "Ada", "Lovelace")

    response = operator_client.post(
        url("persona_edit", workspace, persona.pk),
        {"first_name": "Augusta", "last_name": "", "title": "Countess"},
    )

    assert response.status_code == 200
    assert "Enter a last name." in response.text
    assert 'value="Augusta"' in response.text
    persona.refresh_from_db()
    assert str(persona) == "Ada Lovelace"
