"""orders/enqueue.py: every function sends its task by name, with arguments the task takes,
only once the transaction commits; and no product module imports
orders/tasks.py."""

from __future__ import annotations

import ast
import inspect
import typing
from pathlib import Path

import pytest
from django.db import transaction

from dfyportal.celery import app
from orders import enqueue
from tests import task_capture

pytestmark = pytest.mark.django_db

ORDERS = Path(enqueue.__file__).parent
SENDERS = [
    function
    for name, function in inspect.getmembers(enqueue, inspect.isfunction)
    if not name.startswith("_") and function.__module__ == enqueue.__name__
]


def sample_kwargs(function: typing.Callable[..., None]) -> dict[str, object]:
    hints = typing.get_type_hints(function)
    samples = {int: 7, str: "x"}
    return {
        name: samples[hints[name]] for name in inspect.signature(function).parameters
    }


def capture_all(monkeypatch) -> list[tuple[str, dict[str, object]]]:  # type: ignore[no-untyped-def]
    app.loader.import_default_modules()
    names = [name for name in app.tasks if name.startswith("orders.")]
    sent: list[tuple[str, dict[str, object]]] = []
    task_capture.intercept(
        monkeypatch, names, lambda name, kwargs: sent.append((name, kwargs))
    )
    return sent


def test_every_background_job_product_code_starts_has_a_sender() -> None:
    assert {f.__name__ for f in SENDERS} == {
        "verify_key",
        "verify_pending_key",
        "check_domains",
        "refresh_remote_mirror",
        "place_order",
        "reconcile_order",
        "reconcile_order_now",
        "poll_workspace",
        "poll_workspace_health",
        "cancel_mailboxes",
        "run_scheduled_cancellation",
        "deliver_notification",
    }


@pytest.mark.parametrize("sender", SENDERS, ids=lambda f: f.__name__)
def test_each_sender_names_a_registered_task_with_its_arguments(
    sender, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    sent = capture_all(monkeypatch)
    kwargs = sample_kwargs(sender)

    with django_capture_on_commit_callbacks(execute=True):
        sender(**kwargs)

    [(name, message)] = sent
    task = app.tasks[name]
    assert name == f"orders.{sender.__name__}"
    assert message == kwargs
    # The task's own signature takes exactly these keywords (what its worker will call).
    inspect.signature(task.run).bind(**message)
    assert set(inspect.signature(task.run).parameters) == set(message)


def test_nothing_is_sent_before_the_commit_nor_after_a_rollback(
    monkeypatch, django_capture_on_commit_callbacks
) -> None:
    sent = capture_all(monkeypatch)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        enqueue.verify_key(workspace_id=1)
        assert sent == []  # still inside the transaction
    assert len(callbacks) == 1
    assert sent == [("orders.verify_key", {"workspace_id": 1})]

    sent.clear()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        try:
            with transaction.atomic():
                enqueue.verify_key(workspace_id=2)
                raise RuntimeError("rolled back")
        except RuntimeError:
            pass
    assert callbacks == []
    assert sent == []


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_it_is_sent_at_once(monkeypatch) -> None:
    sent = capture_all(monkeypatch)

    enqueue.check_domains(check_id=3)

    assert sent == [("orders.check_domains", {"check_id": 3})]


def imports_tasks(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            names = {f"{node.module}.{alias.name}" for alias in node.names}
            names.add(str(node.module))
        else:
            continue
        if "orders.tasks" in names:
            return True
    return False


def test_no_product_module_imports_the_tasks() -> None:
    importers = {
        str(path.relative_to(ORDERS))
        for path in ORDERS.rglob("*.py")
        if "migrations" not in path.parts and imports_tasks(path)
    }

    assert importers == set()
