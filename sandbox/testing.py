"""Calling the sandbox in-process from tests, through httpx like the portal's client.

A bare `httpx.WSGITransport(app=get_wsgi_application())` works on SQLite but breaks on
PostgreSQL: Django's request_started/request_finished signals close the database connection
at the end of each request, and with it the test's open transaction. Django's own test client
avoids that by unhooking `close_old_connections` around each request; this does the same.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import httpx
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections

StartResponse = Callable[..., Any]


class _KeepConnectionsOpen:
    def __init__(self) -> None:
        self.handler = WSGIHandler()

    def __call__(
        self, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        request_started.disconnect(close_old_connections)
        request_finished.disconnect(close_old_connections)
        try:
            response = self.handler(environ, start_response)
            body = list(response)
            # close() sends request_finished; it must run while the hook is unplugged.
            response.close()
            return body
        finally:
            request_started.connect(close_old_connections)
            request_finished.connect(close_old_connections)


def in_process_transport() -> httpx.WSGITransport:
    """A transport for `httpx.Client(transport=..., base_url="http://testserver/sandbox/api/v2")`."""
    return httpx.WSGITransport(app=_KeepConnectionsOpen())
