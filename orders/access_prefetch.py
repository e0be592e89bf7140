"""Reads the signed-in user together with the workspace access check: one query, not two.

Every workspace request needs the session's user (Django's `AuthenticationMiddleware`) and
that user's membership of the workspace in the URL (`access.workspace_view`). After an idle
moment each round trip to PostgreSQL costs 0.4-0.6 ms on the benchmark machine, a visible
share of the quote request the builder sends on every edit (docs/performance.md, "Quote
overhead"). Placed before `LoginRequiredMiddleware`, the first to look at `request.user`,
this middleware reads both in one row for the views `workspace_view` marks and offers the
user to the log-in backend.

Nothing is trusted because it was read here: the backend still applies `is_active`, Django
still checks the session hash, and `workspace_view` uses the membership only when it belongs
to the user Django accepted. A session this cannot use (another backend, no user, no
membership) falls back to Django's own reads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth import BACKEND_SESSION_KEY, SESSION_KEY
from django.http import HttpRequest, HttpResponse

from orders.access import READ_AHEAD, WORKSPACE_ACCESS, ReadAhead, read_access_with_user
from orders.user_backend import BACKEND_PATH, offered_user


class AccessPrefetchMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # The offer lasts for this request only, however it ends.
        token = offered_user.set(None)
        try:
            return self.get_response(request)
        finally:
            offered_user.reset(token)

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., Any],
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> None:
        with_key = getattr(view_func, WORKSPACE_ACCESS, None)
        slug = view_kwargs.get("slug")
        if with_key is None or slug is None:
            return
        session = request.session
        if session.get(BACKEND_SESSION_KEY) != BACKEND_PATH:
            return
        try:
            user_id = int(session[SESSION_KEY])
        except (KeyError, TypeError, ValueError):
            return
        found = read_access_with_user(user_id, str(slug), with_key=with_key)
        if found is None:
            return
        membership, user = found
        offered_user.set(user)
        setattr(request, READ_AHEAD, ReadAhead(str(slug), with_key, membership))
