"""A 429 to the real order POST is an unknown outcome, not a free retry: on PostgreSQL, with a
real Celery worker on Redis and the sandbox served over real HTTP by the live server.

The live server runs in this process, so the sandbox's request pipeline is wrapped here to
answer the real POST with 429, after recording the order or without.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection, transaction

from orders import instantly_keys, workflow
from orders.models import Order, OrderStatus
from sandbox import api as sandbox_api
from sandbox.http import ApiError
from sandbox.models import RequestLog, RestrictedKeyword, real_order_posts
from sandbox.rules import DEFAULT_RESTRICTED_KEYWORDS
from sandbox.services import sandbox_workspace_create
from tests.conftest import require_service
from tests.integration.support import submitted_order, wait_until_idle
from tests.integration.test_money_path import approve, status_of, wait_for

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.postgres,
    pytest.mark.redis,
]


@pytest.fixture(autouse=True)
def _services() -> None:
    require_service(
        "PostgreSQL",
        connection.vendor == "postgresql",
        "set DATABASE_URL=postgres://... (the worker needs a shared database)",
    )
    require_service(
        "Redis",
        bool(getattr(django_settings, "REDIS_URL", "")),
        "set REDIS_URL=redis://... (the worker's broker)",
    )


@pytest.fixture
def remote(live_server, workspace, settings):  # type: ignore[no-untyped-def]
    RestrictedKeyword.objects.bulk_create(
        [RestrictedKeyword(keyword=k) for k in DEFAULT_RESTRICTED_KEYWORDS],
        ignore_conflicts=True,
    )
    base_url = f"{live_server.url}/sandbox/api/v2"
    settings.INSTANTLY_SANDBOX_BASE_URL = base_url
    sandbox, key = sandbox_workspace_create(name=f"remote of {workspace.slug}")
    instantly_keys.instantly_key_save(
        workspace=workspace, by=None, secret=key, label="Sandbox", base_url=base_url
    )
    return sandbox


class RealPostsRateLimited:
    """Wraps the sandbox pipeline: while `active`, the real order POST is answered 429,
    after the sandbox recorded the order (`record`) or before it did anything."""

    def __init__(self, monkeypatch, *, record: bool) -> None:  # type: ignore[no-untyped-def]
        self.record = record
        self.active = True
        self.original = sandbox_api._run
        monkeypatch.setattr(sandbox_api, "_run", self._run)

    def _run(self, request, endpoint, global_row, trace):  # type: ignore[no-untyped-def]
        if not (self.active and endpoint.places_orders and _is_real(request)):
            return self.original(request, endpoint, global_row, trace)
        if self.record:
            self.original(request, endpoint, global_row, trace)
        else:
            trace.real_order = True
            trace.workspace = sandbox_api._authenticate(request).workspace
        return ApiError(429, "Rate limit exceeded", retry_after=1).response()


def _is_real(request) -> bool:  # type: ignore[no-untyped-def]
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("simulation", False) is False


def test_a_429_after_the_order_was_recorded_is_reconciled_by_the_worker_to_placed(
    live_server,
    remote,
    workspace,
    operator,
    lead,
    monkeypatch,
    celery_worker_process,
):
    RealPostsRateLimited(monkeypatch, record=True)
    order = submitted_order(workspace, operator)

    approve(order, lead)
    wait_for(
        lambda: status_of(order) == OrderStatus.PLACED,
        "placed by reconciliation",
        celery_worker_process,
    )

    wait_until_idle(celery_worker_process)
    order.refresh_from_db()
    kinds = list(order.events.values_list("kind", flat=True))
    assert real_order_posts(remote) == 1
    assert RequestLog.objects.filter(real_order=True, status_code=429).count() == 1
    assert kinds[-3:] == ["place_request", "outcome_unknown", "reconciled_placed"]
    assert "429" in order.events.get(kind="outcome_unknown").detail["message"]
    assert order.reconcile_evidence["found"] == ["acme-mail.com"]
    assert order.reconcile_checks == 1


def test_a_429_never_recorded_posts_again_only_after_reconciliation_and_a_person(
    live_server,
    remote,
    workspace,
    operator,
    lead,
    ws_admin,
    settings,
    monkeypatch,
    celery_worker_process,
):
    limited = RealPostsRateLimited(monkeypatch, record=False)
    order = submitted_order(workspace, operator)

    approve(order, lead)
    wait_for(
        lambda: Order.objects.get(pk=order.pk).reconcile_checks == 1,
        "the worker's first reconciliation check",
        celery_worker_process,
    )
    wait_until_idle(celery_worker_process)
    order.refresh_from_db()
    assert order.status == OrderStatus.UNKNOWN
    assert order.reconcile_evidence["result"] == "not_found"
    assert order.next_reconcile_at is not None  # backing off, not re-posting
    assert real_order_posts(remote) == 1

    # The bound passes (here: at once) and the sweeper hands the order to a person.
    settings.DFY_RECONCILE_MAX_AGE_SECONDS = 0
    assert workflow.orders_sweep()["overdue"] == 1
    assert status_of(order) == OrderStatus.NEEDS_ATTENTION
    assert real_order_posts(remote) == 1

    limited.active = False
    with transaction.atomic():
        workflow.order_resubmit(
            order=Order.objects.get(pk=order.pk), by=ws_admin, comment="Not billed"
        )
    wait_for(
        lambda: status_of(order) == OrderStatus.PLACED,
        "placed by the re-submitted attempt",
        celery_worker_process,
    )

    told = order.events.get(kind="needs_attention").created_at
    posts = list(
        RequestLog.objects.real_orders()
        .for_workspace(remote)
        .order_by("created_at")
        .values_list("status_code", "created_at")
    )
    assert [status for status, _ in posts] == [429, 200]
    assert posts[1][1] > told
    # Exactly one check by the worker before the person acted; none after (it was placed).
    assert order.events.filter(kind="reconcile_check").count() == 1
    assert "orders.reconcile_order" in Path(celery_worker_process.log_path).read_text()
