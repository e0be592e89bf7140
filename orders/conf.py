"""Typed reads of the portal's own settings, one function each.

Each reads `settings.NAME` when called, never at import, because tests override settings
per test (pytest-django's `settings` fixture). Defaults live only in dfyportal/settings.py:
a missing setting is a configuration error, not something to paper over here. The money
path's bounds have their own readers in orders/workflow/common.py.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings


def trusted_proxy_count() -> int:
    """Proxies in front of the portal whose X-Forwarded-For entries are trusted
    (docs/security.md, "Log-in throttling"); 0 trusts none."""
    return int(settings.DFY_TRUSTED_PROXY_COUNT)


def stuck_after() -> timedelta:
    """An order being fulfilled with no progress this long is stuck: read by both the
    fulfilment poll's flag and the dashboard, so the two always agree."""
    return timedelta(hours=float(settings.DFY_STUCK_AFTER_HOURS))


def reconcile_clock_skew() -> timedelta:
    """Tolerance between our clock and Instantly's when matching "created after the
    attempt"."""
    return timedelta(seconds=int(settings.DFY_RECONCILE_CLOCK_SKEW_SECONDS))


def instantly_timeout_seconds() -> float:
    """Bound on one read or write of a request to Instantly."""
    return float(settings.INSTANTLY_TIMEOUT_SECONDS)


def instantly_deadline_seconds() -> float:
    """Bound on one client call to Instantly, its retries and waits included."""
    return float(settings.INSTANTLY_DEADLINE_SECONDS)


def site_url() -> str:
    """The portal's public address without a trailing slash, for links in messages."""
    return str(settings.DFY_SITE_URL).rstrip("/")


def redis_url() -> str:
    """The Redis server shared by the broker, the cache and the rate limiter; "" when the
    portal runs embedded (files under VAR_DIR instead)."""
    return str(settings.REDIS_URL or "")


def scheduled_cancel_approval_over() -> int:
    """A cancellation scheduled before a renewal needs a second lead's approval when it
    cancels more mailboxes than this (docs/renewals.md)."""
    return int(settings.DFY_SCHEDULED_CANCEL_APPROVAL_OVER)


def credentials_reveal_seconds() -> int:
    """How long a credential reveal page shows the passwords (docs/security.md,
    "Credential reveals")."""
    return int(settings.DFY_CREDENTIALS_REVEAL_SECONDS)
