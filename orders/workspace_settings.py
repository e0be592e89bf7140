"""Writes of a workspace's own settings from its settings page: the approval policy, the
budget and the webhook URL, whose first setting also creates the signing secret."""

from __future__ import annotations

from django.db import transaction

from orders import webhooks
from orders.forms import WorkspaceSettingsForm
from orders.models import Workspace


@transaction.atomic
def workspace_settings_save(*, form: WorkspaceSettingsForm) -> tuple[Workspace, str]:
    """Save a valid settings form. Returns the workspace and, when this save gave it its
    first webhook URL, the new signing secret in clear (shown once), else ""."""
    workspace = form.save()
    if not workspace.webhook_url or workspace.webhook_secret_encrypted:
        return workspace, ""
    return workspace, webhooks.webhook_secret_rotate(workspace=workspace)
