"""Every way a forwarding change can fail reads as one plain sentence with a code the page
acts on (retry later, fix the key, nothing changed), and a known state describes itself."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from orders import instantly, instantly_keys
from orders.forwarding import ForwardingState, forwarding_problem


def _deadline_after(cause: Exception, retry_after: float | None) -> Exception:
    try:
        raise instantly.DeadlineExceeded(
            "deadline", request_sent=False, retry_after=retry_after
        ) from cause
    except instantly.DeadlineExceeded as exc:
        return exc


@pytest.mark.parametrize(
    ("exc", "code", "words", "retry_after", "fix_key"),
    [
        (
            instantly.RateLimited("429", request_sent=False, retry_after=None),
            "rate_limited",
            "try again in 60 seconds",
            60.0,
            False,
        ),
        (
            instantly.RateLimited("429", request_sent=False, retry_after=1),
            "rate_limited",
            "1 second",
            1,
            False,
        ),
        (
            instantly.RateLimited("429", request_sent=False, retry_after=150),
            "rate_limited",
            "3 minutes",
            150,
            False,
        ),
        (
            _deadline_after(instantly.RateLimited("429", retry_after=20), 20),
            "rate_limited",
            "20 seconds",
            20,
            False,
        ),
        # A deadline passed while backing off from a server error is not about the limit.
        (
            _deadline_after(instantly.InstantlyTransientError("503"), 20),
            "no_answer",
            "could not be reached; nothing changed",
            None,
            False,
        ),
        (
            instantly.InstantlyTransientError("timeout", request_sent=True),
            "no_answer",
            "",
            None,
            False,
        ),
        (
            instantly.InstantlyAuthError("401 Unauthorized"),
            "key",
            "refused the workspace's API key",
            None,
            True,
        ),
        (
            instantly.InstantlyNotFound("404"),
            "refused",
            "does not list acme.com",
            None,
            False,
        ),
        (
            instantly.InstantlyValidationError("400 bad"),
            "refused",
            "refused the change: 400 bad",
            None,
            False,
        ),
    ],
)
def test_each_failure_reads_as_a_sentence_with_its_code(
    exc, code, words, retry_after, fix_key
) -> None:
    problem = forwarding_problem(exc, domain="acme.com")

    assert problem.code == code
    assert words in problem.message
    assert problem.retry_after == retry_after
    assert problem.fix_key is fix_key


def test_a_missing_key_points_at_the_key_settings() -> None:
    exc = instantly_keys.InstantlyKeyMissing(
        "This workspace has no Instantly API key yet."
    )
    problem = forwarding_problem(exc, domain="acme.com")
    assert (problem.code, problem.fix_key) == ("key", True)


def test_a_state_names_its_mode_and_age() -> None:
    now = timezone.now()
    fresh = ForwardingState("acme.com", "acme.io", "stealth", now, "instantly")
    old = ForwardingState(
        "acme.com", "acme.io", "frame", now - timedelta(hours=3), "mirror"
    )
    unknown = ForwardingState("acme.com", "", "", None, "ordered")

    assert fresh.mode_label == "Stealth (the address stays)"
    assert fresh.age == "just now"
    assert old.mode_label == "frame"  # a mode Instantly added later shows as sent
    assert old.age == "3\xa0hours ago"
    assert unknown.age == ""
    assert unknown.describe() == "acme.com does not forward"
