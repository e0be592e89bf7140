"""Imported by the Celery workers that tests/integration/test_durable_delivery.py starts
(`celery worker --include tests.integration.durable_worker`), before they connect to the broker.
Each knob comes from the environment and is off unless set, so the worker is otherwise the
production one.

- DFY_TEST_WEBHOOK_RECEIVER=127.0.0.1:PORT: webhooks still go through every check of
  orders/webhooks.py; only the name resolves to a public address (a stub), and the connection
  to that address is made to the test's receiver on the loopback instead.
- DFY_TEST_EMAIL_DIR: Django's file-based mail backend writes there, for counting emails
  across processes.
- DFY_TEST_RESTORE_AFTER_SECONDS: time compressed for a worker started "later": its broker
  connection takes back messages unacknowledged for this long (the visibility timeout, two
  hours in production) and treats an attempt this old as dead (notifications' in-flight
  window). Only ever set for the worker that replaces a killed one.
"""

from __future__ import annotations

import os

import httpx
from django.conf import settings

from dfyportal.celery import app
from orders import notifications

PUBLIC_ADDRESS = "93.184.215.14"  # any global address: the transport never dials it


class LoopbackTransport(httpx.BaseTransport):
    """Sends what the portal would send to the checked public address to the receiver."""

    def __init__(self, receiver: str) -> None:
        self.receiver = receiver
        self.inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        assert request.url.host == PUBLIC_ADDRESS, request.url
        redirected = httpx.Request(
            request.method,
            request.url.copy_with(scheme="http", host="127.0.0.1", port=self.port()),
            headers=request.headers,
            content=request.content,
            extensions={"timeout": request.extensions.get("timeout", {})},
        )
        return self.inner.handle_request(redirected)

    def port(self) -> int:
        return int(self.receiver.rsplit(":", 1)[1])


if receiver := os.environ.get("DFY_TEST_WEBHOOK_RECEIVER"):
    notifications.webhook_resolver = lambda host, port: [PUBLIC_ADDRESS]
    notifications.webhook_transport = LoopbackTransport(receiver)

if email_dir := os.environ.get("DFY_TEST_EMAIL_DIR"):
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = email_dir

if restore_after := os.environ.get("DFY_TEST_RESTORE_AFTER_SECONDS"):
    seconds = int(restore_after)
    app.conf.broker_transport_options = {
        **(app.conf.broker_transport_options or {}),
        "visibility_timeout": seconds,
        # Look for abandoned messages every second instead of every 100 s.
        "unacked_restore_interval": 1,
        "unacked_restore_throttle": 1,
    }
    notifications.IN_FLIGHT_SECONDS = seconds  # type: ignore[misc]
