"""The signed-in user read in the access check's row (`orders/access_prefetch.py`): one query
fewer on every workspace request, and nothing Django decides about the session changes. A
mistake here would sign in the wrong person or let a stale membership through, so each way a
session can stop being valid is tried with the read-ahead in play."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from orders.access import (
    READ_AHEAD,
    WORKSPACE_ACCESS,
    ReadAhead,
    _read_ahead,
    read_access_with_user,
)
from orders.models import Membership
from orders.user_backend import offered_user
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

USER_TABLE = User._meta.db_table
MEMBERSHIP_TABLE = Membership._meta.db_table


def reads_of_the_user_alone(ctx: CaptureQueriesContext) -> list[str]:
    return [
        q["sql"]
        for q in ctx.captured_queries
        if f'FROM "{USER_TABLE}"' in q["sql"] and MEMBERSHIP_TABLE not in q["sql"]
    ]


def test_a_workspace_page_reads_the_user_in_the_access_check(
    operator_client, operator, workspace
):
    dashboard = reverse("orders:dashboard", args=[workspace.slug])
    assert operator_client.get(dashboard).status_code == 200
    with CaptureQueriesContext(connection) as ctx:
        response = operator_client.get(dashboard)
    assert response.status_code == 200
    assert response.wsgi_request.user.pk == operator.pk
    assert reads_of_the_user_alone(ctx) == []
    # The access check itself ran once: one query joins the membership and the user.
    joined = [
        q
        for q in ctx.captured_queries
        if MEMBERSHIP_TABLE in q["sql"] and f'"{USER_TABLE}"' in q["sql"]
    ]
    assert len(joined) == 1
    # The offer ended with the request.
    assert offered_user.get() is None


def test_a_page_outside_a_workspace_still_reads_the_user(operator_client, operator):
    with CaptureQueriesContext(connection) as ctx:
        response = operator_client.get(reverse("home"))
    assert response.status_code in (200, 302)
    assert len(reads_of_the_user_alone(ctx)) == 1


def test_a_workspace_the_user_is_not_in_answers_404(operator_client, other_workspace):
    response = operator_client.get(
        reverse("orders:dashboard", args=[other_workspace.slug])
    )
    assert response.status_code == 404


def test_a_role_below_the_page_is_still_refused(operator_client, workspace):
    """Operators may not open the members page (a lead's): the read-ahead carries the role."""
    response = operator_client.get(reverse("orders:members", args=[workspace.slug]))
    assert response.status_code == 403


def signed_out(response) -> bool:  # type: ignore[no-untyped-def]
    return response.status_code == 302 and response["Location"].startswith(
        reverse("login")
    )


# A workspace page takes the user from the access check's row; the home page (outside any
# workspace) has the log-in backend read it. Either way Django decides as before.
PAGES = {
    "workspace page": lambda workspace: reverse(
        "orders:dashboard", args=[workspace.slug]
    ),
    "outside a workspace": lambda workspace: reverse("home"),
}


@pytest.mark.parametrize("page", PAGES)
def test_a_deactivated_user_is_signed_out_on_the_next_request(
    operator_client, operator, workspace, page
):
    url = PAGES[page](workspace)
    assert not signed_out(operator_client.get(url))
    User.objects.filter(pk=operator.pk).update(is_active=False)
    assert signed_out(operator_client.get(url))


@pytest.mark.parametrize("page", PAGES)
def test_a_changed_password_signs_the_old_session_out(
    operator_client, operator, workspace, page
):
    """Django's session hash check still runs on the user read ahead or by the backend."""
    url = PAGES[page](workspace)
    assert not signed_out(operator_client.get(url))
    operator.set_password("another long passphrase 77")
    operator.save()
    assert signed_out(operator_client.get(url))


def test_a_removed_membership_answers_404_at_once(operator_client, operator, workspace):
    dashboard = reverse("orders:dashboard", args=[workspace.slug])
    assert operator_client.get(dashboard).status_code == 200
    Membership.objects.filter(user=operator, workspace=workspace).delete()
    assert operator_client.get(dashboard).status_code == 404


def test_the_read_ahead_answers_what_the_orm_answers(operator, workspace, remote):
    found = read_access_with_user(operator.pk, workspace.slug, with_key=True)
    assert found is not None
    membership, user = found
    assert membership == Membership.objects.get(user=operator, workspace=workspace)
    assert membership.workspace.instantly_key.pk == workspace.instantly_key.pk
    assert user.pk == operator.pk
    assert user.password == User.objects.get(pk=operator.pk).password
    assert read_access_with_user(operator.pk, "nowhere", with_key=False) is None


def test_a_membership_read_for_someone_else_is_not_used(operator, workspace):
    """Only the user Django accepted may use a read-ahead membership."""
    other: User = UserFactory(username="mallory")  # type: ignore[assignment]
    MembershipFactory(workspace=workspace, user=other, role="lead")
    found = read_access_with_user(other.pk, workspace.slug, with_key=False)
    assert found is not None
    request = RequestFactory().get("/")
    request.user = operator
    setattr(request, READ_AHEAD, ReadAhead(workspace.slug, False, found[0]))
    assert _read_ahead(request, workspace.slug, False) is None
    # The same read for the right user, but for another page's shape or workspace: unused.
    own = read_access_with_user(operator.pk, workspace.slug, with_key=False)
    assert own is not None
    setattr(request, READ_AHEAD, ReadAhead(workspace.slug, False, own[0]))
    assert _read_ahead(request, workspace.slug, False) == own[0]
    assert _read_ahead(request, workspace.slug, True) is None
    assert _read_ahead(request, "globex", False) is None


def _patterns(resolver: URLResolver, prefix: str = ""):  # type: ignore[no-untyped-def]
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            yield from _patterns(entry, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), entry.callback


def test_every_workspace_page_is_marked_for_the_read_ahead():
    """Decorators stacked on `workspace_view` keep its mark, so no page pays the extra
    query by accident."""
    workspace_pages = [
        (route, view)
        for route, view in _patterns(get_resolver())
        if "<slug:slug>" in route
    ]
    assert len(workspace_pages) > 30
    unmarked = [
        route for route, view in workspace_pages if not hasattr(view, WORKSPACE_ACCESS)
    ]
    assert unmarked == []
