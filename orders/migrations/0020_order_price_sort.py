# The history and the admin sort orders by their approved quote's price: copied onto the order
# and indexed, a sort reads one index instead of joining every order to its quote (issue 14's
# growth curve; docs/performance.md).

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def prices_copy(apps: Any, schema_editor: Any) -> None:
    order = apps.get_model("orders", "Order")
    quote = apps.get_model("orders", "Quote")
    approved = quote.objects.filter(pk=OuterRef("approved_quote_id"))
    order.objects.filter(approved_quote__isnull=False).update(
        approved_due_now=Subquery(approved.values("due_now")[:1]),
        approved_per_month=Subquery(approved.values("per_month")[:1]),
    )


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0019_spend_tally"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="order",
            name="approved_due_now",
            field=models.DecimalField(
                blank=True, decimal_places=2, editable=False, max_digits=12, null=True
            ),
        ),
        migrations.AddField(
            model_name="order",
            name="approved_per_month",
            field=models.DecimalField(
                blank=True, decimal_places=2, editable=False, max_digits=12, null=True
            ),
        ),
        migrations.RunPython(prices_copy, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="order",
            index=models.Index(
                models.F("workspace"),
                models.OrderBy(models.F("approved_due_now"), nulls_last=True),
                models.OrderBy(models.F("id"), descending=True),
                name="order_ws_due_asc",
            ),
        ),
        migrations.AddIndex(
            model_name="order",
            index=models.Index(
                models.F("workspace"),
                models.OrderBy(
                    models.F("approved_due_now"), descending=True, nulls_last=True
                ),
                models.OrderBy(models.F("id"), descending=True),
                name="order_ws_due_desc",
            ),
        ),
        migrations.AddIndex(
            model_name="order",
            index=models.Index(
                models.F("workspace"),
                models.OrderBy(models.F("approved_per_month"), nulls_last=True),
                models.OrderBy(models.F("id"), descending=True),
                name="order_ws_month_asc",
            ),
        ),
        migrations.AddIndex(
            model_name="order",
            index=models.Index(
                models.F("workspace"),
                models.OrderBy(
                    models.F("approved_per_month"), descending=True, nulls_last=True
                ),
                models.OrderBy(models.F("id"), descending=True),
                name="order_ws_month_desc",
            ),
        ),
        migrations.AddIndex(
            model_name="order",
            index=models.Index(fields=["approved_due_now", "id"], name="order_due_id"),
        ),
        migrations.AddIndex(
            model_name="order",
            index=models.Index(
                fields=["approved_per_month", "id"], name="order_month_id"
            ),
        ),
    ]
