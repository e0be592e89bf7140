"""Celery tasks (STYLE G10): thin, named, id-only, idempotent; each calls one service."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, ParamSpec, TypeVar, cast

from celery import shared_task

from orders import finders, mirror, services
from orders.instantly import InstantlyTransientError
from orders.models import DomainCheck, Workspace

if TYPE_CHECKING:
    from celery.app.task import Task
    from celery.contrib.django.task import DjangoTask

logger = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")


def _on_commit_capable(task: Task[P, R]) -> DjangoTask[P, R]:
    """Under Django, Celery's fixup makes every task a DjangoTask (with `delay_on_commit`);
    celery-types only knows `Task`. Typing only: the task object is returned unchanged."""
    return cast("DjangoTask[P, R]", task)


@_on_commit_capable
@shared_task(
    name="orders.verify_key",
    ignore_result=True,
    acks_late=True,
    soft_time_limit=60,
    time_limit=90,
)
def verify_key_task(*, workspace_id: int) -> None:
    """Verify the workspace's Instantly key and store its status. Idempotent; a workspace or
    key deleted since enqueueing is skipped. Unreachable is stored, not retried: the user can
    press "Verify now" again."""
    workspace = Workspace.objects.filter(pk=workspace_id).first()
    if workspace is None:
        logger.info("verify_key: workspace %s is gone", workspace_id)
        return
    try:
        services.instantly_key_verify(workspace=workspace)
    except services.InstantlyKeyMissing:
        logger.info("verify_key: workspace %s has no key any more", workspace.slug)


@_on_commit_capable
@shared_task(
    name="orders.check_domains",
    ignore_result=True,
    acks_late=True,
    autoretry_for=(InstantlyTransientError,),
    retry_backoff=True,
    max_retries=5,
    soft_time_limit=600,
    time_limit=660,
)
def check_domains_task(*, check_id: int) -> None:
    """Run (or resume) a domain availability check. Idempotent: checked domains are skipped."""
    check = (
        DomainCheck.objects.select_related("workspace", "order")
        .filter(pk=check_id)
        .first()
    )
    if check is None or check.is_finished:
        return
    finders.domain_check_run(check=check)


@_on_commit_capable
@shared_task(
    name="orders.refresh_remote_mirror",
    ignore_result=True,
    acks_late=True,
    autoretry_for=(InstantlyTransientError,),
    retry_backoff=True,
    max_retries=5,
    soft_time_limit=300,
    time_limit=360,
)
def refresh_remote_mirror_task(*, workspace_id: int) -> None:
    """Upsert the workspace's ordered domains and mailboxes from Instantly. Idempotent."""
    workspace = Workspace.objects.filter(pk=workspace_id).first()
    if workspace is None:
        return
    try:
        with services.instantly_client_for(workspace=workspace) as client:
            mirror.remote_mirror_refresh(workspace=workspace, client=client)
    except services.InstantlyKeyMissing:
        logger.info("refresh_remote_mirror: workspace %s has no key", workspace.slug)
