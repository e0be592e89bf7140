# A pasted Instantly key waits here until it is verified (docs/security.md).

from __future__ import annotations

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0007_notification_deliveries"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="PendingInstantlyKey",
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
                ("label", models.CharField(blank=True, max_length=80)),
                (
                    "secret_encrypted",
                    models.TextField(blank=True, editable=False),
                ),
                ("last4", models.CharField(editable=False, max_length=4)),
                ("base_url", models.URLField(max_length=300)),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("verifying", "Being verified"),
                            ("accepted", "Verified and now in use"),
                            ("refused", "Refused"),
                        ],
                        default="verifying",
                        max_length=20,
                    ),
                ),
                (
                    "outcome",
                    models.CharField(
                        blank=True,
                        choices=[
                            ("unverified", "Not verified yet"),
                            ("ok", "Working"),
                            ("invalid", "Invalid or revoked key"),
                            ("missing_scope", "Key lacks the DFY order scopes"),
                            ("no_plan", "Workspace has no active plan"),
                            ("unreachable", "Instantly could not be reached"),
                        ],
                        max_length=20,
                    ),
                ),
                ("status_detail", models.CharField(blank=True, max_length=300)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("finished_at", models.DateTimeField(blank=True, null=True)),
                (
                    "created_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "workspace",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="pending_instantly_key",
                        to="orders.workspace",
                    ),
                ),
            ],
        ),
    ]
