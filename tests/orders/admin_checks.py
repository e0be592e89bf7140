"""What the admin list tests share."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import connection
from django.test import Client, RequestFactory
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


def what_staff_may_do(rf: RequestFactory, user: Any, model: Any) -> dict[str, bool]:
    """A superuser's permissions on `model`'s admin page, bulk delete included."""
    request = rf.get("/")
    request.user = user
    model_admin = admin.site._registry[model]
    return {
        "view": model_admin.has_view_permission(request),
        "add": model_admin.has_add_permission(request),
        "change": model_admin.has_change_permission(request),
        "delete": model_admin.has_delete_permission(request),
        "delete_selected": "delete_selected" in model_admin.get_actions(request),
    }


VIEW_ONLY = {
    "view": True,
    "add": False,
    "change": False,
    "delete": False,
    "delete_selected": False,
}
