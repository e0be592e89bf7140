"""What happened to an order, append-only: its events (with their labels), who edited its
contents, and the snapshots of its items that the builder's "Undo" restores."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from orders.lifecycle import EventKind, OrderStatus
from orders.models.order import Order


class OrderEvent(models.Model):
    """Append-only audit row: every transition and every remote call that can spend money."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    kind = models.CharField(max_length=40)
    from_status = models.CharField(max_length=24, blank=True)
    to_status = models.CharField(max_length=24, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.kind} {self.from_status}→{self.to_status}"

    @property
    def label(self) -> str:
        try:
            return str(EventKind(self.kind).label)
        except ValueError:
            return self.kind.replace("_", " ").capitalize()

    @property
    def changes_status(self) -> bool:
        return bool(self.to_status) and self.to_status != self.from_status

    @property
    def to_status_label(self) -> str:
        try:
            return str(OrderStatus(self.to_status).label)
        except ValueError:
            return self.to_status


class OrderEdit(models.Model):
    """Append-only: who changed a draft's contents, and the version their save produced.

    The four-eyes rule reads these: nobody approves contents they changed since the order was
    last decided (docs/security.md)."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="edits")
    version = models.PositiveIntegerField()
    editor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [
            models.Index(
                fields=["order", "created_at"], name="order_edit_order_created"
            )
        ]

    def __str__(self) -> str:
        return f"v{self.version} by {self.editor_id}"


class DraftSnapshot(models.Model):
    """The draft's items as they were just before a destructive builder action (remove,
    replace, clear), so "Undo" can bring them back as a new version.

    Written by the same transaction as the destructive save; a few recent ones are kept per
    order. `items` is the DraftItem list as JSON: domain, provider, forwarding domain and the
    mailboxes' first name, last name and prefix."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="snapshots")
    version = models.PositiveIntegerField()  # the version these items were saved as
    # What the action did, e.g. "Removed acme.com and its 2 mailboxes".
    label = models.CharField(max_length=200)
    items = models.JSONField()
    taken_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-pk"]
        indexes = [models.Index(fields=["order", "-id"], name="draft_snapshot_order")]

    def __str__(self) -> str:
        return f"{self.label} (v{self.version})"
