"""Forms of the Personas page. The field rules live in orders/persona_csv.py (`clean_fields`,
shared with the CSV import); uniqueness in the library is checked by orders/personas.py."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile

from orders.mailbox_csv import upload_size_problem
from orders.persona_csv import SIGNATURE_MAX, TITLE_MAX, clean_fields
from orders.rules import NAME_MAX_LENGTH


class PersonaForm(forms.Form):
    first_name = forms.CharField(
        max_length=NAME_MAX_LENGTH,
        strip=False,
        error_messages={"required": "Enter a first name."},
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    last_name = forms.CharField(
        max_length=NAME_MAX_LENGTH,
        strip=False,
        error_messages={"required": "Enter a last name."},
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    title = forms.CharField(
        max_length=TITLE_MAX,
        required=False,
        strip=False,
        help_text="Optional, e.g. Head of Partnerships.",
    )
    signature = forms.CharField(
        max_length=SIGNATURE_MAX,
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Optional; kept with the persona for your sending tool.",
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        fields, problems = clean_fields(
            cleaned.get("first_name", ""),
            cleaned.get("last_name", ""),
            cleaned.get("title", ""),
            cleaned.get("signature", ""),
        )
        for column, reason in problems.items():
            self.add_error(column, reason[:1].upper() + reason[1:] + ".")
        cleaned.update(
            first_name=fields.first_name,
            last_name=fields.last_name,
            title=fields.title,
            signature=fields.signature,
        )
        return cleaned


class PersonaImportForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        error_messages={
            "required": "Choose a CSV file to import.",
            "empty": "The file is empty; its first row must be the header.",
        },
    )

    def clean_file(self) -> UploadedFile:
        upload: UploadedFile = self.cleaned_data["file"]
        # Checked on the size before anything is read.
        if too_big := upload_size_problem(upload.size or 0):
            raise forms.ValidationError(too_big)
        return upload
