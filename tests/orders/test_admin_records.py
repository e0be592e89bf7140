"""The admin's read-only pages for draft edits, undo snapshots, pasted keys and notification
deliveries: they render, nobody may write through them, their lists do not grow in queries
with the page size, and no secret (a key, the webhook signing secret, either encrypted form)
ever reaches their HTML."""

from __future__ import annotations

import uuid

import pytest
from django.urls import reverse

from orders import instantly_keys, webhooks
from orders.models import (
    DeliveryStatus,
    DraftSnapshot,
    NotificationChannel,
    NotificationDelivery,
    OrderEdit,
    PendingInstantlyKey,
    Workspace,
)
from tests.orders.admin_checks import VIEW_ONLY, list_queries_grow, what_staff_may_do
from tests.orders.history_data import make_order

pytestmark = pytest.mark.django_db

PASTED = "sk_live_pasted_0123456789abcdefWXYZ"
MODELS = ["orderedit", "draftsnapshot", "pendinginstantlykey", "notificationdelivery"]
ADMINS = [OrderEdit, DraftSnapshot, PendingInstantlyKey, NotificationDelivery]


class Records:
    def __init__(self, workspace: Workspace, operator) -> None:  # type: ignore[no-untyped-def]
        order = make_order(workspace, operator, title="Spring push")
        self.webhook_secret = webhooks.webhook_secret_rotate(workspace=workspace)
        self.pending = instantly_keys.instantly_key_propose(
            workspace=workspace,
            by=operator,
            secret=PASTED,
            label="New key",
            base_url="https://api.instantly.ai/api/v2",
        )
        workspace.refresh_from_db()
        self.encrypted = [
            workspace.webhook_secret_encrypted,
            self.pending.secret_encrypted,
        ]
        self.rows: dict[str, int] = {
            "orderedit": OrderEdit.objects.create(
                order=order, version=3, editor=operator
            ).pk,
            "draftsnapshot": DraftSnapshot.objects.create(
                order=order,
                version=2,
                label="Removed acme.com and its 2 mailboxes",
                items=[{"domain": "acme.com", "provider": 1, "mailboxes": []}],
                taken_by=operator,
            ).pk,
            "pendinginstantlykey": self.pending.pk,
            "notificationdelivery": NotificationDelivery.objects.create(
                workspace=workspace,
                order=order,
                event="order_failed",
                channel=NotificationChannel.WEBHOOK,
                event_id=uuid.uuid4(),
                attempt=1,
                status=DeliveryStatus.FAILED,
                http_status=500,
                duration_ms=120,
                error="HTTP 500 from the receiver",
            ).pk,
        }

    def secrets(self) -> list[str]:
        return [PASTED, self.webhook_secret, *self.encrypted]


@pytest.fixture
def records(workspace, operator):  # type: ignore[no-untyped-def]
    return Records(workspace, operator)


@pytest.mark.parametrize("name", MODELS)
def test_list_and_page_render_without_any_secret(staff_client, records, name):
    listing = staff_client.get(reverse(f"admin:orders_{name}_changelist"))
    page = staff_client.get(
        reverse(f"admin:orders_{name}_change", args=[records.rows[name]])
    )

    assert (listing.status_code, page.status_code) == (200, 200)
    for html in (listing.content.decode(), page.content.decode()):
        assert "Spring push" in html or "Acme" in html
        for secret in records.secrets():
            assert secret not in html
        assert PASTED[-8:] not in html  # not even a longer tail than the mask's


def test_pending_key_shows_only_its_mask_and_outcome(staff_client, records):
    page = staff_client.get(
        reverse("admin:orders_pendinginstantlykey_change", args=[records.pending.pk])
    ).content.decode()

    assert "····WXYZ" in page
    assert "Being verified" in page
    assert "New key" in page


def test_delivery_page_shows_the_attempt_and_its_outcome(staff_client, records):
    page = staff_client.get(
        reverse(
            "admin:orders_notificationdelivery_change",
            args=[records.rows["notificationdelivery"]],
        )
    ).content.decode()

    for text in ("order_failed", "Webhook", "Failed, given up", "500", "HTTP 500"):
        assert text in page


def test_snapshot_and_edit_pages_show_who_and_what(staff_client, records):
    snapshot = staff_client.get(
        reverse(
            "admin:orders_draftsnapshot_change", args=[records.rows["draftsnapshot"]]
        )
    ).content.decode()
    edits = staff_client.get(
        reverse("admin:orders_orderedit_changelist")
    ).content.decode()

    assert "Removed acme.com and its 2 mailboxes" in snapshot
    assert "acme.com" in snapshot
    assert "olivia" in snapshot
    assert "olivia" in edits
    assert "Spring push" in edits


@pytest.mark.parametrize("model", ADMINS)
def test_nobody_may_write_records_here(rf, admin_user, model):
    assert what_staff_may_do(rf, admin_user, model) == VIEW_ONLY


@pytest.mark.parametrize("name", MODELS)
def test_posting_to_a_record_page_changes_nothing(staff_client, records, name):
    pk = records.rows[name]
    change = staff_client.post(
        reverse(f"admin:orders_{name}_change", args=[pk]), {"version": "99"}
    )
    delete = staff_client.post(
        reverse(f"admin:orders_{name}_delete", args=[pk]), {"post": "yes"}
    )
    add = staff_client.get(reverse(f"admin:orders_{name}_add"))

    assert (change.status_code, delete.status_code, add.status_code) == (403, 403, 403)


@pytest.mark.parametrize("name", ["orderedit", "draftsnapshot", "notificationdelivery"])
def test_record_list_queries_do_not_grow_with_the_page_size(
    staff_client, workspace, operator, monkeypatch, name
):
    records = [Records(workspace, operator) for _ in range(6)]
    assert len(records) == 6
    url = reverse(f"admin:orders_{name}_changelist")

    few, many = list_queries_grow(
        staff_client, url, ADMINS[MODELS.index(name)], monkeypatch
    )

    assert few == many
