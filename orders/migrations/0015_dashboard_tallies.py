# The dashboard's running summaries (issue 14: its page must not count 200,000 mailboxes or
# group a year of order items per view): mailboxes of bought orders per workspace, provider
# and state, each placed order's share of the spend and time to ready per provider, and the
# bought orders' count and monthly price per workspace. Kept by the lifecycle, the fulfilment
# poll and cancellations from now on (orders/models/tallies.py); this migration counts what
# exists already.

from __future__ import annotations

from decimal import Decimal
from typing import Any

import django.db.models.deletion
from django.db import migrations, models


def tallies_rebuild(apps: Any, schema_editor: Any) -> None:
    # The current code, not the historical models: the rebuild is the same function the tests
    # check the running tallies against. A later change to these two tables must bring its own
    # data step rather than rely on this one (0019 rebuilds the spend tally it adds).
    from orders.models import MailboxTally

    workspaces = apps.get_model("orders", "Workspace")
    for workspace_id in workspaces.objects.values_list("pk", flat=True):
        MailboxTally.objects.rebuild(workspace_id=workspace_id, spend=False)


class Migration(migrations.Migration):
    dependencies = [("orders", "0014_history_indexes")]

    operations = [
        migrations.CreateModel(
            name="MailboxTally",
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
                (
                    "provider",
                    models.PositiveSmallIntegerField(
                        choices=[(1, "Google"), (2, "AirMail"), (3, "Microsoft")]
                    ),
                ),
                (
                    "state",
                    models.CharField(
                        choices=[
                            ("ready", "Ready"),
                            ("waiting", "Requested or provisioning"),
                        ],
                        max_length=10,
                    ),
                ),
                ("mailboxes", models.BigIntegerField(default=0)),
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
                        fields=("workspace", "provider", "state"),
                        name="mailbox_tally_unique",
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="PlacedShare",
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
                (
                    "provider",
                    models.PositiveSmallIntegerField(
                        choices=[(1, "Google"), (2, "AirMail"), (3, "Microsoft")]
                    ),
                ),
                ("placed_at", models.DateTimeField()),
                (
                    "share",
                    models.DecimalField(decimal_places=2, max_digits=12, null=True),
                ),
                ("took", models.DurationField(null=True)),
                (
                    "order",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="orders.order",
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
                "indexes": [
                    models.Index(
                        fields=["workspace", "placed_at"], name="placed_share_ws_at"
                    )
                ],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("order", "provider"), name="placed_share_unique"
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="BoughtTally",
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
                ("orders", models.BigIntegerField(default=0)),
                (
                    "monthly",
                    models.DecimalField(
                        decimal_places=2, default=Decimal("0"), max_digits=14
                    ),
                ),
                (
                    "workspace",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="orders.workspace",
                    ),
                ),
            ],
        ),
        migrations.RunPython(tallies_rebuild, migrations.RunPython.noop),
    ]
