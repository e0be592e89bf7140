"""The builder's CSV import refuses, with a sentence naming the problem, a file too big to
read, an Excel workbook, and an apply without a clean import; nothing reaches the draft."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils.datastructures import MultiValueDict

from orders import drafts
from orders.builder_forms import CsvImportForm
from orders.draft_import import order_draft_import_csv
from orders.mailbox_csv import MAX_UPLOAD_BYTES


def _form(content: bytes) -> CsvImportForm:
    upload = SimpleUploadedFile("mailboxes.csv", content, content_type="text/csv")
    return CsvImportForm(
        data={"version": "1"}, files=MultiValueDict({"file": [upload]})
    )


def test_a_file_over_the_limit_is_refused_with_its_size() -> None:
    form = _form(b"a" * (MAX_UPLOAD_BYTES + 1))
    assert not form.is_valid()
    assert form.errors["file"] == [
        "The file is 1,048,577 bytes; the limit is 1,048,576 (1 MB)."
    ]
    assert form.imported is None


def test_an_excel_workbook_is_refused_with_what_to_do() -> None:
    form = _form(b"PK\x03\x04 workbook bytes")
    assert not form.is_valid()
    assert "save it as 'CSV UTF-8'" in form.errors["file"][0]
    assert form.imported is None


def test_applying_without_a_clean_import_changes_nothing() -> None:
    with pytest.raises(drafts.DraftError, match="nothing was imported"):
        order_draft_import_csv(order=None, by=None, version=1, imported=None)  # type: ignore[arg-type]
