from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_login_with_right_password_reaches_home(client):
    UserFactory(username="olga")

    response = client.post(
        reverse("login"), {"username": "olga", "password": "correct-horse-42"}
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("home")


def test_wrong_password_keeps_username_and_says_so(client):
    UserFactory(username="olga")

    response = client.post(reverse("login"), {"username": "olga", "password": "nope"})

    html = response.content.decode()
    assert response.status_code == 200
    assert "enter a correct username and password" in html
    assert 'value="olga"' in html


def test_repeated_failures_lock_the_login_with_a_clear_message(client, settings):
    settings.AXES_FAILURE_LIMIT = 3
    UserFactory(username="olga")

    for _ in range(3):
        client.post(reverse("login"), {"username": "olga", "password": "nope"})
    locked = client.post(
        reverse("login"), {"username": "olga", "password": "correct-horse-42"}
    )

    assert locked.status_code == 429
    assert "Too many failed log-ins" in locked.content.decode()


def test_logout_is_a_post(client):
    user = UserFactory()
    client.force_login(user)

    response = client.post(reverse("logout"))

    assert response.status_code == 302
    assert client.get(reverse("home")).status_code == 302
