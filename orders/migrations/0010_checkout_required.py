# Hosted checkout (2026-07): the awaiting_checkout status; hand-written.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0009_pending_key"),
    ]

    operations = [
        migrations.AlterField(
            model_name="order",
            name="status",
            field=models.CharField(
                choices=[
                    ("draft", "Draft"),
                    ("pending_approval", "Waiting for approval"),
                    ("rejected", "Rejected"),
                    ("approved", "Approved, queued"),
                    ("needs_reapproval", "Price changed, needs re-approval"),
                    ("submitting", "Submitting to Instantly"),
                    ("placed", "Placed"),
                    ("provisioning", "Provisioning mailboxes"),
                    ("ready", "Ready"),
                    ("failed", "Refused by Instantly"),
                    ("awaiting_checkout", "Awaiting payment at Instantly"),
                    ("unknown", "Outcome unknown, reconciling"),
                    ("needs_attention", "Needs attention"),
                    ("partially_cancelled", "Partially cancelled"),
                    ("cancelled", "Cancelled"),
                ],
                default="draft",
                max_length=24,
            ),
        ),
    ]
