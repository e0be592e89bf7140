# The spend chart reads a running sum per workspace, month and provider instead of summing
# every placed order's share on each view (issue 14's growth curve; docs/performance.md); the
# dashboard finds orders whose delivered mailboxes need attention by a partial index.

from decimal import Decimal
from typing import Any

import django.db.models.deletion
from django.db import migrations, models


def tallies_rebuild(apps: Any, schema_editor: Any) -> None:
    # The current code, as in 0015: the function the tests check the running tallies against.
    from orders.models import MailboxTally

    workspaces = apps.get_model("orders", "Workspace")
    for workspace_id in workspaces.objects.values_list("pk", flat=True):
        MailboxTally.objects.rebuild(workspace_id=workspace_id)


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0018_scheduled_cancellation"),
    ]

    operations = [
        migrations.CreateModel(
            name="SpendTally",
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
                ("month", models.DateField()),
                (
                    "provider",
                    models.PositiveSmallIntegerField(
                        choices=[(1, "Google"), (2, "AirMail"), (3, "Microsoft")]
                    ),
                ),
                (
                    "spent",
                    models.DecimalField(
                        decimal_places=2, default=Decimal("0"), max_digits=14
                    ),
                ),
                (
                    "workspace",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="orders.workspace",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("workspace", "month", "provider"),
                        name="spend_tally_unique",
                    )
                ],
            },
        ),
        migrations.AddIndex(
            model_name="order",
            index=models.Index(
                condition=models.Q(("health", "attention")),
                fields=["workspace"],
                name="order_ws_health_attention",
            ),
        ),
        migrations.RunPython(tallies_rebuild, migrations.RunPython.noop),
    ]
