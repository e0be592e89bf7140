"""Issue #10 item 17: the `make run` console stays calm (an ordinary 403 or 404 is one log line,
a 500 keeps its traceback; sandbox traffic does not flood the access log) and the README's curl
example works as written from the project directory."""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.urls import reverse

from dfyportal.logfilters import ClientErrorsWithoutTraceback, QuietSandboxAccess

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.django_db
def test_a_forbidden_page_logs_one_line_without_traceback(operator_client, caplog):
    caplog.set_level(logging.INFO)

    response = operator_client.get(reverse("orders:settings", args=["acme"]))

    assert response.status_code == 403
    records = [r for r in caplog.records if r.name == "django.request"]
    assert len(records) == 1
    assert records[0].getMessage() == "Forbidden (Permission denied): /w/acme/settings/"
    assert records[0].exc_info is None
    assert "Traceback" not in caplog.text


def _record(name: str, status: int, message: str, *args: object) -> logging.LogRecord:
    try:
        raise ValueError("boom")
    except ValueError:
        exc_info = sys.exc_info()
    record = logging.LogRecord(
        name, logging.ERROR, __file__, 1, message, args, exc_info
    )
    record.status_code = status
    return record


def test_a_server_error_keeps_its_traceback():
    record = _record("django.request", 500, "Internal Server Error: /x/")

    assert ClientErrorsWithoutTraceback().filter(record)
    assert record.exc_info is not None


def test_only_successful_sandbox_calls_leave_the_access_log():
    quiet = QuietSandboxAccess()

    def kept(line: str, status: int) -> bool:
        return quiet.filter(
            _record("django.server", status, '"%s" %s %s', line, status, 9)
        )

    assert not kept(
        "GET /sandbox/api/v2/dfy-email-account-orders?limit=100 HTTP/1.1", 200
    )
    assert kept("GET /sandbox/api/v2/dfy-email-account-orders HTTP/1.1", 401)
    assert kept("GET /w/demo/ HTTP/1.1", 200)


# --- The README's curl example --------------------------------------------------------------


def _readme_curl_block() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Trying the sandbox with curl", 1)[1]
    match = re.search(r"```sh\n(.*?)```", section, re.S)
    assert match is not None
    return match.group(1)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(port: int, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and server.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("the development server did not start")


def test_the_readme_curl_example_works_as_written(tmp_path):
    block = _readme_curl_block()
    assert "DJANGO_DEBUG=true .venv/bin/python manage.py sandbox_key" in block
    if not (ROOT / ".venv/bin/python").exists():
        pytest.skip("needs the project's .venv (make install)")
    # A fresh clone's shell: no DJANGO_DEBUG, no database or broker URL, its own var/.
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DJANGO_DEBUG", "DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"}
        and not key.startswith("PYTEST")
    }
    env["DFY_VAR_DIR"] = str(tmp_path / "var")
    port = _free_port()
    served = {
        **env,
        "DJANGO_DEBUG": "true",
        "PORT": str(port),
        "INSTANTLY_SANDBOX_BASE_URL": f"http://127.0.0.1:{port}/sandbox/api/v2",
    }
    python = str(ROOT / ".venv/bin/python")
    subprocess.run(
        [python, "manage.py", "migrate", "--verbosity", "0"],
        cwd=ROOT,
        env=served,
        check=True,
        timeout=180,
    )
    server = subprocess.Popen(  # noqa: S603 - fixed argv
        [python, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=served,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(port, server)
        script = block.replace("http://127.0.0.1:8000", f"http://127.0.0.1:{port}")
        result = subprocess.run(  # noqa: S603 - the README's own lines
            ["bash", "-euo", "pipefail", "-c", f"{script}\necho\necho KEY=$KEY"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        server.terminate()
        server.wait(timeout=20)

    assert result.returncode == 0, result.stderr
    body, _, key_line = result.stdout.rstrip().rpartition("\n")
    assert re.fullmatch(r"KEY=\S{20,}", key_line)
    answer = json.loads(body)
    assert answer["order_is_valid"] is True
    assert answer["order_placed"] is False
    assert answer["number_of_accounts_ordered"] == 1
