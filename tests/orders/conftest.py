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


@pytest.fixture
def cancellable(  # type: ignore[no-untyped-def]
    workspace, operator, lead, remote, monkeypatch, django_capture_on_commit_callbacks
):
    """Placed at the in-process sandbox: acme-mail.com with jane and john, tryacme.org with
    jane, both Google ($5.00 a mailbox a month, $15.00 a domain a year:
    tests/orders/test_bill.py). The cancellation tests start from it."""
    from orders import workflow
    from orders.models import OrderStatus
    from tests.integration.support import JANE, JOHN, TaskQueue, submitted_order

    queue = TaskQueue(monkeypatch)
    order = submitted_order(
        workspace,
        operator,
        items=[("acme-mail.com", 1, [JANE, JOHN]), ("tryacme.org", 1, [JANE])],
    )
    with django_capture_on_commit_callbacks(execute=True):
        workflow.order_approve(order=order, by=lead)
    queue.drain(django_capture_on_commit_callbacks)
    order.refresh_from_db()
    assert order.status == OrderStatus.PLACED
    return order


@pytest.fixture
def ready(cancellable, workspace, remote):  # type: ignore[no-untyped-def]
    """The cancellable order delivered: every mailbox ready (the burn tests start from it)."""
    from orders import fulfilment, instantly_keys
    from orders.models import OrderStatus
    from sandbox.switches import switches_set

    switches_set(workspace=remote.sandbox, provisioning_delay_seconds=0)
    with instantly_keys.instantly_client_for(workspace=workspace) as client:
        fulfilment.fulfilment_poll_workspace(workspace=workspace, client=client)
    cancellable.refresh_from_db()
    assert cancellable.status == OrderStatus.READY
    return cancellable


@pytest.fixture
def staff_client(client, admin_user):  # type: ignore[no-untyped-def]
    client.force_login(admin_user)
    return client
