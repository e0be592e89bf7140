# Notification deliveries (one row per attempt) and the workspace's webhook signing secret.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0006_reconcile_backoff"),
    ]

    operations = [
        migrations.AddField(
            model_name="workspace",
            name="webhook_secret_encrypted",
            field=models.TextField(blank=True, editable=False),
        ),
        migrations.AddField(
            model_name="workspace",
            name="webhook_secret_created_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.CreateModel(
            name="NotificationDelivery",
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
                ("event", models.CharField(max_length=40)),
                (
                    "channel",
                    models.CharField(
                        choices=[("email", "Email"), ("webhook", "Webhook")],
                        max_length=10,
                    ),
                ),
                ("event_id", models.UUIDField()),
                ("attempt", models.PositiveSmallIntegerField()),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("sending", "Sending"),
                            ("delivered", "Delivered"),
                            ("retrying", "Failed, will retry"),
                            ("failed", "Failed, given up"),
                        ],
                        default="sending",
                        max_length=10,
                    ),
                ),
                (
                    "http_status",
                    models.PositiveSmallIntegerField(blank=True, null=True),
                ),
                ("duration_ms", models.PositiveIntegerField(blank=True, null=True)),
                ("error", models.CharField(blank=True, max_length=300)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "order",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="notification_deliveries",
                        to="orders.order",
                    ),
                ),
                (
                    "workspace",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="notification_deliveries",
                        to="orders.workspace",
                    ),
                ),
            ],
            options={
                "ordering": ["-created_at", "-pk"],
                "indexes": [
                    models.Index(
                        fields=["workspace", "-created_at"],
                        name="notifdelivery_recent",
                    ),
                    models.Index(
                        fields=["event_id", "channel"], name="notifdelivery_event"
                    ),
                ],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("event_id", "channel", "attempt"),
                        name="notificationdelivery_unique_attempt",
                    )
                ],
            },
        ),
    ]
