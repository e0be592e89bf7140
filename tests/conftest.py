from __future__ import annotations

import os

import pytest

from tests.factories import MembershipFactory, UserFactory, WorkspaceFactory


def require_service(name: str, available: bool, reason: str) -> None:
    """Skip with a clear reason when a service is missing; in CI a missing service fails."""
    if available:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{name} is required in CI: {reason}")
    pytest.skip(f"{name} not available: {reason}")


@pytest.fixture(autouse=True)
def _test_settings(settings):  # type: ignore[no-untyped-def]
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher"
    ]  # speed only
    settings.AXES_ENABLED = True


@pytest.fixture
def workspace():  # type: ignore[no-untyped-def]
    return WorkspaceFactory(name="Acme", slug="acme")


@pytest.fixture
def other_workspace():  # type: ignore[no-untyped-def]
    return WorkspaceFactory(name="Globex", slug="globex")


def _member(workspace, role, **kwargs):  # type: ignore[no-untyped-def]
    return MembershipFactory(workspace=workspace, role=role, **kwargs).user


@pytest.fixture
def operator(workspace):  # type: ignore[no-untyped-def]
    return _member(workspace, "operator", user=UserFactory(username="olivia"))


@pytest.fixture
def lead(workspace):  # type: ignore[no-untyped-def]
    from decimal import Decimal

    return _member(
        workspace,
        "lead",
        user=UserFactory(username="leo"),
        approval_limit=Decimal("500"),
    )


@pytest.fixture
def ws_admin(workspace):  # type: ignore[no-untyped-def]
    return _member(workspace, "admin", user=UserFactory(username="ada"))


@pytest.fixture
def operator_client(client, operator):  # type: ignore[no-untyped-def]
    client.force_login(operator)
    return client
