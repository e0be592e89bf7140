"""Who may see and do what, decided once (docs/security.md, "Workspaces are the wall").

Every workspace page goes through `workspace_view`: it resolves the workspace from the URL
only through the user's own memberships, so a workspace the user does not belong to (and every
object in it) answers 404, and a role below the view's minimum answers 403.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, Concatenate, ParamSpec, cast

from django.contrib.auth import get_user_model
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
# Set on every `workspace_view`, whatever decorates it further (`functools.wraps` copies it):
# tells `access_prefetch` the view's access check and whether it reads the key.
WORKSPACE_ACCESS = "workspace_access_with_key"
READ_AHEAD = "workspace_access_read_ahead"


@dataclass(frozen=True)
class ReadAhead:
    slug: str
    with_key: bool
    membership: Membership


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


class WorkspaceRequest(HtmxHttpRequest):
    """A request inside a workspace: what `workspace_view` attaches."""

    workspace: Workspace
    membership: Membership
    user: User


def _membership_query(with_key: bool, with_user: bool) -> CompiledValues:
    """The access check's query: the user's membership of the workspace named by the slug,
    with the workspace (and its Instantly key, and the user) in the same row. At most one row
    (unique user and workspace), so no ORDER BY (Meta.ordering would join and sort on every
    request). Compiled once per process: it runs on every workspace request
    (docs/performance.md, "Quote overhead")."""
    columns = [
        *concrete_attnames(Membership),
        *concrete_attnames(Workspace, "workspace__"),
    ]
    if with_key:
        columns += concrete_attnames(InstantlyKey, "workspace__instantly_key__")
    if with_user:
        columns += concrete_attnames(get_user_model(), "user__")

    def build(user_id: int, slug: str) -> QuerySet[Membership, Any]:
        return (
            Membership.objects.for_user(User(pk=user_id))
            .filter(workspace__slug=slug)
            .order_by()
            .values_list(*columns)[:1]
        )

    return CompiledValues(build, (int, str))


_MEMBERSHIP = {
    (with_key, with_user): _membership_query(with_key, with_user)
    for with_key in (False, True)
    for with_user in (False, True)
}


def _widths(with_key: bool) -> tuple[int, ...]:
    return (
        len(Membership._meta.concrete_fields),
        len(Workspace._meta.concrete_fields),
        len(InstantlyKey._meta.concrete_fields) if with_key else 0,
    )


def _read_membership(
    user_id: int, slug: str, *, with_key: bool, with_user: bool
) -> tuple[Membership, User | None] | None:
    rows = _MEMBERSHIP[with_key, with_user].rows(user_id, slug)
    if not rows:
        return None
    membership_values, workspace_values, key_values, user_values = chunks(
        rows[0], (*_widths(with_key), len(rows[0]))
    )
    membership: Membership = from_row(Membership, membership_values)
    workspace: Workspace = from_row(Workspace, workspace_values)
    Membership.workspace.field.set_cached_value(membership, workspace)
    if with_key:
        key = from_row(InstantlyKey, key_values) if key_values[0] is not None else None
        if key is not None:
            InstantlyKey.workspace.field.set_cached_value(key, workspace)
        Workspace.instantly_key.related.set_cached_value(workspace, key)
        workspace.key_read_with_membership = (key,)
    user: User | None = from_row(get_user_model(), user_values) if with_user else None
    return membership, user


def membership_for(
    user: AbstractBaseUser | AnonymousUser, slug: str, *, with_key: bool = False
) -> Membership:
    """The user's membership of the workspace `slug`, its workspace read with it; 404 when
    there is none. `with_key` also reads the workspace's Instantly key, for the views that
    call Instantly on every edit (`instantly_keys.instantly_client_for` uses it)."""
    if not user.is_authenticated:
        raise Http404("No such workspace.")
    found = _read_membership(user.pk, slug, with_key=with_key, with_user=False)
    if found is None:
        raise Http404("No such workspace.")
    return found[0]


def read_access_with_user(
    user_id: int, slug: str, *, with_key: bool
) -> tuple[Membership, User] | None:
    """The membership `membership_for` would find and the signed-in user, in one query, for
    `access_prefetch` to read before Django loads the session's user. Neither is trusted
    yet: Django still checks the user (`is_active`, the session hash), and `workspace_view`
    uses the membership only if it belongs to the user Django accepted."""
    found = _read_membership(user_id, slug, with_key=with_key, with_user=True)
    if found is None:
        return None
    membership, user = found
    return (membership, user) if user is not None else None


def _read_ahead(request: HttpRequest, slug: str, with_key: bool) -> Membership | None:
    """The membership `access_prefetch` read with the user, if it is this view's and
    belongs to the user Django accepted for the session."""
    read: ReadAhead | None = getattr(request, READ_AHEAD, None)
    if read is None or (read.slug, read.with_key) != (slug, with_key):
        return None
    user = request.user
    if not user.is_authenticated or read.membership.user_id != user.pk:
        return None
    return read.membership


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
            slug = str(kwargs["slug"])
            membership = _read_ahead(request, slug, with_key) or membership_for(
                request.user, slug, with_key=with_key
            )
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

        setattr(wrapper, WORKSPACE_ACCESS, with_key)
        return cast("Callable[Concatenate[HttpRequest, P], HttpResponse]", wrapper)

    return decorator
