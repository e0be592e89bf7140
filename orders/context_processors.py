from __future__ import annotations

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from orders.models import Membership


def workspace(request: HttpRequest) -> dict[str, object]:
    """The navigation's workspace switcher and the current workspace, when there is one.

    The switcher's queryset is built only when a template uses it: htmx partials (the quote
    panel on every keystroke) never do, and building it costs about a millisecond."""
    current = getattr(request, "membership", None)
    if not request.user.is_authenticated:
        return {}
    user = request.user
    return {
        "current_membership": current,
        "current_workspace": getattr(current, "workspace", None),
        "memberships": SimpleLazyObject(lambda: Membership.objects.for_user(user)),
    }
