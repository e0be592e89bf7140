"""orders.conf: every reader takes its value from settings when called (so a test's override
applies), with the default defined once, in dfyportal/settings.py."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from dfyportal import settings as settings_module
from orders import conf

ROOT = Path(__file__).resolve().parents[2]


def test_readers_return_what_the_settings_module_defines():
    s = settings_module
    assert conf.trusted_proxy_count() == s.DFY_TRUSTED_PROXY_COUNT
    assert conf.stuck_after() == timedelta(hours=s.DFY_STUCK_AFTER_HOURS)
    assert conf.reconcile_clock_skew() == timedelta(
        seconds=s.DFY_RECONCILE_CLOCK_SKEW_SECONDS
    )
    assert conf.instantly_timeout_seconds() == s.INSTANTLY_TIMEOUT_SECONDS
    assert conf.instantly_deadline_seconds() == s.INSTANTLY_DEADLINE_SECONDS
    assert conf.site_url() == s.DFY_SITE_URL.rstrip("/")
    assert conf.redis_url() == s.REDIS_URL == django_settings.REDIS_URL


def test_readers_follow_an_override_made_after_import(settings):
    settings.DFY_TRUSTED_PROXY_COUNT = 2
    settings.DFY_STUCK_AFTER_HOURS = 1.5
    settings.DFY_RECONCILE_CLOCK_SKEW_SECONDS = 7
    settings.INSTANTLY_TIMEOUT_SECONDS = 12
    settings.INSTANTLY_DEADLINE_SECONDS = 45
    settings.DFY_SITE_URL = "https://portal.example.test//"
    settings.REDIS_URL = "redis://cache.example.test:6379/3"

    assert conf.trusted_proxy_count() == 2
    assert conf.stuck_after() == timedelta(minutes=90)
    assert conf.reconcile_clock_skew() == timedelta(seconds=7)
    assert conf.instantly_timeout_seconds() == 12.0
    assert isinstance(conf.instantly_timeout_seconds(), float)
    assert conf.instantly_deadline_seconds() == 45.0
    assert conf.site_url() == "https://portal.example.test"
    assert conf.redis_url() == "redis://cache.example.test:6379/3"


def test_an_unset_redis_url_reads_as_empty(settings):
    settings.REDIS_URL = None

    assert conf.redis_url() == ""


@pytest.mark.parametrize(
    "name",
    [
        "DFY_TRUSTED_PROXY_COUNT",
        "DFY_STUCK_AFTER_HOURS",
        "DFY_RECONCILE_CLOCK_SKEW_SECONDS",
        "INSTANTLY_TIMEOUT_SECONDS",
        "INSTANTLY_DEADLINE_SECONDS",
        "DFY_SITE_URL",
        "REDIS_URL",
        "SANDBOX_PROVIDER_RULES",
    ],
)
def test_every_setting_read_has_its_default_in_the_settings_module(name):
    assert hasattr(settings_module, name)


def test_product_code_has_no_settings_fallbacks():
    """A `getattr(settings, "X", default)` restates a default that settings.py owns, and the
    two drift apart (the Instantly timeout once said 10 s in one and 15 s in the other)."""
    pattern = re.compile(r"getattr\(\s*(django_)?settings\s*,")
    offenders = {
        path.relative_to(ROOT).as_posix()
        for package in ("orders", "sandbox", "dfyportal")
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.parts and pattern.search(path.read_text())
    }
    assert offenders == set()
