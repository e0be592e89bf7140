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
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django_htmx.middleware import HtmxDetails

from orders.compiled_queries import (
    CompiledValues,
    chunks,
    concrete_attnames,
    from_row,
)
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


def _membership_query(with_key: bool) -> CompiledValues:
    """The access check's query: the user's membership of the workspace named by the slug,
    with the workspace (and its Instantly key) in the same row. At most one row (unique user
    and workspace), so no ORDER BY (Meta.ordering would join and sort on every request).
    Compiled once per process: it runs on every workspace request (docs/performance.md)."""
    columns = [
        *concrete_attnames(Membership),
        *concrete_attnames(Workspace, "workspace__"),
    ]
    if with_key:
        columns += concrete_attnames(InstantlyKey, "workspace__instantly_key__")

    def build(user_id: int, slug: str) -> QuerySet[Membership, Any]:
        return (
            Membership.objects.for_user(User(pk=user_id))
            .filter(workspace__slug=slug)
            .order_by()
            .values_list(*columns)[:1]
        )

    return CompiledValues(build, (int, str))


_MEMBERSHIP = {False: _membership_query(False), True: _membership_query(True)}
_WIDTHS = (
    len(Membership._meta.concrete_fields),
    len(Workspace._meta.concrete_fields),
    len(InstantlyKey._meta.concrete_fields),
)


def membership_for(
    user: AbstractBaseUser | AnonymousUser, slug: str, *, with_key: bool = False
) -> Membership:
    """The user's membership of the workspace `slug`, its workspace read with it; 404 when
    there is none. `with_key` also reads the workspace's Instantly key, for the views that
    call Instantly on every edit (`instantly_keys.instantly_client_for` uses it)."""
    if not user.is_authenticated:
        raise Http404("No such workspace.")
    rows = _MEMBERSHIP[with_key].rows(user.pk, slug)
    if not rows:
        raise Http404("No such workspace.")
    membership_values, workspace_values, key_values = chunks(rows[0], _WIDTHS)
    membership: Membership = from_row(Membership, membership_values)
    workspace: Workspace = from_row(Workspace, workspace_values)
    Membership.workspace.field.set_cached_value(membership, workspace)
    if with_key:
        key = from_row(InstantlyKey, key_values) if key_values[0] is not None else None
        if key is not None:
            InstantlyKey.workspace.field.set_cached_value(key, workspace)
        Workspace.instantly_key.related.set_cached_value(workspace, key)
        workspace.key_read_with_membership = (key,)
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
