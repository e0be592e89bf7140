# Reconciliation backoff and lifecycle bounds (docs/lifecycle-bounds.md); hand-written.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0005_four_eyes"),
    ]

    operations = [
        migrations.AddField(
            model_name="order",
            name="next_reconcile_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="order",
            name="overdue_notified_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
