"""The command lines of the portal's Celery processes, as `runstack` (`make run`) and the tests
that need a real worker start them, so both run the worker the same way.

docker-compose.yml writes its own (no Python there); keep its flags in step with these.
"""

from __future__ import annotations

import sys
from pathlib import Path


def celery_command(*args: str) -> list[str]:
    """`celery -A dfyportal <args>` with this interpreter, so the venv's Celery runs."""
    return [sys.executable, "-m", "celery", "-A", "dfyportal", *args]


def worker_command(*extra: str) -> list[str]:
    """A worker with two pool processes (enough to show concurrency, light on a laptop or a
    CI runner). Gossip, mingle and heartbeats only serve clusters of workers; without them a
    lone worker starts faster and stays quiet. `extra`: more options (a name, --include …)."""
    return celery_command(
        "worker",
        "-l",
        "info",
        "--concurrency",
        "2",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        *extra,
    )


def beat_command(schedule: Path | str) -> list[str]:
    """Beat, keeping its schedule state in `schedule` (settings.CELERY_BEAT_SCHEDULE_FILENAME)."""
    return celery_command("beat", "-l", "info", "--schedule", str(schedule))
