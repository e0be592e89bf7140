"""Fixed-window request counters in the database, shared by every process that serves the sandbox.

One INSERT ... ON CONFLICT DO UPDATE ... RETURNING per request counts it in all its windows at
once (SQLite >= 3.35 and PostgreSQL both support it). Windows are aligned to the clock, so "30
per minute" means per calendar minute; a burst across a minute boundary can pass up to twice
the limit, which is the usual fixed-window trade-off and cheap enough to run on every request.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from typing import Any

from django.db import connection

from sandbox.models import RateCounter, SandboxWorkspace
from sandbox.rules import RateLimit


def rate_limit_hit(
    *, workspace_id: uuid.UUID, limits: Sequence[RateLimit], now: float
) -> int | None:
    """Count one request against every limit. Returns None when all are respected, else the
    seconds until every exceeded window has ended (for Retry-After). Refused requests count
    too, so a client that keeps hammering stays refused until the window turns."""
    ws_value = SandboxWorkspace._meta.get_field("id").get_db_prep_value(
        workspace_id, connection
    )
    windows = {}
    params: list[Any] = []
    for limit in limits:
        slot = int(now // limit.seconds)
        expires_at = (slot + 1) * limit.seconds
        windows[limit.bucket] = (limit, expires_at)
        params += [ws_value, limit.bucket, slot, expires_at]
    quote = connection.ops.quote_name
    table, count = quote(RateCounter._meta.db_table), quote("count")
    values = ", ".join(["(%s, %s, %s, %s, 1)"] * len(limits))
    sql = (
        f"INSERT INTO {table} (workspace_id, bucket, slot, expires_at, {count}) VALUES {values} "  # noqa: S608 - only placeholders are interpolated
        f"ON CONFLICT (workspace_id, bucket, slot) DO UPDATE SET {count} = {table}.{count} + 1 "
        f"RETURNING bucket, {count}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        counts = dict(cursor.fetchall())
    if any(
        count == 1 and windows[bucket][0].seconds >= 60
        for bucket, count in counts.items()
    ):
        # A new minute window: a good moment to drop this workspace's finished windows.
        RateCounter.objects.filter(
            workspace_id=workspace_id, expires_at__lte=int(now)
        ).delete()
    waits = [
        math.ceil(expires_at - now)
        for bucket, (limit, expires_at) in windows.items()
        if counts.get(bucket, 0) > limit.limit
    ]
    return max(1, max(waits)) if waits else None
