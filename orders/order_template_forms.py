"""The forms of order templates: a name to save a shape under, names to find domains for."""

from __future__ import annotations

from django import forms

from orders.order_shapes import seeds_read
from orders.rules import name_problem

SEEDS_MAX_LENGTH = 2000


class TemplateSaveForm(forms.Form):
    name = forms.CharField(
        max_length=120,
        label="Template name",
        help_text="Unique in this workspace, whatever the case.",
    )

    def clean_name(self) -> str:
        name: str = self.cleaned_data["name"].strip()
        # The same rule as a mailbox name: no control characters or line breaks.
        issue = name_problem(name)
        if issue:
            raise forms.ValidationError(f"The name {issue[1]}.")
        return name


class TemplateDraftForm(forms.Form):
    seeds = forms.CharField(
        max_length=SEEDS_MAX_LENGTH,
        label="Names to find new domains for",
        help_text="Brands or domains, separated by commas: acme, globex.org. A .com or "
        ".org name asks for that TLD only.",
    )

    def clean_seeds(self) -> list[str]:
        text: str = self.cleaned_data["seeds"]
        read = seeds_read([text])
        if read.refused:
            raise forms.ValidationError(read.refused)
        if not read.labels:
            raise forms.ValidationError("Type at least one name, such as acme.")
        return [text]
