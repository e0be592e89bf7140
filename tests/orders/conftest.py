from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _notifications_delivered_on_commit(monkeypatch):  # type: ignore[no-untyped-def]
    """Tests about orders read the emails in mail.outbox: when a notification task is sent
    (on commit), call the task function right there instead of going through the broker.
    Never eager mode: tests about queueing record the messages themselves (test_webhooks.py),
    and the integration tests use a real worker."""
    from orders import tasks
    from tests.task_capture import intercept

    task = tasks.deliver_notification_task
    intercept(monkeypatch, [task.name], lambda _name, kwargs: task(**kwargs))


@pytest.fixture
def queue(monkeypatch):  # type: ignore[no-untyped-def]
    """Task messages recorded instead of sent; `queue.drain(...)` runs them as a worker would
    (tests/integration/support.py)."""
    from tests.integration.support import TaskQueue

    return TaskQueue(monkeypatch)
