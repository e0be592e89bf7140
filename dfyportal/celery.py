"""The Celery app and its static beat schedule (intervals come from settings)."""

from __future__ import annotations

import os
from pathlib import Path

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dfyportal.settings")

app = Celery("dfyportal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_configure.connect
def _make_broker_folders(sender: Celery, **kwargs: object) -> None:
    """Kombu's filesystem transport (the embedded default) expects its folders to exist."""
    options = sender.conf.broker_transport_options or {}
    for key in (
        "data_folder_in",
        "data_folder_out",
        "processed_folder",
        "control_folder",
    ):
        if folder := options.get(key):
            Path(folder).mkdir(parents=True, exist_ok=True)


@app.on_after_finalize.connect
def _schedule(sender: Celery, **kwargs: object) -> None:
    from django.conf import settings

    sender.conf.beat_schedule = {
        "sweep-stranded-orders": {
            "task": "orders.sweep_orders",
            "schedule": float(settings.DFY_SWEEP_INTERVAL),
        },
        "sweep-cancellations": {
            "task": "orders.sweep_cancellations",
            "schedule": float(settings.DFY_SWEEP_INTERVAL),
        },
        "sweep-domain-checks": {
            "task": "orders.sweep_domain_checks",
            "schedule": float(settings.DFY_SWEEP_INTERVAL),
        },
        "poll-fulfilment": {
            "task": "orders.poll_fulfilment",
            "schedule": float(settings.DFY_POLL_INTERVAL),
        },
        "poll-health": {
            "task": "orders.poll_health",
            "schedule": float(settings.DFY_HEALTH_INTERVAL),
        },
        "run-scheduled-cancellations": {
            "task": "orders.run_scheduled_cancellations",
            "schedule": float(settings.DFY_RENEWAL_RUN_INTERVAL),
        },
    }
