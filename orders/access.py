"""Who may see and do what, decided once (docs/security.md, "Workspaces are the wall").

Every workspace page goes through `workspace_view`: it resolves the workspace from the URL
only through the user's own memberships, so a workspace the user does not belong to (and every
object in it) answers 404, and a role below the view's minimum answers 403.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, Concatenate, ParamSpec, cast

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django_htmx.middleware import HtmxDetails

from orders.models import InstantlyKey, Membership, Role, Workspace

P = ParamSpec("P")
SESSION_WORKSPACE = "workspace_slug"


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


class WorkspaceRequest(HtmxHttpRequest):
    """A request inside a workspace: what `workspace_view` attaches."""

    workspace: Workspace
    membership: Membership
    user: User


def membership_for(
    user: AbstractBaseUser | AnonymousUser, slug: str, *, with_key: bool = False
) -> Membership:
    # At most one row (unique user and workspace): no ORDER BY (Meta.ordering's join on the
    # workspace name) to build and run, on every request.
    found = Membership.objects.for_user(user).filter(workspace__slug=slug).order_by()
    if with_key:
        # The workspace's Instantly key in the same query, for the views that call Instantly
        # on every edit (`instantly_keys.instantly_client_for` uses it; docs/performance.md).
        found = found.select_related("workspace__instantly_key")
    found = found[:1]
    membership = next(iter(found), None)
    if membership is None:
        raise Http404("No such workspace.")
    if with_key:
        workspace = membership.workspace
        key = Workspace.instantly_key.related.get_cached_value(workspace)
        workspace.key_read_with_membership = (cast("InstantlyKey | None", key),)
    return membership


def workspace_view(
    min_role: Role = Role.OPERATOR, *, with_key: bool = False
) -> Callable[
    [Callable[Concatenate[WorkspaceRequest, P], HttpResponse]],
    Callable[Concatenate[HttpRequest, P], HttpResponse],
]:
    def decorator(
        view: Callable[Concatenate[WorkspaceRequest, P], HttpResponse],
    ) -> Callable[Concatenate[HttpRequest, P], HttpResponse]:
        @wraps(view)
        def wrapper(
            request: HttpRequest, *args: P.args, **kwargs: P.kwargs
        ) -> HttpResponse:
            slug: Any = kwargs["slug"]
            membership = membership_for(request.user, str(slug), with_key=with_key)
            if not membership.has_role(min_role):
                raise PermissionDenied(
                    f"This needs the {min_role.label} role in {membership.workspace}."
                )
            scoped: WorkspaceRequest = request  # type: ignore[assignment]
            scoped.membership = membership
            scoped.workspace = membership.workspace
            if request.session.get(SESSION_WORKSPACE) != membership.workspace.slug:
                # Written only on a change: a session save is a write transaction per request.
                request.session[SESSION_WORKSPACE] = membership.workspace.slug
            return view(scoped, *args, **kwargs)

        return cast("Callable[Concatenate[HttpRequest, P], HttpResponse]", wrapper)

    return decorator
