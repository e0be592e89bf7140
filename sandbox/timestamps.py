"""Instantly's timestamp style: ISO-8601 UTC with milliseconds and a trailing Z."""

from __future__ import annotations

from datetime import UTC, datetime

from django.utils import timezone


def now_ms() -> datetime:
    """Now, cut to whole milliseconds, so a cursor built from a timestamp matches it exactly."""
    now = timezone.now()
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def iso(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_iso(text: str) -> datetime | None:
    """The inverse of iso(); None for anything else (cursors come from clients)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None or not text.endswith("Z"):
        return None
    return moment.astimezone(UTC)
