# Four-eyes about people (issue #9): who submitted the quote, and who edited which version.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def backfill(apps, schema_editor):
    """Orders from before this change: the submitter is the actor of the latest "submitted"
    event; the edits were never recorded, so the requester stands in as the one editor (the
    rule those orders were checked under until now)."""
    Order = apps.get_model("orders", "Order")
    OrderEvent = apps.get_model("orders", "OrderEvent")
    OrderEdit = apps.get_model("orders", "OrderEdit")
    submitters = dict(
        OrderEvent.objects.filter(kind="submitted", actor__isnull=False)
        .order_by("order_id", "created_at", "pk")
        .values_list("order_id", "actor_id")
    )
    for order in Order.objects.filter(items__isnull=False).distinct().iterator():
        if order.pk in submitters:
            order.submitted_by_id = submitters[order.pk]
            order.save(update_fields=["submitted_by"])
        edit = OrderEdit.objects.create(
            order=order, version=order.version, editor_id=order.requester_id
        )
        OrderEdit.objects.filter(pk=edit.pk).update(
            created_at=order.submitted_at or order.updated_at
        )


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0004_mailbox_status_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="order",
            name="submitted_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.CreateModel(
            name="OrderEdit",
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
                ("version", models.PositiveIntegerField()),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "editor",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "order",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="edits",
                        to="orders.order",
                    ),
                ),
            ],
            options={
                "ordering": ["created_at", "pk"],
                "indexes": [
                    models.Index(
                        fields=["order", "created_at"], name="order_edit_order_created"
                    )
                ],
            },
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
