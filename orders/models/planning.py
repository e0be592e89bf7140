"""Planning ahead (issue 16, docs/planning.md): the workspace's persona library, saved order
shapes ("templates"), and delivered domains marked burned with their replacement.

Each is per workspace; none of them changes an order already bought. A persona's name is
copied onto the mailboxes made from it (editing the persona later changes nothing ordered),
and a template holds a copy of an order's shape, not a link to its rows."""

from __future__ import annotations

from typing import Self

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower

from orders.models.items import OrderItem
from orders.models.order import Order
from orders.models.renewals import ScheduledCancellation
from orders.models.workspaces import Workspace


class PersonaQuerySet(models.QuerySet["Persona"]):
    def in_workspace(self, workspace: Workspace) -> Self:
        return self.filter(workspace=workspace)


class Persona(models.Model):
    """A named person mailboxes are made for: reused across domains and orders."""

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="personas"
    )
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    title = models.CharField(max_length=100, blank=True)
    signature = models.TextField(blank=True, max_length=2000)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PersonaQuerySet.as_manager()

    class Meta:
        ordering = ["last_name", "first_name", "pk"]
        constraints = [
            # One person once per workspace, whatever the case it was typed in.
            models.UniqueConstraint(
                "workspace",
                Lower("first_name"),
                Lower("last_name"),
                name="persona_unique_name",
            )
        ]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}"


class OrderTemplateQuerySet(models.QuerySet["OrderTemplate"]):
    def in_workspace(self, workspace: Workspace) -> Self:
        return self.filter(workspace=workspace)


class OrderTemplate(models.Model):
    """An order's shape saved under a name: order type, and per domain its provider, its
    mailboxes' names and its forwarding (`shape`, orders/order_shapes.py), without domains."""

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="order_templates"
    )
    name = models.CharField(max_length=120)
    order_type = models.CharField(max_length=20, blank=True)
    shape = models.JSONField(default=dict)
    source_order = models.ForeignKey(
        Order,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = OrderTemplateQuerySet.as_manager()

    class Meta:
        ordering = ["name", "pk"]
        constraints = [
            models.UniqueConstraint(
                "workspace", Lower("name"), name="order_template_unique_name"
            )
        ]

    def __str__(self) -> str:
        return self.name


class BurnReason(models.TextChoices):
    BLACKLISTED = "blacklisted", "Blacklisted"
    POOR_PLACEMENT = "poor_placement", "Poor inbox placement"
    SUSPENDED = "suspended", "Suspended by the provider"
    BOUNCES = "bounces", "High bounce rate"
    OTHER = "other", "Other"


class DomainBurnQuerySet(models.QuerySet["DomainBurn"]):
    def in_workspace(self, workspace: Workspace) -> Self:
        return self.filter(workspace=workspace)


class DomainBurn(models.Model):
    """A delivered domain marked burned, and what the portal proposed in its place: a
    replacement draft and the burned domain's cancellation before its next renewal."""

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="domain_burns"
    )
    item = models.OneToOneField(
        OrderItem, on_delete=models.CASCADE, related_name="burn"
    )
    reason = models.CharField(max_length=20, choices=BurnReason)
    note = models.CharField(max_length=500, blank=True)
    marked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    marked_at = models.DateTimeField(auto_now_add=True)
    replacement = models.ForeignKey(
        Order,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="replaces_burns",
    )
    schedule = models.ForeignKey(
        ScheduledCancellation,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    objects = DomainBurnQuerySet.as_manager()

    class Meta:
        ordering = ["-marked_at", "pk"]
        indexes = [
            models.Index(fields=["workspace", "marked_at"], name="domainburn_ws_marked")
        ]

    def __str__(self) -> str:
        return f"{self.item.domain} burned ({self.get_reason_display()})"
