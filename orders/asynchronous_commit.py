"""Inserting a row whose loss in a database crash costs nothing, without waiting for the disk.

On every edit the builder stores Instantly's simulation of the draft as a quote. With
PostgreSQL's default synchronous commit, that INSERT returns only once its WAL record is
flushed to disk, and after the 100+ ms the portal waited on Instantly the flush is the slowest
part of the request's last round trip (about 1 ms of the 1.5 ms here; docs/performance.md,
"Quote overhead"). An asynchronous commit returns once the row is committed and visible; the
WAL writer flushes it within three `wal_writer_delay`s (0.6 s by default). PostgreSQL's
documentation is the authority: a crash of the database server inside that window can lose
the transaction, never corrupt or half-apply it. For a quote that is a re-askable simulation:
the next edit prices the draft again, and submitting checks that the newest stored quote priced
exactly the current draft (`drafts.order_submit`), so a lost quote is refused, not approved.
Any later synchronous commit (a submit, an approval) flushes the WAL up to its own record,
making an earlier quote durable with it.

Only a statement that is its own transaction commits asynchronously: inside an atomic block
`set_config(..., true)` would apply to the whole enclosing transaction, which may hold writes
that must be durable (placement records a drift re-quote inside its transaction), so there,
in a transaction opened by hand, and on other databases, the instance is saved as usual.
"""

from __future__ import annotations

import threading
from typing import Any

from django.db import connections
from django.db.models import Model

_sql: dict[type[Model], tuple[str, tuple[Any, ...]]] = {}
_lock = threading.Lock()


def insert_committing_asynchronously(instance: Model, using: str = "default") -> None:
    """Insert `instance` (a new row) as `save(force_insert=True)` would, its fields prepared by
    their own `pre_save` and `get_db_prep_save`; on PostgreSQL outside a transaction, with an
    asynchronous commit. Sends no model signals (the models this is used for have none)."""
    connection = connections[using]
    # Autocommit is off inside any atomic block and in a transaction opened by hand.
    if connection.vendor != "postgresql" or not connection.get_autocommit():
        instance.save(force_insert=True, using=using)
        return
    sql, fields = _insert_sql(type(instance), connection)
    params = [
        field.get_db_prep_save(field.pre_save(instance, True), connection)
        for field in fields
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        (pk,) = cursor.fetchone()
    instance.pk = pk
    instance._state.adding = False
    instance._state.db = using


def _insert_sql(model: type[Model], connection: Any) -> tuple[str, tuple[Any, ...]]:
    """The model's INSERT of every concrete column but its generated key, its values taken
    from a one-row SELECT that turns synchronous commit off for this transaction only (a
    reference from the SELECT is what makes PostgreSQL evaluate `set_config`)."""
    cached = _sql.get(model)
    if cached is not None:
        return cached
    with _lock:
        meta = model._meta
        pk = meta.pk
        fields = tuple(f for f in meta.concrete_fields if f is not pk)
        quote_name = connection.ops.quote_name
        columns = ", ".join(quote_name(f.column) for f in fields)
        values = ", ".join(["%s"] * len(fields))
        # Only the model's own table and column names, quoted, are written into the SQL.
        table = quote_name(meta.db_table)
        sql = (
            f"INSERT INTO {table} ({columns}) SELECT {values}"  # noqa: S608
            " FROM (SELECT set_config('synchronous_commit', 'off', true))"
            " AS asynchronous_commit"
            f" RETURNING {quote_name(pk.column)}"
        )
        _sql[model] = (sql, fields)
        return sql, fields
