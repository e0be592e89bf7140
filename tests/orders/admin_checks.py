"""What the admin list tests share."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext


def list_queries_grow(
    client: Client,
    url: str,
    model: Any,
    monkeypatch: Any,
    sizes: tuple[int, int] = (2, 6),
) -> tuple[int, int]:
    """The queries of `model`'s admin list at two page sizes (after one warm-up request for
    the session and content types): equal when the list makes no query per row."""
    model_admin = admin.site._registry[model]

    def count(per_page: int) -> int:
        monkeypatch.setattr(model_admin, "list_per_page", per_page)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    count(sizes[0])
    return count(sizes[0]), count(sizes[1])
