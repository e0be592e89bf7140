from __future__ import annotations

import logging

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from orders import crypto
from orders.models import InstantlyKey, KeyStatus
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db

SECRET = "sk_live_Zx9QpL2mW7vR4tY8uI0oP3aS6dF1gH5j"


@pytest.fixture
def admin_client(client, workspace):
    admin = MembershipFactory(workspace=workspace, role="admin").user
    client.force_login(admin)
    return client


def save_key(admin_client, workspace, secret=SECRET, mode="live"):
    return admin_client.post(
        reverse("orders:settings", args=[workspace.slug]),
        {"save_key": "1", "key-label": "Main", "key-secret": secret, "key-mode": mode},
        follow=True,
    )


def raw_rows():
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM orders_instantlykey")
        return repr(cursor.fetchall())


def test_saved_key_is_encrypted_at_rest_and_shown_only_by_last4(
    admin_client, workspace, caplog
):
    caplog.set_level(logging.DEBUG)

    response = save_key(admin_client, workspace)

    key = InstantlyKey.objects.get(workspace=workspace)
    html = response.content.decode()
    assert key.reveal() == SECRET
    assert key.last4 == SECRET[-4:]
    assert key.status == KeyStatus.UNVERIFIED
    assert SECRET not in raw_rows()
    assert SECRET not in html
    assert SECRET[:-4] not in html
    assert f"····{SECRET[-4:]}" in html
    assert SECRET not in caplog.text


def test_replacing_a_key_keeps_one_row_and_the_new_secret(admin_client, workspace):
    save_key(admin_client, workspace)

    save_key(admin_client, workspace, secret="sk_second_key_value_0001", mode="sandbox")

    key = InstantlyKey.objects.get(workspace=workspace)
    assert key.reveal() == "sk_second_key_value_0001"
    assert key.is_sandbox


def test_key_with_spaces_is_refused_with_the_field_named(admin_client, workspace):
    response = save_key(admin_client, workspace, secret="abc def ghi jkl")

    assert "An API key has no spaces" in response.content.decode()
    assert not InstantlyKey.objects.exists()


def test_admin_pages_never_show_the_secret(admin_client, workspace, admin_user, client):
    save_key(admin_client, workspace)
    key = InstantlyKey.objects.get()
    client.force_login(admin_user)

    pages = [
        client.get(reverse("admin:orders_instantlykey_changelist")),
        client.get(reverse("admin:orders_instantlykey_change", args=[key.pk])),
    ]

    for page in pages:
        assert page.status_code == 200
        html = page.content.decode()
        assert SECRET not in html
        assert key.secret_encrypted not in html
        assert f"····{SECRET[-4:]}" in html


def test_key_repr_and_str_hide_the_secret(admin_client, workspace):
    save_key(admin_client, workspace)
    key = InstantlyKey.objects.get()

    assert SECRET not in repr(key)
    assert SECRET not in str(key)
    assert key.secret_encrypted not in repr(key)


def test_rotation_keeps_old_secrets_readable_then_rewrites_them(settings, workspace):
    old_key = Fernet.generate_key().decode()
    settings.DFY_ENCRYPTION_KEYS = [old_key]
    token = crypto.encrypt(SECRET)
    InstantlyKey.objects.create(
        workspace=workspace,
        secret_encrypted=token,
        last4="H5j",
        base_url="https://x.test/",
    )
    new_key = Fernet.generate_key().decode()

    settings.DFY_ENCRYPTION_KEYS = [new_key, old_key]
    readable_before = InstantlyKey.objects.get().reveal()
    call_command("rotate_secrets")
    settings.DFY_ENCRYPTION_KEYS = [new_key]

    assert readable_before == SECRET
    assert InstantlyKey.objects.get().reveal() == SECRET


def test_unknown_encryption_key_is_a_clear_error(settings, workspace):
    settings.DFY_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    token = crypto.encrypt(SECRET)
    settings.DFY_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]

    with pytest.raises(crypto.SecretUnreadable) as excinfo:
        crypto.decrypt(token)

    assert SECRET not in str(excinfo.value)
