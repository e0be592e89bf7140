"""Task messages caught before they reach a broker, for tests without a worker.

Product code sends tasks by name (orders/enqueue.py); tests may still call a task's `delay`.
Both end in the Celery app's `send_task`, which `intercept` replaces for one
test: a message for one of the given task names goes to the handler, any other goes on as
before. Never eager mode: the handler decides whether the task runs (a direct call of the task
function) or is only recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

import pytest

Handler = Callable[[str, dict[str, Any]], None]


def intercept(
    monkeypatch: pytest.MonkeyPatch, names: Collection[str], handle: Handler
) -> None:
    """Send messages for `names` to `handle(name, kwargs)` instead of the broker. A later
    interception takes its names first, then passes the rest on to the earlier one."""
    from dfyportal.celery import app

    passed_on = app.send_task
    wanted = frozenset(names)

    def send_task(
        name: str,
        args: Any = None,
        kwargs: dict[str, Any] | None = None,
        *more: Any,
        **options: Any,
    ) -> Any:
        if name not in wanted:
            return passed_on(name, args, kwargs, *more, **options)
        assert not args, f"{name} is sent with keyword arguments only"
        handle(name, dict(kwargs or {}))
        return None

    monkeypatch.setattr(app, "send_task", send_task)


def recorded(monkeypatch: pytest.MonkeyPatch, name: str) -> list[dict[str, Any]]:
    """The keyword arguments of every `name` message sent from now on, in order, recorded
    instead of sent (nothing runs them)."""
    sent: list[dict[str, Any]] = []
    intercept(monkeypatch, [name], lambda _name, kwargs: sent.append(kwargs))
    return sent
