from __future__ import annotations

import os

import pytest

from tests.factories import MembershipFactory, UserFactory, WorkspaceFactory


def require_service(name: str, available: bool, reason: str) -> None:
    """Skip with a clear reason when a service is missing; in CI a missing service fails."""
    if available:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{name} is required in CI: {reason}")
    pytest.skip(f"{name} not available: {reason}")


@pytest.fixture(autouse=True)
def django_db_serialized_rollback() -> None:
    """Every transactional test restores the migrated data (content types, seeded keywords)
    instead of letting its flush recreate content types under new ids, which breaks the next
    test that restores the serialized data (the integration tests do)."""


@pytest.fixture(autouse=True)
def _test_settings(settings):  # type: ignore[no-untyped-def]
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher"
    ]  # speed only
    settings.AXES_ENABLED = True


@pytest.fixture
def workspace():  # type: ignore[no-untyped-def]
    return WorkspaceFactory(name="Acme", slug="acme")


@pytest.fixture
def other_workspace():  # type: ignore[no-untyped-def]
    return WorkspaceFactory(name="Globex", slug="globex")


def _member(workspace, role, **kwargs):  # type: ignore[no-untyped-def]
    return MembershipFactory(workspace=workspace, role=role, **kwargs).user


@pytest.fixture
def operator(workspace):  # type: ignore[no-untyped-def]
    return _member(workspace, "operator", user=UserFactory(username="olivia"))


@pytest.fixture
def lead(workspace):  # type: ignore[no-untyped-def]
    from decimal import Decimal

    return _member(
        workspace,
        "lead",
        user=UserFactory(username="leo"),
        approval_limit=Decimal("500"),
    )


@pytest.fixture
def ws_admin(workspace):  # type: ignore[no-untyped-def]
    return _member(workspace, "admin", user=UserFactory(username="ada"))


@pytest.fixture
def operator_client(client, operator):  # type: ignore[no-untyped-def]
    client.force_login(operator)
    return client


class Remote:
    """The workspace's Instantly is the in-process sandbox: the portal's own client code path,
    only the transport differs. `sandbox` is the remote workspace (for switches and counts)."""

    def __init__(self, sandbox_workspace, key):  # type: ignore[no-untyped-def]
        self.sandbox = sandbox_workspace
        self.key = key

    def real_posts(self) -> int:
        from sandbox.models import real_order_posts

        return real_order_posts(self.sandbox)

    def requests(self, path_part: str = "") -> int:
        from sandbox.models import RequestLog

        return RequestLog.objects.filter(
            workspace=self.sandbox, path__contains=path_part
        ).count()


@pytest.fixture
def remote(workspace, monkeypatch):  # type: ignore[no-untyped-def]
    from orders import instantly_keys
    from orders.ratelimit import MemoryRateLimiter
    from sandbox.models import RestrictedKeyword
    from sandbox.rules import DEFAULT_RESTRICTED_KEYWORDS
    from sandbox.services import sandbox_workspace_create
    from sandbox.testing import in_process_transport

    RestrictedKeyword.objects.bulk_create(
        [RestrictedKeyword(keyword=k) for k in DEFAULT_RESTRICTED_KEYWORDS],
        ignore_conflicts=True,
    )
    sandbox_workspace, key = sandbox_workspace_create(
        name=f"remote of {workspace.slug}"
    )
    instantly_keys.instantly_key_save(
        workspace=workspace,
        by=None,
        secret=key,
        label="Sandbox",
        base_url="http://testserver/sandbox/api/v2",
    )
    limiter = MemoryRateLimiter()
    real_factory = instantly_keys.instantly_client_for

    def in_process(*, workspace, **overrides):  # type: ignore[no-untyped-def]
        overrides.setdefault("transport", in_process_transport())
        overrides.setdefault("limiter", limiter)
        overrides.setdefault("sleep", lambda seconds: None)
        return real_factory(workspace=workspace, **overrides)

    monkeypatch.setattr(instantly_keys, "instantly_client_for", in_process)
    return Remote(sandbox_workspace, key)


@pytest.fixture
def celery_worker_process(transactional_db, tmp_path):  # type: ignore[no-untyped-def]
    """A real Celery worker in its own process, on the same broker and test database as this
    test (Redis and PostgreSQL in CI; the filesystem broker and the SQLite test file otherwise).
    Tasks reach it through the normal `delay_on_commit` path: never eager mode."""
    import os
    import signal
    import subprocess
    import time

    from django.conf import settings
    from django.db import connection

    from orders.processes import worker_command

    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        database_url = f"sqlite:///{db['NAME']}"
    else:
        database_url = f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DJANGO_DEBUG": "true",
        "PYTHONUNBUFFERED": "1",
    }
    from dfyportal.celery import app

    # Messages left by earlier tests name rows of their own databases; never let them run here.
    app.control.purge()
    log_path = tmp_path / "worker.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            worker_command(),
            cwd=settings.BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 60
    while "ready." not in log_path.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"worker did not start:\n{log_path.read_text()}")
        time.sleep(0.2)
    proc.log_path = log_path
    yield proc
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture
def redis_url() -> str:
    """REDIS_URL, which must answer (CI's services; a run without it says why it skips)."""
    import redis

    url = os.environ.get("REDIS_URL", "")
    available, reason = False, "REDIS_URL is not set"
    if url:
        try:
            redis.Redis.from_url(url, socket_connect_timeout=2).ping()
            available = True
        except redis.RedisError as exc:
            reason = f"cannot reach REDIS_URL ({type(exc).__name__})"
    require_service("Redis", available, reason)
    return url
