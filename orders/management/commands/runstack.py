"""Run web, Celery worker and Celery beat in the foreground; Ctrl-C stops all three."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from orders.management.commands.seed_demo import DEMO_PASSWORD, DEMO_USERS, STAFF_USER
from orders.processes import beat_command, worker_command


def _wait_for_port(
    host: str, port: int, proc: subprocess.Popen[bytes], timeout: float = 30
) -> None:
    target = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)  # noqa: S104
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with socket.create_connection((target, port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)


class Command(BaseCommand):
    help = "Migrate, seed demo data, then run web + worker + beat until interrupted."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--port", type=int, default=int(os.environ.get("PORT", "8000"))
        )
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument(
            "--no-seed", action="store_true", help="Skip the demo data."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        port: int = options["port"]
        call_command("migrate", interactive=False, verbosity=0)
        if not options["no_seed"]:
            call_command("seed_demo", verbosity=0)
        settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PORT": str(port), "PYTHONUNBUFFERED": "1"}
        # The fulfilment poll pages through every demo account each minute: one line per
        # request would bury everything else in this console (set it to INFO to see them).
        env.setdefault("DFY_INSTANTLY_LOG_LEVEL", "WARNING")
        commands = {
            "web": [
                sys.executable,
                "manage.py",
                "runserver",
                "--noreload",
                f"{options['host']}:{port}",
            ],
            "worker": worker_command(),
            "beat": beat_command(settings.CELERY_BEAT_SCHEDULE_FILENAME),
        }
        # Each child gets its own process group so that one Ctrl-C is handled here, once.
        procs: dict[str, subprocess.Popen[bytes]] = {}
        for name, cmd in commands.items():
            procs[name] = subprocess.Popen(  # noqa: S603 - fixed argv built above, no shell
                cmd, env=env, cwd=settings.BASE_DIR, start_new_session=True
            )
            if name == "web":
                # The worker's first task verifies the demo key against the sandbox, which
                # the web process serves: starting it earlier logged connection errors.
                _wait_for_port(options["host"], port, procs["web"])
        self._announce(options["host"], port)
        stopping = False

        def stop(signum: int, frame: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            while not stopping:
                dead = [name for name, proc in procs.items() if proc.poll() is not None]
                if dead:
                    self.stderr.write(
                        f"{', '.join(dead)} stopped; shutting the others down."
                    )
                    break
                time.sleep(0.3)
        finally:
            for proc in procs.values():
                if proc.poll() is None:
                    # The parent only: Celery then stops its pool children itself (a warm
                    # shutdown) instead of reporting each one killed as an error.
                    proc.terminate()
            deadline = time.monotonic() + 10
            for proc in procs.values():
                try:
                    proc.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
            self.stdout.write("Stopped web, worker and beat.")

    def _announce(self, host: str, port: int) -> None:
        shown_host = "127.0.0.1" if host in {"0.0.0.0", "::"} else host  # noqa: S104
        lines = [
            "",
            f"DFY Portal is starting on http://{shown_host}:{port}/",
            f"Demo logins (password {DEMO_PASSWORD!r}):",
            *[
                f"  {username:<9} {role.label} in workspace Demo"
                for username, role, _l, _s in DEMO_USERS
            ],
            f"  {STAFF_USER:<9} staff superuser (Django admin at /admin/)",
            "Press Ctrl-C to stop web, worker and beat.",
            "",
        ]
        self.stdout.write("\n".join(lines))
