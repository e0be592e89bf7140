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


# The history's sorts by price, both ways, unpriced orders last, newest first among equals
# (history.sort_ordering): on PostgreSQL only, by SQL behind a vendor check and out of the
# models' state, as the trigram indexes of 0014. SQLite refuses NULLS LAST in an index; the
# embedded default sorts its few orders without one.
PRICE_SORT_INDEXES = [
    (f"order_ws_{short}_{way}", column, way)
    for column, short in (("approved_due_now", "due"), ("approved_per_month", "month"))
    for way in ("asc", "desc")
]


def price_sort_indexes_create(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, column, way in PRICE_SORT_INDEXES:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON orders_order"
            f" (workspace_id, {column} {way.upper()} NULLS LAST, id DESC)"
        )


def price_sort_indexes_drop(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _column, _way in PRICE_SORT_INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


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
        migrations.RunPython(price_sort_indexes_create, price_sort_indexes_drop),
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
