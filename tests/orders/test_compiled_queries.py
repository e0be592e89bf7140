"""Queries compiled once (`orders/compiled_queries.py`) answer exactly what the ORM answers:
the access check, the signed-in user and the quote endpoint's order with its draft. They run
on every keystroke's quote request; a wrong binding or a missed conversion would show a
person another workspace or a wrong draft, so each is compared with the ORM's own read."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext

from orders import drafts
from orders.access import membership_for
from orders.compiled_queries import CompiledValues, NotCompilable
from orders.models import InstantlyKey, Membership, Order, OrderItem, Workspace
from orders.rules import DraftItem, DraftMailbox
from orders.user_backend import ModelBackendUserReadOnce
from tests.factories import MembershipFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db


def fields_of(instance: Any) -> dict[str, Any]:
    return {
        f.attname: getattr(instance, f.attname)
        for f in type(instance)._meta.concrete_fields
    }


def test_rows_equal_the_orm_and_bind_arguments_in_any_order(workspace, operator):
    """The second argument is used first in the SQL: probes, not positions, bind them."""
    other = WorkspaceFactory(slug="zeta", approval_threshold=Decimal("12.34"))
    MembershipFactory(workspace=other, user=operator, role="lead")

    def build(slug: str, user_id: int):  # type: ignore[no-untyped-def]
        return (
            Membership.objects.filter(user_id=user_id)
            .filter(workspace__slug=slug)
            .values_list("role", "workspace__approval_threshold", "created_at")
        )

    query = CompiledValues(build, (str, int))
    for slug in ("acme", "zeta", "nowhere"):
        assert query.rows(slug, operator.pk) == list(build(slug, operator.pk)), slug
    # Django's converters ran: a Decimal and an aware datetime, on every database.
    (role, threshold, created) = query.rows("zeta", operator.pk)[0]
    assert (role, threshold) == ("lead", Decimal("12.34"))
    assert created.tzinfo is not None
    assert query.fields == ("role", "workspace__approval_threshold", "created_at")


def test_an_argument_used_twice_is_bound_both_times(workspace, operator):
    def build(user_id: int):  # type: ignore[no-untyped-def]
        return Membership.objects.filter(
            user_id=user_id, workspace__memberships__user_id=user_id
        ).values_list("pk")

    query = CompiledValues(build, (int,))
    assert query.rows(operator.pk) == list(build(operator.pk))
    assert query.rows(operator.pk)


def test_a_transformed_or_unused_argument_is_refused_when_compiled(workspace):
    contains = CompiledValues(
        lambda slug: Workspace.objects.filter(slug__contains=slug).values_list("pk"),
        (str,),
    )
    with pytest.raises(NotCompilable, match="transformed"):
        contains.rows("acm")
    unused = CompiledValues(
        lambda pk: Workspace.objects.values_list("pk"),
        (int,),
    )
    with pytest.raises(NotCompilable, match="do not reach"):
        unused.rows(1)
    with pytest.raises(TypeError):
        CompiledValues(lambda when: Workspace.objects.all(), (float,))


@pytest.mark.parametrize("with_key", [False, True])
def test_the_access_check_reads_what_the_orm_reads(
    workspace, other_workspace, operator, remote, with_key
):
    membership = membership_for(operator, "acme", with_key=with_key)
    expected = Membership.objects.select_related("workspace").get(
        user=operator, workspace=workspace
    )
    assert fields_of(membership) == fields_of(expected)
    assert fields_of(membership.workspace) == fields_of(expected.workspace)
    assert membership.workspace.slug == "acme"
    assert (membership.workspace.key_read_with_membership is not None) == with_key
    if with_key:
        (key,) = membership.workspace.key_read_with_membership  # type: ignore[misc]
        assert key is not None
        assert fields_of(key) == fields_of(
            InstantlyKey.objects.get(workspace=workspace)
        )
        assert key.workspace is membership.workspace
        # The relation is cached: reading it costs no query.
        with CaptureQueriesContext(connection) as ctx:
            assert membership.workspace.instantly_key == key
        assert not ctx.captured_queries
    # Not a member, no such workspace, not signed in: 404 whatever the key.
    for user, slug in (
        (operator, "globex"),
        (operator, "nowhere"),
        (AnonymousUser(), "acme"),
    ):
        with pytest.raises(Http404):
            membership_for(user, slug, with_key=with_key)


def test_the_access_check_reads_no_key_as_no_key(workspace, operator):
    membership = membership_for(operator, "acme", with_key=True)
    assert membership.workspace.key_read_with_membership == (None,)
    with pytest.raises(Workspace.instantly_key.RelatedObjectDoesNotExist):  # type: ignore[attr-defined]
        _ = membership.workspace.instantly_key


def test_the_access_check_is_one_query(workspace, operator, remote):
    with CaptureQueriesContext(connection) as ctx:
        membership_for(operator, "acme", with_key=True)
    assert len(ctx.captured_queries) == 1


def test_the_signed_in_user_is_read_as_the_orm_reads_it(operator):
    backend = ModelBackendUserReadOnce()
    user = backend.get_user(operator.pk)
    assert user is not None
    assert fields_of(user) == fields_of(User.objects.get(pk=operator.pk))
    assert user._state.adding is False
    # Unknown, malformed or inactive: nobody, as ModelBackend answers.
    assert backend.get_user(10**6) is None
    assert backend.get_user("not a number") is None
    User.objects.filter(pk=operator.pk).update(is_active=False)
    assert backend.get_user(operator.pk) is None


def test_the_quote_read_gives_the_order_and_the_draft_read(
    workspace, other_workspace, operator
):
    order = drafts.order_draft_create(
        workspace=workspace, by=operator, order_type="dfy"
    )
    items = [
        DraftItem("beta-mail.com", 2, "fwd.com", (DraftMailbox("Ann", "Lee", "ann"),)),
        DraftItem("alpha-mail.com", 1, "", ()),
        DraftItem(
            "gamma-mail.com",
            3,
            "",
            (DraftMailbox("Bo", "Ek", "bo"), DraftMailbox("Cy", "Ek", "cy")),
        ),
    ]
    order = drafts.order_draft_save(
        order=order, by=operator, version=order.version, items=items
    )
    with CaptureQueriesContext(connection) as ctx:
        found = drafts.quote_order_with_draft_read(workspace, order.pk)
    assert len(ctx.captured_queries) == 1
    assert found is not None
    read, draft = found
    assert draft == drafts.draft_read(order) == items
    stored = Order.objects.get(pk=order.pk)
    for name in drafts.QUOTE_ORDER_FIELDS:
        assert getattr(read, name) == getattr(stored, name), name
    assert read.workspace is workspace
    # Only those columns were read; the others load on demand, as with .only().
    assert read.get_deferred_fields() == {
        f.attname
        for f in Order._meta.concrete_fields
        if f.attname not in drafts.QUOTE_ORDER_FIELDS
    }
    # Another workspace's order, or none at all, is not found.
    assert drafts.quote_order_with_draft_read(other_workspace, order.pk) is None
    assert drafts.quote_order_with_draft_read(workspace, order.pk + 1000) is None


def test_the_quote_read_of_an_empty_draft(workspace, operator):
    order = drafts.order_draft_create(
        workspace=workspace, by=operator, order_type="dfy"
    )
    assert not OrderItem.objects.filter(order=order).exists()
    found = drafts.quote_order_with_draft_read(workspace, order.pk)
    assert found is not None
    assert found[0].pk == order.pk
    assert found[1] == []
