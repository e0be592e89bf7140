"""Cancellations scheduled before a renewal (issue 15 §3, docs/renewals.md): which mailboxes of
one order to cancel, the renewal they are to miss, and who decided. The beat task
`orders.run_scheduled_cancellations` carries out the due ones through the ordinary
cancellation run (orders/cancellation_runs.py)."""

from __future__ import annotations

from decimal import Decimal
from typing import Self

from django.conf import settings
from django.db import models

from orders.models.order import Order
from orders.models.remote import CancellationRun
from orders.models.workspaces import Workspace


class ScheduleStatus(models.TextChoices):
    # Runs on its day without anyone else (small enough, scheduled by a lead).
    SCHEDULED = "scheduled", "Scheduled"
    # Waits for a lead other than the one who scheduled it (docs/renewals.md).
    AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"
    APPROVED = "approved", "Approved"
    # Claimed by the beat task: its cancellation run was created and sent.
    EXECUTED = "executed", "Carried out"
    # Nothing was cancelled: nothing left to cancel, or never approved before the renewal.
    SKIPPED = "skipped", "Not carried out"
    UNSCHEDULED = "unscheduled", "Withdrawn"


# What can still change: be approved, withdrawn, run or skipped.
OPEN_SCHEDULE_STATUSES = frozenset(
    {
        ScheduleStatus.SCHEDULED,
        ScheduleStatus.AWAITING_APPROVAL,
        ScheduleStatus.APPROVED,
    }
)
# What the beat task runs on its day.
RUNNABLE_SCHEDULE_STATUSES = frozenset(
    {ScheduleStatus.SCHEDULED, ScheduleStatus.APPROVED}
)


class ScheduledCancellationQuerySet(models.QuerySet["ScheduledCancellation"]):
    def in_workspace(self, workspace: Workspace) -> Self:
        return self.filter(workspace=workspace)

    def open(self) -> Self:
        return self.filter(status__in=OPEN_SCHEDULE_STATUSES)


class ScheduledCancellation(models.Model):
    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="scheduled_cancellations"
    )
    order = models.ForeignKey(
        Order, on_delete=models.CASCADE, related_name="scheduled_cancellations"
    )
    # The addresses (lower case) chosen, and the domains chosen whole (every live mailbox of
    # the domain in this order when it runs).
    emails = models.JSONField(default=list)
    domains = models.JSONField(default=list, blank=True)
    # {provider: [mailboxes, domains whose last mailbox goes]}: what the forecast takes off.
    breakdown = models.JSONField(default=dict, blank=True)
    renewal_on = models.DateField(help_text="The renewal (the 15th) these should miss.")
    run_on = models.DateField(help_text="The day it runs: the day before the renewal.")
    status = models.CharField(
        max_length=20, choices=ScheduleStatus, default=ScheduleStatus.SCHEDULED
    )
    monthly_saving = models.DecimalField(
        max_digits=12, decimal_places=2, default=Decimal("0")
    )
    # The domains' yearly price that stops with their last mailbox.
    yearly_saving = models.DecimalField(
        max_digits=12, decimal_places=2, default=Decimal("0")
    )
    scheduled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    unscheduled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    run = models.OneToOneField(
        CancellationRun,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="schedule",
    )
    # Why it was skipped, or what its run did, in words (no secret).
    outcome = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    unscheduled_at = models.DateTimeField(null=True, blank=True)
    executed_at = models.DateTimeField(null=True, blank=True)
    # When the outcome of its run was recorded on the order's timeline (null: not yet).
    reported_at = models.DateTimeField(null=True, blank=True)

    objects = ScheduledCancellationQuerySet.as_manager()

    class Meta:
        ordering = ["renewal_on", "pk"]
        indexes = [
            # The beat task's due schedules, across workspaces.
            models.Index(fields=["status", "run_on"], name="schedcancel_status_run"),
            models.Index(
                fields=["workspace", "status", "renewal_on"],
                name="schedcancel_ws_status",
            ),
        ]

    def __str__(self) -> str:
        count = len(self.emails)
        return (
            f"Cancel {count} mailbox{'es' if count != 1 else ''} before "
            f"{self.renewal_on:%Y-%m-%d}"
        )

    @property
    def count(self) -> int:
        return len(self.emails)
