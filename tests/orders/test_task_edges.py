"""Tasks whose row is gone, or whose workspace has no Instantly key, finish quietly: raising
would only retry them until they give up, and a lost refresh must not leave a panel spinning.
The task functions are called directly (in this process), never in eager mode."""

from __future__ import annotations

import logging

import pytest

from orders import mirror, tasks

pytestmark = pytest.mark.django_db

GONE = 987_654


@pytest.mark.parametrize(
    ("task", "kwargs"),
    [
        (tasks.check_domains_task, {"check_id": GONE}),
        (tasks.refresh_remote_mirror_task, {"workspace_id": GONE}),
        (tasks.poll_workspace_task, {"workspace_id": GONE}),
        (tasks.place_order_task, {"order_id": GONE}),
    ],
)
def test_a_task_for_a_deleted_row_does_nothing(task, kwargs) -> None:
    assert task(**kwargs) is None


def test_place_order_for_a_deleted_order_says_so_in_the_log(caplog) -> None:
    with caplog.at_level(logging.INFO, logger="orders.tasks"):
        tasks.place_order_task(order_id=GONE)
    assert f"place_order: order {GONE} is gone" in caplog.text


def test_a_refresh_without_a_key_stops_the_panel_waiting(workspace, caplog) -> None:
    mirror.refresh_requested(workspace=workspace)
    assert mirror.refresh_state(workspace=workspace).running

    with caplog.at_level(logging.INFO, logger="orders.tasks"):
        tasks.refresh_remote_mirror_task(workspace_id=workspace.pk)

    state = mirror.refresh_state(workspace=workspace)
    assert not state.running
    assert state.done_at is not None
    assert f"workspace {workspace.slug} has no key" in caplog.text
