# Issue 15: health after delivery, as Instantly's accounts list shows each mailbox, folded per
# mailbox and per order (orders/lifecycle.py: MailboxHealth, OrderHealth).

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0016_poll_cursors"),
    ]

    operations = [
        migrations.AddField(
            model_name="mailbox",
            name="account_status",
            field=models.SmallIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="mailbox",
            name="daily_limit",
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="mailbox",
            name="health",
            field=models.CharField(
                blank=True,
                choices=[
                    ("", "Not read yet"),
                    ("setup_pending", "Setup pending"),
                    ("connected", "Connected"),
                    ("paused", "Paused"),
                    ("error", "Error"),
                    ("disconnected", "Disconnected"),
                ],
                default="",
                max_length=16,
            ),
        ),
        migrations.AddField(
            model_name="mailbox",
            name="health_checked_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="mailbox",
            name="setup_pending",
            field=models.BooleanField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="mailbox",
            name="warmup_score",
            field=models.FloatField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="mailbox",
            name="warmup_status",
            field=models.SmallIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="order",
            name="health",
            field=models.CharField(
                blank=True,
                choices=[
                    ("", "Not followed yet"),
                    ("setting_up", "Setting up"),
                    ("live", "Live"),
                    ("attention", "Needs attention"),
                ],
                default="",
                max_length=16,
            ),
        ),
        migrations.AddField(
            model_name="order",
            name="health_checked_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name="mailbox",
            index=models.Index(fields=["health", "item"], name="mailbox_health_item"),
        ),
    ]
