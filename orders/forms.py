from __future__ import annotations

from django import forms

from orders.models import Workspace
from orders.notifications import webhook_url_problem


class InstantlyKeyForm(forms.Form):
    MODES = [
        ("sandbox", "Sandbox (the portal's built-in stand-in; no money moves)"),
        ("live", "Live Instantly"),
    ]

    label = forms.CharField(max_length=80, required=False)
    secret = forms.CharField(
        label="API key",
        min_length=8,
        max_length=300,
        strip=True,
        # render_value=False: a re-rendered form (say, after an error elsewhere) never echoes it.
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Stored encrypted; only the last 4 characters are shown. It replaces the "
        "current key only after Instantly accepts it.",
    )
    # The view passes the current key's mode as the initial value.
    mode = forms.ChoiceField(choices=MODES, initial="sandbox", widget=forms.RadioSelect)

    def clean_secret(self) -> str:
        secret: str = self.cleaned_data["secret"]
        if any(ch.isspace() for ch in secret):
            raise forms.ValidationError("An API key has no spaces; paste it again.")
        return secret


class WorkspaceSettingsForm(forms.ModelForm[Workspace]):
    webhook_url = forms.URLField(
        required=False,
        assume_scheme="https",
        label="Webhook URL",
        help_text="Receives the same events as the emails, as signed JSON over https.",
    )

    def clean_webhook_url(self) -> str:
        url: str = self.cleaned_data["webhook_url"]
        problem = webhook_url_problem(url) if url else None
        if problem:
            raise forms.ValidationError(problem)
        return url

    class Meta:
        model = Workspace
        fields = [
            "approval_policy",
            "approval_threshold",
            "allow_self_approval",
            "monthly_budget",
            "webhook_url",
        ]
