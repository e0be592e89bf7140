"""The people who own generated orders."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User

from orders.models import Membership, Role, Workspace


def workspace_team(
    workspace: Workspace, size: int = 6
) -> tuple[list[User], list[User]]:
    """The workspace's operators and leads; creates a small team (no usable password) if it
    has fewer than two members."""
    memberships = list(
        Membership.objects.filter(workspace=workspace).select_related("user")
    )
    if len(memberships) < 2:
        user_model = get_user_model()
        for n in range(size):
            role = Role.LEAD if n < 2 else Role.OPERATOR
            username = f"{workspace.slug}-{role}-{n}"
            user = user_model.objects.filter(username=username).first()
            if user is None:
                # No password: these users exist to own generated orders, not to log in.
                user = user_model.objects.create_user(
                    username=username, email=f"{username}@example.invalid"
                )
            Membership.objects.get_or_create(
                user=user, workspace=workspace, defaults={"role": role}
            )
        memberships = list(
            Membership.objects.filter(workspace=workspace).select_related("user")
        )
    users = [m.user for m in memberships]
    leads = [m.user for m in memberships if m.is_lead]
    return users, leads or users
