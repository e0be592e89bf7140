"""Servers for the benchmarks. The deployed shape on loopback (load, quote):
the portal under docker-compose's `web` command and the sandbox standing in for Instantly in a
gunicorn of its own (the remote is another service, and the portal's workers must not wait on
themselves). Both run as deployed: DJANGO_DEBUG off, behind a proxy that ended TLS (clients
send X-Forwarded-Proto), static files collected, database connections kept (.env.example).
"""

from __future__ import annotations

import contextlib
import os
import shlex
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote

import httpx

ROOT = Path(__file__).resolve().parent.parent
STARTUP_SECONDS = 60
# The portal's cookies with DJANGO_DEBUG off (dfyportal/settings.py).
SESSION_COOKIE = "__Secure-sessionid"
CSRF_COOKIE = "__Secure-csrftoken"


def server_env() -> dict[str, str]:
    """Both servers' environment: the scratch database and this run's Redis, as deployed."""
    from django.conf import settings

    return dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="dfyportal.settings",
        DJANGO_DEBUG="false",
        # This process's secrets: its sessions and its encrypted Instantly key must be read.
        DJANGO_SECRET_KEY=settings.SECRET_KEY,
        DFY_ENCRYPTION_KEYS=",".join(settings.DFY_ENCRYPTION_KEYS),
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        DJANGO_BEHIND_PROXY="true",
        DJANGO_CONN_MAX_AGE="60",
        DJANGO_LOG_LEVEL="WARNING",
        DFY_INSTANTLY_LOG_LEVEL="WARNING",
        DFY_VAR_DIR=str(settings.VAR_DIR),
        DATABASE_URL=database_url(),
    )


def database_url() -> str:
    from django.db import connection

    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    password = f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else ""
    return (
        f"postgres://{quote(db['USER'], safe='')}{password}"
        f"@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )


def collect_static(env: dict[str, str]) -> None:
    """As the image's build does: with DJANGO_DEBUG off, pages name the collected files."""
    # Without brotli, as in the image (requirements.lock): locust brings it into the dev venv,
    # and whitenoise would then spend seconds writing .br copies that nothing here asks for.
    collect = (
        "import sys; sys.modules['brotli'] = None; "
        "from django.core.management import execute_from_command_line; "
        "execute_from_command_line(['manage.py', 'collectstatic', '--noinput', '-v', '0'])"
    )
    subprocess.run(  # noqa: S603 (our interpreter)
        [sys.executable, "-c", collect],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=STARTUP_SECONDS,
    )


def portal_command() -> list[str]:
    """docker-compose's `web` command, bound to a free loopback port instead of 0.0.0.0:8000."""
    import yaml

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    program, *args = shlex.split(compose["services"]["web"]["command"])
    if program != "gunicorn" or "--bind" not in args:
        raise RuntimeError(f"docker-compose's web runs {program} {args}: not gunicorn")
    at = args.index("--bind")
    del args[at : at + 2]  # gunicorn adds up --bind options rather than replacing them
    return [sys.executable, "-m", "gunicorn", *args]


def sandbox_command() -> list[str]:
    # Threads, so that its latency never queues the portal's calls behind each other.
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "dfyportal.wsgi:application",
        "--workers",
        "1",
        "--threads",
        "8",
    ]


@contextlib.contextmanager
def server(command: list[str], env: dict[str, str], log: Path) -> Iterator[str]:
    """`command` serving on a free loopback port until the block ends; yields its base URL."""
    port = free_port()
    with log.open("w") as out:
        process = subprocess.Popen(  # noqa: S603 (our interpreter and gunicorn)
            [*command, "--bind", f"127.0.0.1:{port}", "--error-logfile", "-"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_until_serving(process, base, log)
            yield base
        finally:
            process.terminate()  # gunicorn's graceful stop
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until_serving(process: subprocess.Popen[Any], base: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{base} exited at start: {tail(log)}")
        with contextlib.suppress(httpx.HTTPError):
            answer = httpx.get(
                f"{base}/login/", headers={"X-Forwarded-Proto": "https"}, timeout=5
            )
            if answer.status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{base} did not serve within {STARTUP_SECONDS} s: {tail(log)}")


def tail(log: Path, lines: int = 20) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def serve_in_process() -> tuple[Any, str]:
    """The portal (and its sandbox) from this process on a threaded development server, for
    the benchmarks that drive its internals while it serves (bench/check.py stops a worker
    halfway). Returns the server, to shut down, and its base URL."""
    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
    from django.core.wsgi import get_wsgi_application

    class Quiet(WSGIRequestHandler):
        def setup(self) -> None:
            super().setup()
            # The development server writes headers and body separately; without this, Nagle
            # plus delayed ACKs add ~40 ms per response, which production servers do not.
            # (django-stubs type `connection` as the request; socketserver sets the socket.)
            sock = cast(socket.socket, self.connection)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadedWSGIServer(("127.0.0.1", 0), Quiet, allow_reuse_address=False)
    server.set_app(get_wsgi_application())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def sandbox_key_save(*, workspace: Any, secret: str, sandbox: str, label: str) -> None:
    """Give `workspace` the sandbox key `secret`, aimed at the sandbox served at `sandbox`."""
    from orders import instantly_keys

    instantly_keys.instantly_key_save(
        workspace=workspace,
        by=None,
        secret=secret,
        label=label,
        base_url=f"{sandbox}/sandbox/api/v2",
    )
