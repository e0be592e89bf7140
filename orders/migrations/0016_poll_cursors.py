# The fulfilment poll resumes Instantly's two lists where the oldest item it still waits for
# is (issue 14): one row of cursors per workspace, so a poll reads the pages of what is in
# flight instead of the workspace's whole history.

from __future__ import annotations

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("orders", "0015_dashboard_tallies")]

    operations = [
        migrations.CreateModel(
            name="PollCursor",
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
                ("issued_to", models.CharField(blank=True, max_length=64)),
                ("orders_after", models.CharField(blank=True, max_length=300)),
                ("accounts_after", models.CharField(blank=True, max_length=300)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "workspace",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="poll_cursor",
                        to="orders.workspace",
                    ),
                ),
            ],
        ),
    ]
