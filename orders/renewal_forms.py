"""The renewals page's form: which domains or mailboxes to cancel before the next renewal.
It parses and words field errors; what may be scheduled is decided by
`orders.renewal_schedules`."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

# More ids than this in one request is not a person choosing: refused before any query.
MAX_CHOSEN = 1000


class _ListField(forms.Field):
    """Every value of a repeated field (checkboxes), as a list of strings."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[str]:
        values = [str(v).strip() for v in (value or []) if str(v).strip()]
        if len(values) > MAX_CHOSEN:
            raise ValidationError(f"Choose at most {MAX_CHOSEN:,} at once.")
        return values


class _IdListField(_ListField):
    def to_python(self, value: Any) -> list[int]:  # type: ignore[override]
        ids = []
        for text in super().to_python(value):
            if not text.isdigit():
                raise ValidationError(f'"{text[:20]}" is not a number.')
            ids.append(int(text))
        return ids


class ScheduleForm(forms.Form):
    """From the renewals page: whole domains (`item`, order items of any order). From an
    order page: that `order`'s mailboxes (`mailbox`) and whole domains (`domain`)."""

    order = forms.IntegerField(
        required=False,
        min_value=1,
        error_messages={"invalid": "order: enter the order's number."},
    )
    item = _IdListField(required=False)
    mailbox = _IdListField(required=False)
    domain = _ListField(required=False)

    def first_error(self) -> str:
        """The first error of an invalid form, naming its field (the form has no errors of
        its own, only its fields')."""
        name, errors = next(iter(self.errors.items()))
        return f"{name}: {errors[0]}"
