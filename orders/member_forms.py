"""Forms of the members page. The rules themselves (last admin, duplicates, limits) live in
`orders.members`; these forms parse input and word field errors."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms

from orders.models import Role

LIMIT_HELP = "Largest due-now amount, in dollars, they may approve. Empty: no limit."


def _limit_field() -> forms.DecimalField:
    return forms.DecimalField(
        label="Approval limit ($)",
        required=False,
        min_value=Decimal(0),
        max_digits=12,
        decimal_places=2,
        error_messages={
            "min_value": "The approval limit cannot be negative: enter 0 or more, or "
            "leave it empty for no limit.",
            "invalid": "Enter the approval limit as an amount, like 500 or 1250.50.",
            "max_decimal_places": "The approval limit takes whole cents.",
            "max_digits": "The approval limit has at most 10 digits before the point.",
            "max_whole_digits": "The approval limit has at most 10 digits before the point.",
        },
        widget=forms.NumberInput(
            attrs={"step": "0.01", "min": "0", "inputmode": "decimal"}
        ),
    )


class MemberAddForm(forms.Form):
    ADD = "add"
    INVITE = "invite"

    username_or_email = forms.CharField(
        label="Username or email",
        max_length=254,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        help_text="Add existing user finds an account by username or email; Invite by "
        "email creates one and emails a link to choose a password.",
    )
    role = forms.ChoiceField(choices=Role.choices, initial=Role.OPERATOR)
    approval_limit = _limit_field()
    action = forms.ChoiceField(
        choices=[(ADD, "Add existing user"), (INVITE, "Invite by email")],
        error_messages={"required": "Choose Add existing user or Invite by email."},
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if (
            cleaned.get("role") == Role.OPERATOR
            and cleaned.get("approval_limit") is not None
        ):
            self.add_error(
                "approval_limit",
                "Operators do not approve orders, so they have no approval limit: clear "
                "the limit, or choose Lead.",
            )
        if cleaned.get("action") == self.INVITE and cleaned.get("username_or_email"):
            try:
                forms.EmailField().clean(cleaned["username_or_email"])
            except forms.ValidationError:
                self.add_error(
                    "username_or_email",
                    "Enter a valid email address to invite someone (an existing user "
                    "can be added by username).",
                )
        return cleaned


class MemberChangeForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)
    approval_limit = _limit_field()

    def __init__(
        self, *args: Any, current_limit: Decimal | None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.current_limit = current_limit

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        limit = cleaned.get("approval_limit")
        if cleaned.get("role") == Role.OPERATOR and limit is not None:
            if limit == self.current_limit:
                # The lead's old limit was still in the field when they were made an
                # operator: it lapses with the role.
                cleaned["approval_limit"] = None
            else:
                self.add_error(
                    "approval_limit",
                    "Operators do not approve orders, so they have no approval limit: "
                    "clear the limit, or choose Lead.",
                )
        return cleaned
