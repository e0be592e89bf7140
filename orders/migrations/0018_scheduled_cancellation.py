# Issue 15 §3: cancellations scheduled before a renewal (orders/models/renewals.py,
# docs/renewals.md).

from __future__ import annotations

from decimal import Decimal

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0017_mailbox_health"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="ScheduledCancellation",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True,
                        primary_key=True,
                        serialize=False,
                        verbose_name="ID",
                    ),
                ),
                ("emails", models.JSONField(default=list)),
                ("domains", models.JSONField(blank=True, default=list)),
                ("breakdown", models.JSONField(blank=True, default=dict)),
                (
                    "renewal_on",
                    models.DateField(
                        help_text="The renewal (the 15th) these should miss."
                    ),
                ),
                (
                    "run_on",
                    models.DateField(
                        help_text="The day it runs: the day before the renewal."
                    ),
                ),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("scheduled", "Scheduled"),
                            ("awaiting_approval", "Awaiting approval"),
                            ("approved", "Approved"),
                            ("executed", "Carried out"),
                            ("skipped", "Not carried out"),
                            ("unscheduled", "Withdrawn"),
                        ],
                        default="scheduled",
                        max_length=20,
                    ),
                ),
                (
                    "monthly_saving",
                    models.DecimalField(
                        decimal_places=2, default=Decimal("0"), max_digits=12
                    ),
                ),
                (
                    "yearly_saving",
                    models.DecimalField(
                        decimal_places=2, default=Decimal("0"), max_digits=12
                    ),
                ),
                ("outcome", models.CharField(blank=True, max_length=500)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("approved_at", models.DateTimeField(blank=True, null=True)),
                ("unscheduled_at", models.DateTimeField(blank=True, null=True)),
                ("executed_at", models.DateTimeField(blank=True, null=True)),
                ("reported_at", models.DateTimeField(blank=True, null=True)),
                (
                    "approved_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "order",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="scheduled_cancellations",
                        to="orders.order",
                    ),
                ),
                (
                    "run",
                    models.OneToOneField(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="schedule",
                        to="orders.cancellationrun",
                    ),
                ),
                (
                    "scheduled_by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "unscheduled_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "workspace",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="scheduled_cancellations",
                        to="orders.workspace",
                    ),
                ),
            ],
            options={
                "ordering": ["renewal_on", "pk"],
                "indexes": [
                    models.Index(
                        fields=["status", "run_on"], name="schedcancel_status_run"
                    ),
                    models.Index(
                        fields=["workspace", "status", "renewal_on"],
                        name="schedcancel_ws_status",
                    ),
                ],
            },
        ),
    ]
