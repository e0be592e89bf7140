from __future__ import annotations

from django.http import HttpRequest

from orders.models import Membership


def workspace(request: HttpRequest) -> dict[str, object]:
    """The navigation's workspace switcher and the current workspace, when there is one."""
    current = getattr(request, "membership", None)
    if not request.user.is_authenticated:
        return {}
    return {
        "current_membership": current,
        "current_workspace": getattr(current, "workspace", None),
        "memberships": Membership.objects.for_user(request.user),
    }
