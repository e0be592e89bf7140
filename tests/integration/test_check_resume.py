"""A domain check survives a killed worker (issue 14): the check resumes from its last saved
batch without checking a saved batch again, and the progress the page polls never goes back.

Real Celery workers on a Redis of the test's own (tests/integration/test_durable_delivery.py's
fixtures), PostgreSQL, and the sandbox served over real HTTP by the live server with Instantly's
limits on. The live server runs in this process, so the sandbox's check is wrapped here to
record the domains each call carries and to hold one call until the test has killed the worker:
the kill then always lands while that batch is in flight, never by luck of timing.

300 domains: the same batches of 50, saved one by one, as 1,500, with batches on both sides of
the kill, and few enough that the resumed run's calls and the first run's stay under 30 a
minute (1,500 would need 31 calls with the batch sent twice, and the 31st would wait a minute).

What is guaranteed: a batch whose answer was saved is never sent again (the resumed run skips
saved domains, and the check's lease keeps two runs from working on it at once); the one batch
in flight when the worker died (sent, its answer never saved) is sent again. So the calls are
the batches plus one per killed run, and only that batch's domains are sent twice.
"""

from __future__ import annotations

import re
import threading
from datetime import timedelta

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from dfyportal.celery import app
from orders import finders
from orders.domains import CHECK_BATCH_SIZE, chunked
from orders.models import CheckStatus, DomainCheck
from sandbox import api as sandbox_api
from sandbox.domains import domains_check
from sandbox.models import RequestLog
from sandbox.switches import switches_set
from tests.integration.support import draft_order, live_sandbox_remote
from tests.integration.test_durable_delivery import (  # noqa: F401 (fixtures)
    broker,
    integration,
    services,
    wait_for,
    workers,
)

DOMAINS = [f"resume{n}-outreach.com" for n in range(300)]
BATCHES = list(chunked(DOMAINS, CHECK_BATCH_SIZE))
HELD_CALL = 3  # the worker dies while this call is in flight


class RecordedChecks:
    """The sandbox's domains/check, recording each call's domains in order and holding call
    number `hold` until `release` is set."""

    def __init__(self, monkeypatch, *, hold: int) -> None:  # type: ignore[no-untyped-def]
        self.calls: list[list[str]] = []
        self.holding = threading.Event()
        self.release = threading.Event()
        self._hold = hold
        self._lock = threading.Lock()
        self._original = domains_check
        monkeypatch.setattr(sandbox_api, "domains_check", self._check)

    def _check(self, domains):  # type: ignore[no-untyped-def]
        with self._lock:
            self.calls.append(list(domains))
            number = len(self.calls)
        if number == self._hold:
            self.holding.set()
            self.release.wait(60)
        return self._original(domains)


class PolledProgress:
    """What the builder's polled partial says: "<checked> of 300", every time it is asked."""

    def __init__(self, client, check: DomainCheck) -> None:  # type: ignore[no-untyped-def]
        order = check.order
        assert order is not None
        self.client = client
        self.url = reverse(
            "orders:check_status", args=[order.workspace.slug, order.pk, check.pk]
        )
        self.seen: list[int] = []

    def __call__(self) -> int:
        page = self.client.get(self.url, headers={"HX-Request": "true"})
        match = re.search(r"<strong>(\d+) of 300</strong>", page.content.decode())
        assert match, page.content.decode()[:500]
        self.seen.append(int(match.group(1)))
        return self.seen[-1]


def check_of(pk: int) -> DomainCheck:
    return DomainCheck.objects.get(pk=pk)


def checks_run(*started) -> int:  # type: ignore[no-untyped-def]
    """How many orders.check_domains tasks these workers finished, by their logs."""
    finished = re.compile(r"Task orders\.check_domains\[[^\]]+\] succeeded")
    return sum(len(finished.findall(worker.log())) for worker in started)


@integration
def test_a_check_whose_worker_was_killed_resumes_without_checking_a_saved_batch_again(
    broker,  # noqa: F811 (the imported fixture)
    workers,  # noqa: F811 (the imported fixture)
    live_server,
    workspace,
    operator,
    operator_client,
    settings,
    monkeypatch,
):
    sandbox = live_sandbox_remote(live_server, workspace, settings)
    switches_set(workspace=sandbox, enforce_rate_limits=True)
    recorded = RecordedChecks(monkeypatch, hold=HELD_CALL)
    order = draft_order(workspace, operator)
    first = workers("first")

    with transaction.atomic():
        check = finders.domain_check_start(order=order, by=operator, domains=DOMAINS)
    progress = PolledProgress(operator_client, check)

    def third_batch_in_flight() -> bool:
        progress()
        return recorded.holding.is_set()

    wait_for(third_batch_in_flight, "the third batch in flight", first.log_path)
    # Two batches saved; the third sent and not answered yet.
    assert progress() == 2 * CHECK_BATCH_SIZE
    assert check_of(check.pk).status == CheckStatus.RUNNING
    first.kill()
    recorded.release.set()

    # The dead run's lease has not run out: the sweeper leaves the check alone for now, as it
    # would a live run's. Its message waits, unacknowledged, for Redis's two-hour timeout.
    assert check_of(check.pk).waiting_until > timezone.now()
    assert finders.domain_checks_sweep() == 0
    assert broker.unacked() == 1
    # Time compressed: the lease ran out (106 s in production) a minute ago.
    DomainCheck.objects.filter(pk=check.pk).update(
        waiting_until=timezone.now()
        - timedelta(seconds=finders.CHECK_RESEND_AFTER_SECONDS + 1)
    )
    second = workers("second")
    app.send_task("orders.sweep_domain_checks")  # what beat sends every minute
    wait_for(
        lambda: (
            progress() == len(DOMAINS) and check_of(check.pk).status == CheckStatus.DONE
        ),
        "the check resumed and finished",
        second.log_path,
    )

    # The saved batches went once; the one in flight at the kill went again; then the rest.
    assert recorded.calls == [*BATCHES[:HELD_CALL], *BATCHES[HELD_CALL - 1 :]]
    sent_twice = {d for d in DOMAINS if sum(d in call for call in recorded.calls) > 1}
    assert sent_twice == set(BATCHES[HELD_CALL - 1])
    calls = RequestLog.objects.filter(workspace=sandbox, path__endswith="domains/check")
    assert calls.count() == len(BATCHES) + 1
    assert not calls.filter(status_code=429).exists()
    done = check_of(check.pk)
    assert done.results == {d: {"state": "available"} for d in DOMAINS}
    assert done.waiting_until is None
    # The page's count only ever went up, through the kill and the resume.
    assert progress.seen == sorted(progress.seen)
    assert 2 * CHECK_BATCH_SIZE in progress.seen
    # The resume came from the sweeper: the dead worker's message is still waiting.
    assert broker.unacked() == 1

    # When Redis does hand that message out again, the finished check is left as it is.
    later = workers("later", DFY_TEST_RESTORE_AFTER_SECONDS="1")
    wait_for(
        lambda: (
            checks_run(second, later) == 2
            and broker.unacked() == 0
            and broker.queued() == 0
        ),
        "the dead worker's message run again",
        later.log_path,
    )
    assert len(recorded.calls) == len(BATCHES) + 1
    assert check_of(check.pk).status == CheckStatus.DONE
