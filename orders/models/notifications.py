"""Notification deliveries: one row per attempt at telling someone about an order event."""

from __future__ import annotations

from django.db import models

from orders.models.workspaces import Workspace


class NotificationChannel(models.TextChoices):
    EMAIL = "email", "Email"
    WEBHOOK = "webhook", "Webhook"


class DeliveryStatus(models.TextChoices):
    SENDING = "sending", "Sending"
    DELIVERED = "delivered", "Delivered"
    RETRYING = "retrying", "Failed, will retry"
    FAILED = "failed", "Failed, given up"


class NotificationDelivery(models.Model):
    """One attempt at delivering one notification event over one channel (docs/webhooks.md).

    Append-only apart from the attempt's own outcome; the event id is what makes a redelivered
    task message harmless and what receivers de-duplicate on."""

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="notification_deliveries"
    )
    order = models.ForeignKey(
        "Order", on_delete=models.CASCADE, related_name="notification_deliveries"
    )
    event = models.CharField(max_length=40)
    channel = models.CharField(max_length=10, choices=NotificationChannel)
    event_id = models.UUIDField()
    attempt = models.PositiveSmallIntegerField()
    status = models.CharField(
        max_length=10, choices=DeliveryStatus, default=DeliveryStatus.SENDING
    )
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    # Written by the portal, never copied from a remote answer: no URL, no header, no secret.
    error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["event_id", "channel", "attempt"],
                name="notificationdelivery_unique_attempt",
            ),
        ]
        indexes = [
            models.Index(
                fields=["workspace", "-created_at"], name="notifdelivery_recent"
            ),
            models.Index(fields=["event_id", "channel"], name="notifdelivery_event"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.event} #{self.attempt} ({self.status})"
