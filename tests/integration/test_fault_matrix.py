"""The fault matrix: every sandbox switch × every step that talks to Instantly.

On PostgreSQL, with ONE real Celery worker on Redis for the whole module and the sandbox served
over real HTTP by the live server (the portal's client code path, unchanged). Steps that run in
the worker in production (domain check, placement, reconciliation, fulfilment poll) go through
the broker to that worker; web steps (quote, submit, cancel) go through the test client.

Each cell asserts the end state: no second real POST, no lost order (or check), a person told
where a person must act, and the time and call count bounded. Where a switch cannot touch a step
(empty stock × cancel), the cell still runs the step under the switch and expects the normal
outcome, labelled "unaffected". Every run writes the outcomes as a Markdown table to
`var/fault-matrix.md` (docs/testing.md shows one).
"""

from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.conf import settings as django_settings
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from orders import cancellation, finders, tasks, workflow
from orders.models import (
    CheckStatus,
    DomainCheck,
    Mailbox,
    MailboxStatus,
    Order,
    OrderStatus,
    Quote,
)
from orders.processes import worker_command
from sandbox import api as sandbox_api
from sandbox.models import RequestLog, real_order_posts
from sandbox.switches import switches_set
from tests.conftest import require_service
from tests.integration.support import (
    JANE,
    draft_order,
    live_sandbox_remote,
    quote_order,
    submitted_order,
)

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.postgres,
    pytest.mark.redis,
]
HX = {"HX-Request": "true"}
ITEMS = [("acme-mail.com", 1, [JANE])]
# The portal's client gives up on an answer after this long; the sandbox holds its "timeout"
# answers longer, so the client really times out (in the worker and in this process alike).
CLIENT_TIMEOUT = 1.0
HOLD_SECONDS = 2
PROVISIONING_SECONDS = 2
WORKER_NAME = f"faultmatrix-{os.getpid()}@{socket.gethostname()}"

SWITCHES: dict[str, dict[str, Any]] = {
    "latency": {"latency_ms": 50},
    "429 burst": {"burst_429_remaining": 2},
    "5xx burst": {"error_5xx_remaining": 2},
    # Every other request fails (see `_alternating`): a 50 % rate without the dice.
    "5xx rate": {"error_5xx_rate": Decimal("0.5")},
    "timeout after record": {
        "timeout_after_record": True,
        "timeout_after_record_seconds": HOLD_SECONDS,
    },
    "timeout without record": {
        "timeout_without_record": True,
        "timeout_after_record_seconds": HOLD_SECONDS,
    },
    "payment failure": {"payment_failure_reason": "card_expired"},
    "provider unavailable": {"unavailable_providers": [1]},
    "empty stock": {"empty_prewarmed_stock": True},
    "provisioning delay": {"provisioning_delay_seconds": PROVISIONING_SECONDS},
}
STEPS = (
    "quote",
    "domain check",
    "submit",
    "placement",
    "reconciliation",
    "fulfilment poll",
    "cancel",
)
# Statuses in which the next move is a person's.
PERSON_MUST_ACT = {
    OrderStatus.NEEDS_ATTENTION,
    OrderStatus.NEEDS_REAPPROVAL,
    OrderStatus.AWAITING_CHECKOUT,
    OrderStatus.FAILED,
}


@dataclass
class Outcome:
    end: str  # short end state, compared with expected()
    posts: int = 0  # real order POSTs the sandbox received in this cell
    calls: int = 0  # requests the sandbox received during the step
    told: bool | None = None  # a person was told (None: nobody needs to act)
    seconds: float = 0.0

    def cell(self) -> str:
        told = {None: "", True: ", told", False: ", NOBODY TOLD"}[self.told]
        return f"{self.end} ({self.posts} POST, {self.calls} req{told}, {self.seconds:.1f} s)"


# The expected end state of every cell, one entry per (switch, step). A cell whose switch
# cannot reach its step expects the step's normal outcome, marked "unaffected" in the table.
NORMAL = {
    "quote": "quoted",
    "domain check": "checked",
    "submit": "pending_approval",
    "placement": "placed",
    "reconciliation": "placed",
    "fulfilment poll": "ready",
    "cancel": "cancelled",
}
AFFECTING = {
    # switch: {step: expected end}; a step not listed must show its normal outcome
    "latency": dict.fromkeys(
        (
            "quote",
            "domain check",
            "placement",
            "reconciliation",
            "fulfilment poll",
            "cancel",
        ),
        None,
    ),
    # The cancel call is not retried (it changes state): a 429 is a refusal shown to the
    # person; a 5xx is an unknown outcome, settled by reading the accounts list back.
    "429 burst": {
        "quote": None,
        "domain check": None,
        "placement": None,
        "reconciliation": None,
        "fulfilment poll": None,
        "cancel": "not cancelled (ready)",
    },
    "5xx burst": {
        "quote": None,
        "domain check": None,
        "placement": None,
        "reconciliation": None,
        "fulfilment poll": None,
        "cancel": "not cancelled (ready)",
    },
    # Every other request fails: the re-quote fails, its retry passes, and the real POST meets
    # a 500 before the sandbox records anything. An unknown outcome, never re-posted:
    # reconciliation finds nothing and the age bound hands the order to a person.
    "5xx rate": {
        "quote": None,
        "domain check": None,
        "placement": "needs_attention",
        "reconciliation": None,
        "fulfilment poll": None,
        "cancel": "not cancelled (ready)",
    },
    "timeout after record": {"placement": None},
    "timeout without record": {"placement": "needs_attention"},
    "payment failure": {"placement": "failed"},
    "provider unavailable": {
        "quote": "quoted, invalid",
        "placement": "needs_reapproval",
    },
    "empty stock": {},
    "provisioning delay": {"fulfilment poll": "provisioning, then ready"},
}


def expected(switch: str, step: str) -> tuple[str, bool]:
    """(end state, affected) for a cell; a None in AFFECTING means "the normal outcome, but
    the switch does reach this step" (retried or waited through)."""
    if step in AFFECTING[switch]:
        return AFFECTING[switch][step] or NORMAL[step], True
    return NORMAL[step], False


RESULTS: dict[tuple[str, str], Outcome] = {}


# --- the worker, the switches and the table ---------------------------------------------------


@pytest.fixture(scope="module")
def worker(django_db_setup, django_db_blocker, tmp_path_factory):  # type: ignore[no-untyped-def]
    """One real worker for the module, on the test database and the Redis broker. Its client
    times out after CLIENT_TIMEOUT; its deadline is short so a failing read ends quickly."""
    if connection.vendor != "postgresql" or not getattr(
        django_settings, "REDIS_URL", ""
    ):
        require_service("PostgreSQL and Redis", False, "set DATABASE_URL and REDIS_URL")
    from dfyportal.celery import app

    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "DJANGO_DEBUG": "true",
        "PYTHONUNBUFFERED": "1",
        "INSTANTLY_TIMEOUT_SECONDS": str(CLIENT_TIMEOUT),
        "INSTANTLY_DEADLINE_SECONDS": "6",
    }
    app.control.purge()
    log_path = tmp_path_factory.mktemp("fault-worker") / "worker.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            worker_command("-n", WORKER_NAME),
            cwd=django_settings.BASE_DIR,
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


@pytest.fixture(scope="module", autouse=True)
def _matrix_table():  # type: ignore[no-untyped-def]
    """Write the table of this run's outcomes once the module is done."""
    yield
    if not RESULTS:
        return
    # Beside var/coverage.json and var/mutation.json, whatever DFY_VAR_DIR the tests use.
    path = Path(django_settings.BASE_DIR) / "var" / "fault-matrix.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(matrix_markdown(RESULTS))


def matrix_markdown(results: dict[tuple[str, str], Outcome]) -> str:
    lines = [
        "<!-- generated by tests/integration/test_fault_matrix.py; do not edit -->",
        "",
        "| Switch | " + " | ".join(STEPS) + " |",
        "|---" * (len(STEPS) + 1) + "|",
    ]
    for switch in SWITCHES:
        cells = []
        for step in STEPS:
            outcome = results.get((switch, step))
            if outcome is None:
                cells.append("not run")
                continue
            affected = expected(switch, step)[1]
            cells.append(
                outcome.cell() if affected else f"unaffected: {outcome.cell()}"
            )
        lines.append(f"| {switch} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


@pytest.fixture
def remote(live_server, workspace, settings):  # type: ignore[no-untyped-def]
    sandbox = live_sandbox_remote(live_server, workspace, settings)
    switches_set(workspace=sandbox, provisioning_delay_seconds=0)
    settings.INSTANTLY_TIMEOUT_SECONDS = CLIENT_TIMEOUT
    settings.INSTANTLY_DEADLINE_SECONDS = 6
    return sandbox


@pytest.fixture
def _alternating(monkeypatch):  # type: ignore[no-untyped-def]
    """The sandbox (served by this process's live server) fails every other request while a
    5xx rate is set: the rate's effect, made repeatable."""
    flips = itertools.cycle([True, False])
    monkeypatch.setattr(
        sandbox_api, "should_fail_randomly", lambda rate: rate > 0 and next(flips)
    )


def switch_on(sandbox, switch: str) -> None:  # type: ignore[no-untyped-def]
    switches_set(workspace=sandbox, **SWITCHES[switch])


def switch_off(sandbox) -> None:  # type: ignore[no-untyped-def]
    switches_set(
        workspace=sandbox,
        latency_ms=0,
        burst_429_remaining=0,
        error_5xx_remaining=0,
        error_5xx_rate=Decimal("0"),
        timeout_after_record=False,
        timeout_without_record=False,
        payment_failure_reason="none",
        unavailable_providers=[],
        empty_prewarmed_stock=False,
        provisioning_delay_seconds=0,
    )


def calls(sandbox) -> int:  # type: ignore[no-untyped-def]
    return RequestLog.objects.filter(workspace=sandbox).count()


def status_of(order: Order) -> str:
    return str(Order.objects.values_list("status", flat=True).get(pk=order.pk))


def idle(worker, timeout: float = 90) -> None:  # type: ignore[no-untyped-def]
    """support.wait_until_idle, asking this module's worker by name: a named inspection
    returns as soon as that worker answers instead of waiting out its timeout, which keeps
    seventy cells quick."""
    import redis

    from dfyportal.celery import app

    broker = redis.Redis.from_url(django_settings.CELERY_BROKER_URL)
    inspector = app.control.inspect(timeout=2.0, destination=[WORKER_NAME])
    deadline = time.monotonic() + timeout
    seen_idle = 0
    last: dict[str, object] = {}
    try:
        while time.monotonic() < deadline:
            active = inspector.active() or {}
            reserved = inspector.reserved() or {}
            last = {
                "active": sum(len(t) for t in active.values()),
                "reserved": sum(len(t) for t in reserved.values()),
                "queued": int(broker.llen("celery")),
                "unacked": int(broker.hlen("unacked")),
            }
            quiet = bool(active) and not any(last.values())
            seen_idle = seen_idle + 1 if quiet else 0
            if seen_idle >= 3:
                return
            time.sleep(0.1)
    finally:
        broker.close()
    log = Path(worker.log_path).read_text()[-4000:]
    raise AssertionError(
        f"the worker did not become idle in {timeout:.0f} s: {last}\n{log}"
    )


def settle(worker) -> None:  # type: ignore[no-untyped-def]
    """Everything the worker was sent has run; then let the bounds pass (three hours on the
    sweeper's clock, more than every machine bound) and let what the sweep sends run too."""
    idle(worker)
    with time_machine.travel(timezone.now() + timedelta(hours=3), tick=False):
        swept = workflow.orders_sweep()
    if any(swept.values()):
        idle(worker)


def told(order: Order) -> bool:
    """A person was told: the order sits in a status that asks a person to act, with the
    reason on the order page (its timeline event) and the notification that goes with it."""
    order.refresh_from_db()
    return (
        order.status in PERSON_MUST_ACT
        and order.events.filter(to_status=order.status).exists()
    )


def placed_order(workspace, operator, lead, worker) -> Order:  # type: ignore[no-untyped-def]
    order = submitted_order(workspace, operator, items=ITEMS)
    with transaction.atomic():
        workflow.order_approve(order=order, by=lead)
    idle(worker)
    assert status_of(order) == OrderStatus.PLACED
    return Order.objects.get(pk=order.pk)


# --- the steps --------------------------------------------------------------------------------


def mark(ctx: dict[str, Any]) -> None:
    """The step starts here: what the sandbox saw before (the setup's calls) is not counted."""
    ctx["before"] = calls(ctx["sandbox"])
    ctx["posts_before"] = real_order_posts(ctx["sandbox"])


def step_quote(ctx: dict[str, Any]) -> Outcome:
    order = draft_order(ctx["workspace"], ctx["operator"], items=ITEMS)
    mark(ctx)
    switch_on(ctx["sandbox"], ctx["switch"])
    response = ctx["operator_client"].post(
        reverse("orders:quote", args=[ctx["workspace"].slug, order.pk]), headers=HX
    )
    assert response.status_code == 200
    quote = Quote.objects.filter(order=order).first()
    if quote is None:
        page = response.content.decode()
        # A quote that could not be had says so, and offers to try again.
        return Outcome(end="no quote", told="Quote delayed" in page)
    if not quote.is_valid:
        page = response.content.decode()
        # The quote panel says Instantly would refuse the order, and why.
        return Outcome(
            end="quoted, invalid",
            told="Instantly would refuse it" in page or "Not orderable" in page,
        )
    return Outcome(end="quoted")


def step_domain_check(ctx: dict[str, Any]) -> Outcome:
    order = draft_order(ctx["workspace"], ctx["operator"], items=ITEMS)
    mark(ctx)
    switch_on(ctx["sandbox"], ctx["switch"])
    with transaction.atomic():
        check = finders.domain_check_start(
            order=order, by=ctx["operator"], domains=["acme-mail.com", "acme-post.com"]
        )
    idle(ctx["worker"])
    check = DomainCheck.objects.get(pk=check.pk)
    if check.status == CheckStatus.DONE:
        states = {r["state"] for r in check.results.values()}
        return Outcome(end="checked" if "no_answer" not in states else "no answer")
    if check.status == CheckStatus.FAILED:
        return Outcome(end="check failed", told=bool(check.error))
    return Outcome(end=f"check {check.status}", told=False)


def step_submit(ctx: dict[str, Any]) -> Outcome:
    order = draft_order(ctx["workspace"], ctx["operator"], items=ITEMS)
    quote = quote_order(order)
    order.refresh_from_db()
    switch_on(ctx["sandbox"], ctx["switch"])
    mark(ctx)
    ctx["operator_client"].post(
        reverse("orders:submit", args=[ctx["workspace"].slug, order.pk]),
        {"version": order.version, "fingerprint": quote.fingerprint},
    )
    return Outcome(end=status_of(order))


def step_placement(ctx: dict[str, Any]) -> Outcome:
    order = submitted_order(ctx["workspace"], ctx["operator"], items=ITEMS)
    switch_on(ctx["sandbox"], ctx["switch"])
    mark(ctx)
    with transaction.atomic():
        workflow.order_approve(order=order, by=ctx["lead"])
    settle(ctx["worker"])
    status = status_of(order)
    return Outcome(end=status, told=told(order) if status in PERSON_MUST_ACT else None)


def step_reconciliation(ctx: dict[str, Any]) -> Outcome:
    order = placed_order(ctx["workspace"], ctx["operator"], ctx["lead"], ctx["worker"])
    # The answer to the order's POST was lost: the order is at Instantly, the portal does not
    # know it. Reconciliation must find it, whatever the switch does to the list endpoints.
    Order.objects.filter(pk=order.pk).update(
        status=OrderStatus.UNKNOWN, next_reconcile_at=None, reconcile_checks=0
    )
    switch_on(ctx["sandbox"], ctx["switch"])
    mark(ctx)
    tasks.reconcile_order_task.delay(order_id=order.pk)
    settle(ctx["worker"])
    status = status_of(order)
    return Outcome(end=status, told=told(order) if status in PERSON_MUST_ACT else None)


def _poll(ctx: dict[str, Any]) -> None:
    tasks.poll_workspace_task.delay(workspace_id=ctx["workspace"].pk)
    idle(ctx["worker"])


def step_fulfilment_poll(ctx: dict[str, Any]) -> Outcome:
    order = placed_order(ctx["workspace"], ctx["operator"], ctx["lead"], ctx["worker"])
    switch_on(ctx["sandbox"], ctx["switch"])
    mark(ctx)
    _poll(ctx)
    first = status_of(order)
    if first == OrderStatus.READY:
        return Outcome(end="ready")
    # Instantly is still provisioning: the next poll, once the delay has passed, moves it on.
    time.sleep(PROVISIONING_SECONDS)
    _poll(ctx)
    return Outcome(end=f"{first}, then {status_of(order)}")


def step_cancel(ctx: dict[str, Any]) -> Outcome:
    order = placed_order(ctx["workspace"], ctx["operator"], ctx["lead"], ctx["worker"])
    _poll(ctx)
    assert status_of(order) == OrderStatus.READY
    phrase = cancellation.cancellation_preview(
        order=order, domains=["acme-mail.com"]
    ).phrase
    switch_on(ctx["sandbox"], ctx["switch"])
    mark(ctx)
    client = Client()
    client.force_login(ctx["ws_admin"])
    client.post(
        reverse("orders:cancel", args=[ctx["workspace"].slug, order.pk]),
        {"domain": ["acme-mail.com"], "step": "confirm", "confirmation": phrase},
    )
    # The confirmation only queues the run; the worker makes the one cancel call.
    idle(ctx["worker"])
    response = client.get(order.get_absolute_url())
    mailboxes = set(
        Mailbox.objects.filter(item__order=order).values_list("status", flat=True)
    )
    if mailboxes == {MailboxStatus.CANCELLED}:
        return Outcome(end=status_of(order))
    # What the person sees next: the refusal on the cancel form, or the order page with the
    # result per mailbox ("Not cancelled …", "Unknown …").
    page = response.content.decode()
    return Outcome(
        end=f"not cancelled ({status_of(order)})",
        told=any(
            words in page
            for words in ("did not cancel anything", "Not cancelled (", "Unknown: ")
        ),
    )


RUN = {
    "quote": step_quote,
    "domain check": step_domain_check,
    "submit": step_submit,
    "placement": step_placement,
    "reconciliation": step_reconciliation,
    "fulfilment poll": step_fulfilment_poll,
    "cancel": step_cancel,
}
# Upper bounds per cell: seconds of wall time and requests to the sandbox during the step.
MAX_SECONDS = 60
MAX_CALLS = 40


@pytest.mark.usefixtures("_alternating")
@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("switch", list(SWITCHES))
def test_fault_cell(
    switch,
    step,
    worker,
    remote,
    workspace,
    operator,
    lead,
    ws_admin,
    client,
):
    client.force_login(operator)
    ctx: dict[str, Any] = {
        "switch": switch,
        "sandbox": remote,
        "workspace": workspace,
        "operator": operator,
        "lead": lead,
        "ws_admin": ws_admin,
        "operator_client": client,
        "worker": worker,
    }
    started = time.monotonic()
    try:
        outcome = RUN[step](ctx)
    finally:
        switch_off(remote)
        # Nothing of this cell may still run when the database is flushed for the next.
        idle(worker)
    outcome.seconds = time.monotonic() - started
    outcome.posts = real_order_posts(remote) - ctx["posts_before"]
    outcome.calls = calls(remote) - ctx.get("before", 0)
    RESULTS[(switch, step)] = outcome

    want, _ = expected(switch, step)
    assert outcome.end == want, outcome.cell()
    # No second real POST: placement sends at most one; no other step sends any.
    assert outcome.posts <= (1 if step == "placement" else 0), outcome.cell()
    # No lost order: every order the cell made is still there, in a known status.
    assert Order.objects.filter(workspace=workspace).exists()
    # A person told where a person must act.
    assert outcome.told in (None, True), outcome.cell()
    if step == "submit":
        # Submitting compares the stored quote's fingerprint; it never calls Instantly.
        assert outcome.calls == 0, outcome.cell()
    assert outcome.seconds < MAX_SECONDS, outcome.cell()
    assert outcome.calls <= MAX_CALLS, outcome.cell()
