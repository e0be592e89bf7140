from __future__ import annotations

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from factory.django import DjangoModelFactory

from orders.models import Membership, Order, Workspace


class UserFactory(DjangoModelFactory[User]):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.test")
    # Trap: a plain string would be stored unhashed; force_login works then but login() does not.
    password = factory.django.Password("correct-horse-42")


class WorkspaceFactory(DjangoModelFactory[Workspace]):
    class Meta:
        model = Workspace
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Workspace {n}")
    slug = factory.Sequence(lambda n: f"ws-{n}")


class MembershipFactory(DjangoModelFactory[Membership]):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    workspace = factory.SubFactory(WorkspaceFactory)
    role = "operator"


class OrderFactory(DjangoModelFactory[Order]):
    class Meta:
        model = Order

    workspace = factory.SubFactory(WorkspaceFactory)
    requester = factory.SubFactory(UserFactory)
    order_type = "dfy"
    status = "draft"
