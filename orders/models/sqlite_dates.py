"""The distinct years, months or days of a datetime column, quickly on SQLite.

Django truncates datetimes on SQLite with a Python function it registers with the database,
called once per row: the admin order list's date links (`date_hierarchy`) cost 30-50 ms over
10,000 orders that way, a third of the page (docs/performance.md). SQLite stores a datetime
as text in UTC ("2026-12-03 08:15:00.000000"), so with UTC as the portal's time zone the year,
month or day is that text's prefix, which SQLite takes natively. Anywhere else (PostgreSQL,
another time zone, hours and finer) Django's own `datetimes` answers.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.db import connections, models
from django.db.models.functions import Cast, Substr
from django.utils import timezone

_PREFIX_WIDTH = {"year": 4, "month": 7, "day": 10}


def prefix_datetimes(
    queryset: models.QuerySet[Any, Any], field_name: str, kind: str, order: str
) -> list[datetime] | None:
    """`queryset.datetimes(field_name, kind, order)` by text prefix, or None where that
    does not give Django's answer."""
    width = _PREFIX_WIDTH.get(kind)
    if (
        width is None
        or connections[queryset.db].vendor != "sqlite"
        or timezone.get_current_timezone_name() != "UTC"
    ):
        return None
    prefixes = (
        queryset.filter(**{f"{field_name}__isnull": False})
        .annotate(_date_prefix=Substr(Cast(field_name, models.CharField()), 1, width))
        .order_by()
        .values_list("_date_prefix", flat=True)
        .distinct()
    )
    found = sorted(_parsed(prefix) for prefix in prefixes)
    return found[::-1] if order == "DESC" else found


def _parsed(prefix: str) -> datetime:
    year, month, day = (prefix.split("-") + ["1", "1"])[:3]
    return datetime(int(year), int(month), int(day), tzinfo=UTC)
