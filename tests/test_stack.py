"""The embedded stack as `make run` starts it: real web, worker and beat processes on SQLite and
the filesystem broker, driven over HTTP."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from orders.management.commands.seed_demo import DEMO_PASSWORD

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.stack, pytest.mark.timeout(240)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def stack(tmp_path):
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"}
    }
    env.update(
        DJANGO_DEBUG="true",
        DFY_VAR_DIR=str(tmp_path / "var"),
        PORT=str(port),
        DFY_POLL_INTERVAL="5",
    )
    log = (tmp_path / "stack.log").open("w+")
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "runstack", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(f"{base}/login/", timeout=2).status_code == 200
        except httpx.HTTPError:
            return proc.poll() is not None and pytest.fail(Path(log.name).read_text())

    try:
        wait_for(up, 90, "the web process")
        yield base, proc, Path(log.name)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def login(base: str, username: str) -> httpx.Client:
    session = httpx.Client(base_url=base, timeout=10, follow_redirects=True)
    page = session.get("/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    response = session.post(
        "/login/",
        data={
            "username": username,
            "password": DEMO_PASSWORD,
            "csrfmiddlewaretoken": token,
        },
    )
    assert response.status_code == 200
    assert f"Log out {username}" in response.text
    return session


def csrf_of(html: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


def test_make_run_stack_serves_logs_in_and_runs_a_worker_task(stack):
    base, proc, log_path = stack

    operator = login(base, "operator")
    dashboard = operator.get("/w/demo/")
    admin = login(base, "admin")
    settings_page = admin.get("/w/demo/settings/")
    admin.post(
        "/w/demo/settings/",
        data={"verify_key": "1", "csrfmiddlewaretoken": csrf_of(settings_page.text)},
    )

    def key_verified() -> bool:
        return "Working" in admin.get("/w/demo/settings/").text

    assert dashboard.status_code == 200
    assert "Demo" in dashboard.text
    assert "You are operator here" in dashboard.text
    wait_for(key_verified, 60, "the worker to verify the sandbox key")
    output = log_path.read_text()
    assert "DFY Portal is starting on" in output
    assert "orders.verify_key" in output  # the worker received and ran the task

    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=30)

    assert "Stopped web, worker and beat." in log_path.read_text()
    assert "beat: Starting" in log_path.read_text()
