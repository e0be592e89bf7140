"""The Celery command lines that `runstack` and the worker-backed tests share."""

from __future__ import annotations

import sys

from orders.processes import beat_command, celery_command, worker_command


def test_celery_runs_the_project_app_with_this_interpreter():
    assert celery_command("inspect", "ping") == [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "dfyportal",
        "inspect",
        "ping",
    ]


def test_the_worker_is_one_quiet_worker_with_two_processes():
    assert worker_command()[5:] == [
        "worker",
        "-l",
        "info",
        "--concurrency",
        "2",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]


def test_extra_worker_options_come_last():
    assert worker_command("-n", "faults@%h") == [*worker_command(), "-n", "faults@%h"]


def test_beat_keeps_its_schedule_where_it_is_told(tmp_path):
    schedule = tmp_path / "celerybeat-schedule"

    assert beat_command(schedule)[5:] == [
        "beat",
        "-l",
        "info",
        "--schedule",
        str(schedule),
    ]
