from __future__ import annotations

import logging
from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from orders import crypto, instantly_keys
from orders.models import InstantlyKey, PendingInstantlyKey, PendingKeyStatus
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db

SECRET = "sk_live_Zx9QpL2mW7vR4tY8uI0oP3aS6dF1gH5j"
LIVE = "https://api.instantly.test/api/v2"


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
        active = cursor.fetchall()
        cursor.execute("SELECT * FROM orders_pendinginstantlykey")
        return repr(active + cursor.fetchall())


def install_key(workspace, secret=SECRET):
    """An active key, as a successful verification leaves it (the page only proposes keys)."""
    return instantly_keys.instantly_key_save(
        workspace=workspace, by=None, secret=secret, label="Main", base_url=LIVE
    )


def test_saved_key_is_encrypted_at_rest_and_shown_only_by_last4(
    admin_client, workspace, caplog
):
    caplog.set_level(logging.DEBUG)

    response = save_key(admin_client, workspace)

    # Stored as a pending key, waiting for its verification; not yet in use.
    key = PendingInstantlyKey.objects.get(workspace=workspace)
    html = response.content.decode()
    assert key.reveal() == SECRET
    assert key.last4 == SECRET[-4:]
    assert key.status == PendingKeyStatus.VERIFYING
    assert not InstantlyKey.objects.exists()
    assert SECRET not in raw_rows()
    assert SECRET not in html
    assert SECRET[:-4] not in html
    assert f"····{SECRET[-4:]}" in html
    assert SECRET not in caplog.text


def test_replacing_a_key_keeps_one_row_and_the_new_secret(admin_client, workspace):
    save_key(admin_client, workspace)

    save_key(admin_client, workspace, secret="sk_second_key_value_0001", mode="sandbox")
    install_key(workspace)
    install_key(workspace, secret="sk_third_key_value_0002")

    pending = PendingInstantlyKey.objects.get(workspace=workspace)
    assert pending.reveal() == "sk_second_key_value_0001"
    assert pending.is_sandbox
    assert InstantlyKey.objects.get().reveal() == "sk_third_key_value_0002"


def test_key_with_spaces_is_refused_with_the_field_named(admin_client, workspace):
    response = save_key(admin_client, workspace, secret="abc def ghi jkl")

    assert "An API key has no spaces" in response.content.decode()
    assert not InstantlyKey.objects.exists()


def test_admin_pages_never_show_the_secret(admin_client, workspace, admin_user, client):
    key = install_key(workspace)
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
    pending = PendingInstantlyKey.objects.get()
    key = install_key(workspace)

    for row in (key, pending):
        assert SECRET not in repr(row)
        assert SECRET not in str(row)
        assert row.secret_encrypted not in repr(row)


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
    workspace.webhook_secret_encrypted = crypto.encrypt("whsec_signing")
    workspace.save(update_fields=["webhook_secret_encrypted"])
    new_key = Fernet.generate_key().decode()

    settings.DFY_ENCRYPTION_KEYS = [new_key, old_key]
    readable_before = InstantlyKey.objects.get().reveal()
    out = StringIO()
    call_command("rotate_secrets", stdout=out)
    settings.DFY_ENCRYPTION_KEYS = [new_key]
    workspace.refresh_from_db()

    assert readable_before == SECRET
    assert InstantlyKey.objects.get().reveal() == SECRET
    assert crypto.decrypt(workspace.webhook_secret_encrypted) == "whsec_signing"
    assert "1 API key(s) and 1 webhook signing secret(s)" in out.getvalue()


def test_unknown_encryption_key_is_a_clear_error(settings, workspace):
    settings.DFY_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    token = crypto.encrypt(SECRET)
    settings.DFY_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]

    with pytest.raises(crypto.SecretUnreadable) as excinfo:
        crypto.decrypt(token)

    assert SECRET not in str(excinfo.value)


def test_rotation_rewrites_a_pending_key_too(settings, workspace):
    old_key = Fernet.generate_key().decode()
    settings.DFY_ENCRYPTION_KEYS = [old_key]
    instantly_keys.instantly_key_propose(
        workspace=workspace, by=None, secret=SECRET, label="New", base_url=LIVE
    )
    new_key = Fernet.generate_key().decode()

    settings.DFY_ENCRYPTION_KEYS = [new_key, old_key]
    rotated = instantly_keys.instantly_keys_rotate()
    settings.DFY_ENCRYPTION_KEYS = [new_key]

    assert rotated == 1
    assert PendingInstantlyKey.objects.get().reveal() == SECRET
