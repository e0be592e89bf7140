"""What an order asks for: its domains (items) with their email provider, and the mailboxes
on each domain."""

from __future__ import annotations

from django.db import models

from orders.lifecycle import MailboxHealth
from orders.models.order import Order


class Provider(models.IntegerChoices):
    GOOGLE = 1, "Google"
    AIRMAIL = 2, "AirMail"
    MICROSOFT = 3, "Microsoft"


class OrderItem(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    domain = models.CharField(max_length=253)
    provider = models.PositiveSmallIntegerField(
        choices=Provider, default=Provider.GOOGLE
    )
    forwarding_domain = models.CharField(max_length=253, blank=True)
    position = models.PositiveIntegerField(default=0)

    # No uniqueness constraint on (order, domain): a draft must be able to hold what the user
    # typed, duplicates included; the local rules and Instantly's simulation flag them.
    class Meta:
        ordering = ["position", "pk"]
        # The provider filters (history and admin) read the orders having a provider from
        # the index alone. Domain search uses a trigram index, PostgreSQL only (migration 0014).
        indexes = [
            models.Index(fields=["provider", "order"], name="orderitem_provider_order")
        ]

    def __str__(self) -> str:
        return self.domain


class MailboxStatus(models.TextChoices):
    REQUESTED = "requested", "Requested"
    PROVISIONING = "provisioning", "Provisioning"
    READY = "ready", "Ready"
    CANCELLED = "cancelled", "Cancelled"


# Instantly's Account.warmup_status codes (docs/instantly.md).
WARMUP_LABELS = {
    1: "On",
    0: "Off",
    -1: "Banned",
    -2: "Spam folder unknown",
    -3: "Suspended",
}


class Mailbox(models.Model):
    item = models.ForeignKey(
        OrderItem, on_delete=models.CASCADE, related_name="mailboxes"
    )
    email_prefix = models.CharField(max_length=64)
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    remote_id = models.CharField(max_length=100, blank=True, db_index=True)
    status = models.CharField(
        max_length=20, choices=MailboxStatus, default=MailboxStatus.REQUESTED
    )
    provisioning_at = models.DateTimeField(null=True, blank=True)
    ready_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    position = models.PositiveIntegerField(default=0)
    # Health after delivery, as Instantly's accounts list (GET /api/v2/accounts) last showed
    # it: its raw codes, and `health` folded from them (orders/mailbox_health.py).
    health = models.CharField(
        max_length=16, choices=MailboxHealth, default=MailboxHealth.UNKNOWN, blank=True
    )
    account_status = models.SmallIntegerField(null=True, blank=True)
    setup_pending = models.BooleanField(null=True, blank=True)
    warmup_status = models.SmallIntegerField(null=True, blank=True)
    warmup_score = models.FloatField(null=True, blank=True)
    daily_limit = models.PositiveIntegerField(null=True, blank=True)
    health_checked_at = models.DateTimeField(null=True, blank=True)

    # Duplicate prefixes are allowed in a draft for the same reason as duplicate domains.
    class Meta:
        ordering = ["position", "pk"]
        # The dashboard counts mailboxes by status per order; with this the count reads the
        # index only, not 200,000 rows.
        indexes = [
            models.Index(fields=["item", "status"], name="mailbox_item_status"),
            # The dashboard's unhealthy count reads the few unhealthy rows, not all of them.
            models.Index(fields=["health", "item"], name="mailbox_health_item"),
        ]

    def __str__(self) -> str:
        return self.email

    @property
    def email(self) -> str:
        return f"{self.email_prefix}@{self.item.domain}"

    @property
    def warmup_label(self) -> str:
        """Instantly's warmup status in words ("–" before the health poll read it)."""
        if self.warmup_status is None:
            return "–"
        return WARMUP_LABELS.get(self.warmup_status, f"Code {self.warmup_status}")
