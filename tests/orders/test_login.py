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


def _fail(client, username, **meta):  # type: ignore[no-untyped-def]
    return client.post(
        reverse("login"), {"username": username, "password": "nope"}, **meta
    )


def _good(client, username, **meta):  # type: ignore[no-untyped-def]
    return client.post(
        reverse("login"),
        {"username": username, "password": "correct-horse-42"},
        **meta,
    )


PROXY = "10.0.0.5"


def test_behind_a_trusted_proxy_a_guesser_locks_only_their_own_address(
    client, settings
):
    settings.AXES_FAILURE_LIMIT = 3
    settings.DFY_TRUSTED_PROXY_COUNT = 1
    UserFactory(username="leo")

    for _ in range(5):
        _fail(client, "leo", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="203.0.113.9")
    guesser = _good(
        client, "leo", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="203.0.113.9"
    )
    lead = _good(client, "leo", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="198.51.100.7")

    assert guesser.status_code == 429
    assert lead.status_code == 302


def test_a_forged_hop_left_of_the_trusted_proxy_does_not_escape_the_lock(
    client, settings
):
    settings.AXES_FAILURE_LIMIT = 3
    settings.DFY_TRUSTED_PROXY_COUNT = 1
    UserFactory(username="leo")

    # The client prepends a different made-up address each time; the proxy appends the
    # real one, which is what the lock uses.
    for n in range(4):
        _fail(
            client,
            "leo",
            REMOTE_ADDR=PROXY,
            HTTP_X_FORWARDED_FOR=f"192.0.2.{n}, 203.0.113.9",
        )
    again = _good(
        client, "leo", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="192.0.2.77, 203.0.113.9"
    )

    assert again.status_code == 429


def test_without_trusted_proxies_the_forwarded_header_is_ignored(client, settings):
    settings.AXES_FAILURE_LIMIT = 3
    settings.DFY_TRUSTED_PROXY_COUNT = 0
    UserFactory(username="leo")

    for n in range(4):
        _fail(
            client,
            "leo",
            REMOTE_ADDR="203.0.113.9",
            HTTP_X_FORWARDED_FOR=f"192.0.2.{n}",
        )
    same_machine = _good(
        client, "leo", REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="192.0.2.200"
    )
    elsewhere = _good(client, "leo", REMOTE_ADDR="198.51.100.7")

    assert same_machine.status_code == 429
    assert elsewhere.status_code == 302


def test_trusted_proxy_count_with_a_missing_hop_falls_back_to_the_connection(
    rf, settings
):
    from orders.client_address import client_address

    settings.DFY_TRUSTED_PROXY_COUNT = 2
    request = rf.get("/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="203.0.113.9")
    garbage = rf.get("/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="x, not-an-ip")
    two_hops = rf.get(
        "/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.9, 10.0.0.4"
    )

    assert client_address(request) == PROXY
    assert client_address(garbage) == PROXY
    assert client_address(two_hops) == "203.0.113.9"
