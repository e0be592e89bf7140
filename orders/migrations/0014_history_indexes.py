# The order history and the admin's order list on a big workspace (issue 14: 10,000 orders /
# 200,000 mailboxes): indexes for their sorts, people and provider filters and searches.
#
# The search indexes are trigram indexes over UPPER(column), the expression Django's
# icontains / istartswith / iexact compare on PostgreSQL, so "%acme%" and "acme%" and an exact
# domain all read the index instead of every row. They exist on PostgreSQL only (pg_trgm), so
# they are created by SQL behind a vendor check and stay out of the models' state; on SQLite
# those searches read every title or domain, as before.

from __future__ import annotations

from typing import Any

from django.db import migrations, models

# (index name, table, column): the columns the history and the admin search by "contains".
TRIGRAM_INDEXES = [
    ("order_title_trgm", "orders_order", "title"),
    ("orderitem_domain_trgm", "orders_orderitem", "domain"),
]


def trigram_indexes_create(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    # pg_trgm is a trusted extension: the database's owner may create it.
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, table, column in TRIGRAM_INDEXES:
        # fastupdate off: new rows go straight into the index. With it on they wait in a
        # pending list, read in full by every search and emptied only by vacuum, and the
        # planner, seeing that list, turns to scanning the table after any bulk insert.
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON {table}"
            f" USING gin ((UPPER({column}::text)) gin_trgm_ops)"
            " WITH (fastupdate = off)"
        )


def trigram_indexes_drop(apps: Any, schema_editor: Any) -> None:
    """The indexes only: the extension may serve others, and costs nothing unused."""
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _table, _column in TRIGRAM_INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("orders", "0013_cancellation_run")]

    operations = [
        migrations.RemoveIndex(model_name="order", name="order_ws_created"),
        migrations.AddIndex(
            model_name="order",
            index=models.Index(
                fields=["workspace", "-created_at", "-id"], name="order_ws_created_id"
            ),
        ),
        migrations.AddIndex(
            model_name="order",
            index=models.Index(
                fields=["workspace", "requester", "created_at"],
                name="order_ws_requester",
            ),
        ),
        migrations.AddIndex(
            model_name="order",
            index=models.Index(
                fields=["workspace", "approver", "created_at"], name="order_ws_approver"
            ),
        ),
        migrations.AddIndex(
            model_name="order",
            index=models.Index(fields=["created_at"], name="order_created"),
        ),
        migrations.AddIndex(
            model_name="orderitem",
            index=models.Index(
                fields=["provider", "order"], name="orderitem_provider_order"
            ),
        ),
        migrations.RunPython(trigram_indexes_create, trigram_indexes_drop),
    ]
