"""Background work survives restarts (docs/tasks.md): tasks are acknowledged only when they
have finished, the broker keeps its queue on disk, and every task is idempotent, so a worker
killed mid-task or a Redis restart loses nothing and doubles nothing.

The integration tests run real Celery workers against a Redis of their own, started on a free
port in a temporary directory with the persistence options of docker-compose.yml (the shared
Redis is never restarted), and PostgreSQL. A worker that replaces a killed one is started with
time compressed (tests/integration/durable_worker.py): it takes back messages left
unacknowledged for a second instead of the production two hours.
"""

from __future__ import annotations

import os
import select
import shlex
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import redis
import yaml
from django.conf import settings as django_settings
from django.db import connection, transaction

from dfyportal.celery import app
from orders import lifecycle, notifications, tasks, webhooks, workflow
from orders.models import DeliveryStatus, NotificationDelivery, Order, OrderStatus
from orders.processes import worker_command
from sandbox.models import real_order_posts
from sandbox.switches import switches_set
from tests.conftest import require_service
from tests.factories import OrderFactory
from tests.integration.support import live_sandbox_remote, submitted_order

ROOT = Path(__file__).resolve().parents[2]
QUEUE = "celery"  # the default queue: a Redis list of that name
UNACKED = (
    "unacked"  # kombu's hash of messages delivered to a worker but not acknowledged
)
INTEGRATION = (
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.timeout(180),
)


def integration(test: Callable[..., None]) -> Callable[..., None]:
    """The marks of a test with real workers, PostgreSQL and a private Redis."""
    for mark in INTEGRATION:
        test = mark(test)
    return test


# --- the configuration ----------------------------------------------------------------------


def longest_retry_delay(task, monkeypatch) -> int:  # type: ignore[no-untyped-def]
    """The longest countdown `task` may put on a retry of itself, whatever the settings."""
    if task.name == "orders.deliver_notification":
        # notifications.retry_delay, at its largest base and with the jitter at its top.
        import celery.utils.time

        monkeypatch.setattr(celery.utils.time.random, "randrange", lambda n: n - 1)
        monkeypatch.setattr(
            django_settings, "DFY_NOTIFICATION_RETRY_BASE_SECONDS", 10**9
        )
        return notifications.retry_delay(50)
    if getattr(task, "autoretry_for", ()):
        if getattr(task, "retry_backoff", False):
            # Celery's own default when the task does not set one (celery/app/autoretry.py).
            return int(getattr(task, "retry_backoff_max", 600))
        return int(task.default_retry_delay)
    return 0


def test_visibility_timeout_outlasts_every_task_and_its_longest_retry(monkeypatch):
    app.loader.import_default_modules()
    ours = [task for name, task in app.tasks.items() if name.startswith("orders.")]
    assert len(ours) >= 10
    longest_run = max(task.time_limit or app.conf.task_time_limit for task in ours)
    longest_wait = max(longest_retry_delay(task, monkeypatch) for task in ours)
    visibility = django_settings.DFY_BROKER_VISIBILITY_TIMEOUT_SECONDS
    if django_settings.REDIS_URL:
        assert app.conf.broker_transport_options["visibility_timeout"] == visibility

    assert longest_wait == 3600  # notifications' cap; longer than any other task's
    assert visibility > longest_run + longest_wait, (
        visibility,
        longest_run,
        longest_wait,
    )
    # A notification attempt younger than this may still be running somewhere; a redelivery
    # comes only after the visibility timeout, so it never mistakes a dead attempt for one.
    deliver = tasks.deliver_notification_task
    assert deliver.time_limit < notifications.IN_FLIGHT_SECONDS < visibility


def test_every_task_acknowledges_late_and_is_guarded():
    app.loader.import_default_modules()
    ours = {
        name: task for name, task in app.tasks.items() if name.startswith("orders.")
    }

    assert django_settings.CELERY_TASK_ACKS_LATE is True
    assert django_settings.CELERY_TASK_REJECT_ON_WORKER_LOST is True
    for name, task in ours.items():
        assert task.acks_late is True, name
        assert task.reject_on_worker_lost is True, name
        # Running twice must be harmless, and the docstring says what makes it so.
        assert "dempotent" in (task.__doc__ or ""), f"{name} does not say its guard"


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture
def services() -> None:
    require_service(
        "PostgreSQL",
        connection.vendor == "postgresql",
        "set DATABASE_URL=postgres://... (the workers share the test database)",
    )
    require_service(
        "Redis",
        bool(getattr(django_settings, "REDIS_URL", "")),
        "set REDIS_URL=redis://... (the cache the workers share)",
    )
    require_service(
        "redis-server",
        shutil.which("redis-server") is not None,
        "install Debian's redis-server: each test starts one of its own",
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(
    predicate: Callable[[], object],
    what: str,
    log: Path | None = None,
    timeout: float = 60,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    tail = log.read_text()[-4000:] if log is not None and log.exists() else ""
    raise AssertionError(f"timed out waiting for {what}\n{tail}")


def compose_redis_options() -> list[str]:
    """The persistence options production's Redis runs with (docker-compose.yml)."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    command = compose["services"]["redis"]["command"]
    argv = shlex.split(command) if isinstance(command, str) else list(command)
    assert argv[0] == "redis-server"
    return argv[1:]


class PrivateRedis:
    """A redis-server of this test's own, restartable on the same port and data directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                *compose_redis_options(),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.directory),
                "--logfile",
                str(self.directory / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        wait_for(self._answers, "redis-server", self.directory / "redis.log", 20)

    def _answers(self) -> bool:
        try:
            return bool(self.client().ping())
        except redis.ConnectionError:
            return False

    def kill(self) -> None:
        """A crash: no shutdown, no final save."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=5)

    def queued(self) -> int:
        return int(self.client().llen(QUEUE))

    def unacked(self) -> int:
        return int(self.client().hlen(UNACKED))


@pytest.fixture
def broker(services, tmp_path) -> Iterator[PrivateRedis]:  # type: ignore[no-untyped-def]
    """A private Redis as the broker of this process (what `delay_on_commit` publishes to) and
    of the workers the test starts."""
    directory = tmp_path / "redis"
    directory.mkdir()
    server = PrivateRedis(directory)
    server.start()
    saved = app.conf.broker_url

    def use(url: str) -> None:
        app.conf.broker_url = url
        app._pool = None  # the connection and producer pools follow the URL
        app.amqp._producer_pool = None

    use(server.url)
    try:
        yield server
    finally:
        use(saved)
        if server.proc is not None and server.proc.poll() is None:
            server.kill()


class Worker:
    """A real `celery worker` process group on the private broker and the test database."""

    def __init__(self, broker: PrivateRedis, log_path: Path, env: dict[str, str]):
        db = connection.settings_dict
        database_url = (
            f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@"
            f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
        )
        self.log_path = log_path
        with log_path.open("w") as log:
            self.proc = subprocess.Popen(
                worker_command(
                    "--hostname",
                    f"{log_path.stem}@%h",
                    "--include",
                    "tests.integration.durable_worker",
                ),
                cwd=ROOT,
                env={
                    **os.environ,
                    "DATABASE_URL": database_url,
                    "CELERY_BROKER_URL": broker.url,
                    "DJANGO_DEBUG": "true",
                    "PYTHONUNBUFFERED": "1",
                    # The receiver holds a request until the test has killed the worker.
                    "DFY_WEBHOOK_TIMEOUT_SECONDS": "60",
                    **env,
                },
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for(
            lambda: "ready." in log_path.read_text() or self.proc.poll() is not None,
            "the worker to start",
            log_path,
        )
        assert self.proc.poll() is None, log_path.read_text()[-4000:]

    def log(self) -> str:
        return self.log_path.read_text()

    def kill(self) -> None:
        """SIGKILL the whole worker, main process and pool alike: nothing gets to clean up."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)


@pytest.fixture
def workers(broker, tmp_path) -> Iterator[Callable[..., Worker]]:  # type: ignore[no-untyped-def]
    started: list[Worker] = []

    def start(name: str, **env: str) -> Worker:
        worker = Worker(broker, tmp_path / f"{name}.log", env)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


class Receiver:
    """A webhook receiver on the loopback that counts what it got and what it answered. With
    `hold_first`, the first request waits for `release` before answering; if its sender is gone
    by then, it is counted as abandoned, not answered."""

    def __init__(self, hold_first: bool) -> None:
        self.hold_first = hold_first
        self.received: list[str] = []
        self.answered: list[str] = []
        self.abandoned: list[str] = []
        self.holding = threading.Event()
        self.release = threading.Event()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                event_id = self.headers[webhooks.EVENT_ID_HEADER]
                with receiver._lock:
                    receiver.received.append(event_id)
                    first = len(receiver.received) == 1
                if first and receiver.hold_first:
                    receiver.holding.set()
                    receiver.release.wait(60)
                if sender_gone(self.connection):
                    receiver.abandoned.append(event_id)
                    self.close_connection = True
                    return
                # Counted first: the sender records the delivery as soon as it is answered.
                receiver.answered.append(event_id)
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def sender_gone(sock: socket.socket) -> bool:
    """The peer closed the connection (its process died): readable, with nothing to read."""
    readable, _, _ = select.select([sock], [], [], 0.5)
    if not readable:
        return False
    try:
        return sock.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver(hold_first=True)
    yield receiver
    receiver.close()


def emails_sent(directory: Path) -> list[str]:
    """Subjects of the messages Django's file-based backend wrote, across processes."""
    return [
        line.removeprefix("Subject: ")
        for path in sorted(directory.glob("*.log"))
        for line in path.read_text().splitlines()
        if line.startswith("Subject: ")
    ]


def deliveries(channel: str) -> list[tuple[int, str]]:
    return list(
        NotificationDelivery.objects.filter(channel=channel)
        .order_by("attempt")
        .values_list("attempt", "status")
    )


def status_of(order: Order) -> str:
    return Order.objects.values_list("status", flat=True).get(pk=order.pk)


# --- nothing lost, nothing doubled ----------------------------------------------------------


@integration
def test_worker_killed_mid_webhook_delivers_it_once_after_a_new_worker_starts(
    broker, workers, receiver, workspace, operator, tmp_path
):
    email_dir = tmp_path / "mail"
    email_dir.mkdir()
    common = {
        "DFY_TEST_WEBHOOK_RECEIVER": receiver.address,
        "DFY_TEST_EMAIL_DIR": str(email_dir),
    }
    workspace.webhook_url = "https://hooks.example.com/dfy"
    workspace.save()
    webhooks.webhook_secret_rotate(workspace=workspace)
    order = OrderFactory(workspace=workspace, requester=operator, title="Q4")
    first = workers("first", **common)

    with transaction.atomic():
        lifecycle.order_notify(order_id=order.pk, notice="placed")
    # The worker is inside the webhook POST; the email went out and was acknowledged.
    wait_for(receiver.holding.is_set, "the webhook request", first.log_path)
    wait_for(
        lambda: deliveries("email") == [(1, DeliveryStatus.DELIVERED)],
        "the email delivered",
        first.log_path,
    )
    wait_for(
        lambda: broker.unacked() == 1,
        "the email's message acknowledged and the webhook's not yet",
        first.log_path,
        timeout=15,
    )
    first.kill()
    receiver.release.set()
    event_id = receiver.received[0]

    # Nothing was lost with the worker: its message waits in the broker, unacknowledged.
    assert broker.unacked() == 1
    assert broker.queued() == 0
    assert deliveries("webhook") == [(1, DeliveryStatus.SENDING)]
    second = workers("second", DFY_TEST_RESTORE_AFTER_SECONDS="1", **common)
    wait_for(
        lambda: (
            DeliveryStatus.DELIVERED in dict(deliveries("webhook")).values()
            and broker.unacked() == 0
            and broker.queued() == 0
        ),
        "the webhook delivered by the new worker",
        second.log_path,
    )

    assert receiver.answered == [event_id]
    assert receiver.abandoned == [event_id]  # the killed attempt never got its answer
    assert receiver.received == [event_id, event_id]
    assert deliveries("webhook") == [
        (1, DeliveryStatus.FAILED),  # abandoned with the killed worker, and says so
        (2, DeliveryStatus.DELIVERED),
    ]
    assert deliveries("email") == [(1, DeliveryStatus.DELIVERED)]
    assert emails_sent(email_dir) == ["Placed: Q4"]
    assert "deliver_notification" in second.log()


@integration
def test_tasks_queued_before_a_redis_crash_all_run_once_it_is_back(
    broker, workers, workspace, operator, tmp_path
):
    email_dir = tmp_path / "mail"
    email_dir.mkdir()
    order = OrderFactory(workspace=workspace, requester=operator, title="Q4")
    before = ["placed", "ready", "stuck"]

    for event in before:  # no worker yet: the messages wait in Redis
        with transaction.atomic():
            lifecycle.order_notify(order_id=order.pk, notice=event)
    assert broker.queued() == 2 * len(before)  # an email and a webhook message each
    time.sleep(2.5)  # appendfsync everysec: a crash may lose the last second, not more
    broker.kill()
    broker.start()
    assert broker.queued() == 2 * len(before)
    # The web side's pooled connection died with Redis; publishing reconnects.
    with transaction.atomic():
        lifecycle.order_notify(order_id=order.pk, notice="approved")
    worker = workers("after-restart", DFY_TEST_EMAIL_DIR=str(email_dir))
    wait_for(
        lambda: (
            len(deliveries("email")) == 4
            and broker.queued() == 0
            and broker.unacked() == 0
        ),
        "every queued task to run",
        worker.log_path,
    )

    assert sorted(emails_sent(email_dir)) == [
        "Approved: Q4",
        "No progress: Q4",
        "Placed: Q4",
        "Ready: Q4",
    ]
    assert {status for _, status in deliveries("email")} == {DeliveryStatus.DELIVERED}
    assert (
        deliveries("webhook") == []
    )  # no webhook URL: those tasks ran and did nothing


@integration
def test_worker_killed_during_placement_posts_once(
    broker, workers, live_server, workspace, operator, lead, settings
):
    remote = live_sandbox_remote(live_server, workspace, settings)
    # The sandbox records the order, then holds its answer: the worker is inside the POST.
    switches_set(
        workspace=remote, timeout_after_record=True, timeout_after_record_seconds=4
    )
    order = submitted_order(workspace, operator)
    first = workers("first")

    with transaction.atomic():
        workflow.order_approve(order=order, by=lead)
    wait_for(lambda: real_order_posts(remote) == 1, "the real POST", first.log_path)
    first.kill()
    held_until = time.monotonic() + 4

    assert broker.unacked() == 1  # the placement message outlived the worker
    assert status_of(order) == OrderStatus.SUBMITTING
    second = workers("second", DFY_TEST_RESTORE_AFTER_SECONDS="1")
    wait_for(
        lambda: (
            broker.unacked() == 0
            and broker.queued() == 0
            and "orders.place_order" in second.log()
        ),
        "the placement message run again",
        second.log_path,
    )
    # Run again, the task found the order claimed and did nothing: the claim holds.
    assert real_order_posts(remote) == 1
    assert status_of(order) == OrderStatus.SUBMITTING
    assert order.events.filter(kind="claimed").count() == 1

    # The sweeper's part (the claim is stale): reconciliation finds the order at Instantly.
    settings.DFY_SUBMITTING_STALE_SECONDS = 0
    workflow.orders_sweep()
    workflow.order_reconcile(order=Order.objects.get(pk=order.pk))
    wait_for(lambda: status_of(order) == OrderStatus.PLACED, "placed", second.log_path)
    assert real_order_posts(remote) == 1
    time.sleep(max(0.0, held_until - time.monotonic()))  # let the held answer finish
