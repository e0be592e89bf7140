"""The capacity planner's form: parses what the operator typed into `PlanInputs` and words
every error with the field's label, so a message always says which field to fix."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from orders.capacity_plan import (
    CHEAPEST,
    DEFAULT_SENDS_PER_MAILBOX,
    FASTEST,
    KINDS,
    MAX_SENDS_PER_MAILBOX,
    MAX_TARGET,
    SHARES,
    PlanInputs,
)
from orders.rules import DFY, GOOGLE, PRE_WARMED_UP, PROVIDER_RULES

BOTH = "both"
SEEDS_LENGTH = 500
MAX_BUDGET = Decimal("10000000")


def sends_field(provider: int) -> str:
    return f"sends_{provider}"


def share_field(provider: int) -> str:
    return f"share_{provider}"


class PlannerForm(forms.Form):
    target = forms.IntegerField(
        label="Target sends per day", min_value=1, max_value=MAX_TARGET, initial=3000
    )
    mix = forms.ChoiceField(
        label="Provider mix",
        choices=[
            (CHEAPEST, "Cheapest"),
            (FASTEST, "Fastest to ready"),
            (SHARES, "My own shares"),
        ],
        initial=CHEAPEST,
    )
    kind = forms.ChoiceField(
        label="Domains",
        choices=[
            (BOTH, "Compare done-for-you and pre-warmed"),
            (DFY, "Done-for-you (new domains)"),
            (PRE_WARMED_UP, "Pre-warmed"),
        ],
        initial=BOTH,
    )
    budget = forms.DecimalField(
        label="Monthly budget ($)",
        required=False,
        min_value=Decimal("0"),
        max_value=MAX_BUDGET,
        decimal_places=2,
    )
    seeds = forms.CharField(
        label="Brand or seed names",
        required=False,
        max_length=SEEDS_LENGTH,
        help_text="Comma-separated, e.g. acme, acmemail. Used to find new domains.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for provider, rule in PROVIDER_RULES.items():
            self.fields[sends_field(provider)] = forms.IntegerField(
                label=f"{rule.label} sends per mailbox a day",
                min_value=1,
                max_value=MAX_SENDS_PER_MAILBOX,
                initial=DEFAULT_SENDS_PER_MAILBOX[provider],
            )
        for provider, rule in PROVIDER_RULES.items():
            self.fields[share_field(provider)] = forms.IntegerField(
                label=f"{rule.label} share (%)",
                required=False,
                min_value=0,
                max_value=100,
                initial=100 if provider == GOOGLE else 0,
            )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("mix") == SHARES:
            shares = [data.get(share_field(p)) or 0 for p in PROVIDER_RULES]
            if sum(shares) != 100 and not any(
                share_field(p) in self.errors for p in PROVIDER_RULES
            ):
                raise ValidationError(
                    f"Provider shares: they must add up to 100% (now {sum(shares)}%)."
                )
        return data

    def error_lines(self) -> list[str]:
        """Every error as "<field label>: <message>", in field order."""
        lines: list[str] = []
        for name, errors in self.errors.items():
            if name == NON_FIELD_ERRORS:
                lines.extend(str(error) for error in errors)
                continue
            label = self.fields[name].label or name
            lines.extend(f"{label}: {error}" for error in errors)
        return lines

    def inputs(self) -> PlanInputs:
        data = self.cleaned_data
        kind = data["kind"]
        return PlanInputs(
            target=data["target"],
            sends={p: data[sends_field(p)] for p in PROVIDER_RULES},
            mix=data["mix"],
            shares={p: data.get(share_field(p)) or 0 for p in PROVIDER_RULES},
            kinds=KINDS if kind == BOTH else (kind,),
            budget=data.get("budget"),
        )

    def seed_names(self) -> list[str]:
        return [
            s.strip()
            for s in self.cleaned_data.get("seeds", "").split(",")
            if s.strip()
        ]


def initial_data() -> dict[str, Any]:
    """What the page starts with: every field's initial value, as if typed."""
    form = PlannerForm()
    return {
        name: field.initial
        for name, field in form.fields.items()
        if field.initial is not None
    }
