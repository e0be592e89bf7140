"""Helpers shared by the workflow tests: build a real draft, quote it against the workspace's
remote (the sandbox) and submit it, exactly as the builder does."""

from __future__ import annotations

from collections.abc import Sequence

import httpx

from orders import drafts, instantly_keys, quotes, tasks
from orders.models import Order, Quote
from orders.rules import DraftItem, DraftMailbox

JANE = ("Jane", "Roe", "jane")
JOHN = ("John", "Roe", "john")

Items = Sequence[tuple[str, int, Sequence[tuple[str, str, str]]]]


def draft_order(
    workspace,
    requester,
    *,
    items: Items | None = None,
    order_type: str = "dfy",
    title: str = "Q3",
) -> Order:  # type: ignore[no-untyped-def]
    items = items if items is not None else [("acme-mail.com", 1, [JANE, JOHN])]
    order = drafts.order_draft_create(
        workspace=workspace, by=requester, order_type=order_type, title=title
    )
    return drafts.order_draft_save(
        order=order,
        by=requester,
        version=order.version,
        items=[
            DraftItem(
                domain=domain,
                provider=provider,
                mailboxes=tuple(
                    DraftMailbox(first_name=first, last_name=last, email_prefix=prefix)
                    for first, last, prefix in mailboxes
                ),
            )
            for domain, provider, mailboxes in items
        ],
    )


def quote_order(order: Order) -> Quote:
    with instantly_keys.instantly_client_for(workspace=order.workspace) as client:
        outcome = quotes.quote_for_order(order=order, client=client, reuse_seconds=0)
    return outcome.quote


def submitted_order(workspace, requester, **kwargs) -> Order:  # type: ignore[no-untyped-def]
    """A draft quoted by the remote and submitted: pending approval under the default policy."""
    order = draft_order(workspace, requester, **kwargs)
    quote = quote_order(order)
    order.refresh_from_db()
    return drafts.order_submit(
        order=order, by=requester, version=order.version, fingerprint=quote.fingerprint
    )


def live_sandbox_remote(live_server, workspace, settings):  # type: ignore[no-untyped-def]
    """Point the workspace's key at the live server's sandbox, over real HTTP (what
    test_money_path's `remote` fixture does, for modules whose `remote` is the in-process
    one); mailboxes are provisioned one second after the order. Returns the sandbox."""
    from sandbox.models import RestrictedKeyword
    from sandbox.rules import DEFAULT_RESTRICTED_KEYWORDS
    from sandbox.services import sandbox_workspace_create
    from sandbox.switches import switches_set

    RestrictedKeyword.objects.bulk_create(
        [RestrictedKeyword(keyword=k) for k in DEFAULT_RESTRICTED_KEYWORDS],
        ignore_conflicts=True,
    )
    base_url = f"{live_server.url}/sandbox/api/v2"
    settings.INSTANTLY_SANDBOX_BASE_URL = base_url
    sandbox, key = sandbox_workspace_create(name=f"remote of {workspace.slug}")
    switches_set(workspace=sandbox, provisioning_delay_seconds=1)
    instantly_keys.instantly_key_save(
        workspace=workspace, by=None, secret=key, label="Sandbox", base_url=base_url
    )
    return sandbox


class TimeoutAfterSend(httpx.BaseTransport):
    """Wraps a transport: real order POSTs reach the remote, then the answer is 'lost' as a read
    timeout, which is exactly what a client sees when Instantly records and then hangs."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if (
            request.method == "POST"
            and request.url.path.endswith("/dfy-email-account-orders")
            and b'"simulation":false' in request.content.replace(b" ", b"")
        ):
            response.read()
            raise httpx.ReadTimeout("timed out after sending", request=request)
        return response


class TaskQueue:
    """Stands in for the broker in tests without a worker: records what would be sent on
    commit, and runs it on demand by calling the task functions directly (never eager mode)."""

    NAMES = (
        "place_order_task",
        "reconcile_order_task",
        "poll_workspace_task",
        "cancel_mailboxes_task",
    )

    def __init__(self, monkeypatch) -> None:  # type: ignore[no-untyped-def]
        from tests.task_capture import intercept

        self.sent: list[tuple[str, dict[str, object]]] = []
        # Recorded under the attribute name in orders/tasks.py, whichever way they were sent
        # (by name through orders/enqueue.py, or a task's own `delay`).
        by_task_name = {getattr(tasks, name).name: name for name in self.NAMES}
        intercept(
            monkeypatch,
            by_task_name,
            lambda task_name, kwargs: self.sent.append(
                (by_task_name[task_name], kwargs)
            ),
        )

    def names(self) -> list[str]:
        return [name for name, _ in self.sent]

    def run_all(self) -> int:
        """Run every recorded task (and what those enqueue) until none is left."""
        ran = 0
        while self.sent:
            name, kwargs = self.sent.pop(0)
            getattr(tasks, name)(**kwargs)
            ran += 1
        return ran

    def drain(self, capture) -> int:  # type: ignore[no-untyped-def]
        """Run recorded tasks, letting their on-commit callbacks (more tasks, notifications)
        fire, until nothing is left. `capture` is pytest-django's
        django_capture_on_commit_callbacks."""
        ran = 0
        while self.sent:
            with capture(execute=True):
                ran += self.run_all()
        return ran


def wait_until_idle(
    worker=None,  # type: ignore[no-untyped-def]
    *,
    broker_url: str | None = None,
    timeout: float = 60,
    settle: int = 3,
) -> None:
    """Block until the test worker has nothing to do: no task active or reserved (asked over
    Celery's remote control), nothing waiting in the `celery` queue and nothing delivered but
    unacknowledged in Redis. Seen `settle` times in a row, a short interval apart, because a
    message is briefly in neither place while the worker moves it from the queue to its
    unacked set. Fails loudly (with the worker's log) after `timeout` seconds.

    A negative check ("still exactly one POST") is only meaningful once every message that
    could still POST has run; a fixed sleep only guesses when that is.
    """
    import time
    from pathlib import Path

    import redis
    from django.conf import settings

    from dfyportal.celery import app

    url = broker_url or settings.CELERY_BROKER_URL
    broker = redis.Redis.from_url(url)
    inspector = app.control.inspect(timeout=1.0)
    deadline = time.monotonic() + timeout
    seen_idle = 0
    last: dict[str, object] = {}
    try:
        while time.monotonic() < deadline:
            active = inspector.active() or {}
            reserved = inspector.reserved() or {}
            last = {
                "replies": sorted(active),
                "active": sum(len(tasks) for tasks in active.values()),
                "reserved": sum(len(tasks) for tasks in reserved.values()),
                "queued": int(broker.llen("celery")),
                "unacked": int(broker.hlen("unacked")),
            }
            # No reply at all is not idleness: the worker may be down or stuck.
            idle = bool(active) and not any(
                last[name] for name in ("active", "reserved", "queued", "unacked")
            )
            seen_idle = seen_idle + 1 if idle else 0
            if seen_idle >= settle:
                return
            time.sleep(0.2)
    finally:
        broker.close()
    log = ""
    if worker is not None and getattr(worker, "log_path", None):
        log = Path(worker.log_path).read_text()[-4000:]
    raise AssertionError(
        f"the worker did not become idle within {timeout:.0f} s: {last}\n{log}"
    )
