"""The log-in backend: Django's `ModelBackend`, with the signed-in user read by a query
compiled once per process.

Django reads the session's user on every request; building that query costs about a third
of a millisecond of Python, a share of the quote request the builder sends on every edit
(docs/performance.md, "Quote overhead"). Everything else (passwords, permissions, the
`is_active` check, the session hash Django verifies after this) is `ModelBackend`'s own.

On workspace pages the user has usually been read already, in the access check's row
(`access_prefetch`): the backend takes that copy when it is the session's user, and still
applies `is_active` to it.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import User
from django.db.models import QuerySet

from orders.compiled_queries import CompiledValues, concrete_attnames, from_row


def _build(user_id: int) -> QuerySet[Any, Any]:
    model = get_user_model()
    return model._default_manager.filter(pk=user_id).values_list(
        *concrete_attnames(model)
    )


_USER = CompiledValues(_build, (int,))

# The user `access_prefetch` read for the current request, if any.
offered_user: ContextVar[User | None] = ContextVar("offered_user", default=None)


class ModelBackendUserReadOnce(ModelBackend):
    def get_user(self, user_id: Any) -> User | None:
        try:
            pk = int(user_id)
        except (TypeError, ValueError):
            return None
        user = offered_user.get()
        if user is None or user.pk != pk:
            rows = _USER.rows(pk)
            if not rows:
                return None
            user = from_row(get_user_model(), rows[0])
        return user if self.user_can_authenticate(user) else None


BACKEND_PATH = f"{__name__}.{ModelBackendUserReadOnce.__qualname__}"
