"""The shared rate limiter: window arithmetic on a fake clock, the file store across two real
processes, and the Redis store against a real Redis when REDIS_URL is set."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from orders import ratelimit
from orders.ratelimit import (
    CHECK_HOUR,
    CHECK_MINUTE,
    DEFAULT_RULES,
    KIND_CHECK,
    KIND_DEFAULT,
    FileRateLimiter,
    MemoryRateLimiter,
    RedisRateLimiter,
    Rule,
    evaluate,
    get_limiter,
    limiter_bucket_for,
)

ROOT = Path(__file__).resolve().parents[2]
KEY = "sk_live_Zx9QpL2mW7vR4tY8uI0oP3aS6dF1gH5j"


class Clock:
    def __init__(self, now=1_700_000_000.0):
        self.now = now
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture(params=["memory", "file"])
def limiter_factory(request, tmp_path, clock):
    def make(rules=DEFAULT_RULES):
        if request.param == "memory":
            return MemoryRateLimiter(rules=rules, clock=clock)
        return FileRateLimiter(tmp_path / "ratelimit", rules=rules, clock=clock)

    return make


def acquire(limiter, clock, kind, bucket="b"):
    """Take a slot the way the client does: on refusal, wait as told and ask again.
    Returns the seconds waited."""
    waited = 0.0
    while not (reservation := limiter.try_acquire(bucket, kind)).granted:
        clock.sleep(reservation.wait)
        waited += reservation.wait
    return waited


def max_in_any_window(stamps, window):
    stamps = sorted(stamps)
    best = 0
    for i, start in enumerate(stamps):
        j = i
        while j < len(stamps) and stamps[j] - start < window:
            j += 1
        best = max(best, j - i)
    return best


# --- Arithmetic -----------------------------------------------------------------------------


def test_default_rules_are_half_the_global_budget_and_the_full_check_budget():
    # The check windows are a second longer: see the arrival tests below.
    assert (CHECK_MINUTE, CHECK_HOUR) == (61.0, 3601.0)
    assert {(r.scope, r.limit, r.window) for r in DEFAULT_RULES} == {
        ("all", 50, 1.0),
        ("all", 3000, 60.0),
        ("check", 30, CHECK_MINUTE),
        ("check", 900, CHECK_HOUR),
        ("forwarding", 10, 60.0),
        ("forwarding", 60, 3600.0),
    }


def test_an_entry_stops_counting_exactly_one_window_later():
    rules = [Rule("all", 1, 60.0, "one a minute")]

    assert evaluate({"all": [100.0]}, rules, KIND_DEFAULT, 159.5) == (0.5, rules[0])
    assert evaluate({"all": [100.0]}, rules, KIND_DEFAULT, 160.0) == (0.0, None)


def test_the_longest_blocking_rule_decides_the_wait():
    rules = [Rule("all", 2, 1.0, "short"), Rule("check", 2, 60.0, "long")]
    logs = {"all": [10.0, 10.5], "check": [10.0, 10.5]}

    assert evaluate(logs, rules, KIND_CHECK, 10.6) == (pytest.approx(59.4), rules[1])
    assert evaluate(logs, rules, KIND_DEFAULT, 10.6) == (pytest.approx(0.4), rules[0])


def test_31st_check_in_a_minute_waits_for_the_first_to_expire(limiter_factory, clock):
    limiter = limiter_factory()
    start = clock.now
    for _ in range(30):
        assert limiter.try_acquire("b", KIND_CHECK).granted
        clock.now += 1.5

    refused = limiter.try_acquire("b", KIND_CHECK)

    assert not refused.granted
    assert refused.wait == pytest.approx(start + CHECK_MINUTE - clock.now)
    assert refused.reason == "Instantly's domain-check limit (30 per minute)"
    assert limiter.try_acquire("b", KIND_DEFAULT).granted, (
        "other calls are not held up by the check limit"
    )


def test_a_refused_request_waits_the_full_window_and_is_not_recorded(
    limiter_factory, clock
):
    limiter = limiter_factory(rules=[Rule("all", 1, 1.0, "one a second")])
    assert limiter.try_acquire("b", KIND_DEFAULT).granted
    clock.now += 0.5

    refused = limiter.try_acquire("b", KIND_DEFAULT)
    clock.now += 0.5

    assert (refused.granted, refused.wait) == (False, pytest.approx(0.5))
    assert refused.reason == "one a second"
    assert limiter.try_acquire("b", KIND_DEFAULT).granted, (
        "the refusal half a second ago would still block if it had been recorded"
    )


def test_half_budget_50_per_second(limiter_factory, clock):
    limiter = limiter_factory()
    reservations = [limiter.try_acquire("b", KIND_DEFAULT) for _ in range(51)]

    assert [r.granted for r in reservations] == [True] * 50 + [False]
    assert reservations[-1].wait == pytest.approx(1.0)
    clock.now += 1.0
    assert limiter.try_acquire("b", KIND_DEFAULT).granted


def test_checks_count_against_the_global_budget_too(limiter_factory):
    limiter = limiter_factory(
        rules=[Rule("all", 3, 1.0, "global"), Rule("check", 30, 60.0, "check")]
    )
    for _ in range(3):
        assert limiter.try_acquire("b", KIND_CHECK).granted

    assert not limiter.try_acquire("b", KIND_DEFAULT).granted


def test_buckets_are_independent(limiter_factory):
    limiter = limiter_factory()
    for _ in range(30):
        limiter.try_acquire("workspace-a", KIND_CHECK)

    assert not limiter.try_acquire("workspace-a", KIND_CHECK).granted
    assert limiter.try_acquire("workspace-b", KIND_CHECK).granted


def test_900_checks_an_hour_even_when_each_minute_is_under_30(clock):
    limiter = MemoryRateLimiter(clock=clock)
    start = clock.now
    for _ in range(900):
        acquire(limiter, clock, KIND_CHECK)

    refused = limiter.try_acquire("b", KIND_CHECK)

    assert clock.now - start == pytest.approx(
        29 * CHECK_MINUTE, abs=1
    )  # 30 per minute for 30 minutes
    assert not refused.granted
    assert refused.reason == "Instantly's domain-check limit (900 per hour)"
    assert refused.wait == pytest.approx(start + CHECK_HOUR - clock.now)


def test_a_long_run_of_checks_never_exceeds_either_check_limit(clock):
    limiter = MemoryRateLimiter(clock=clock)
    stamps = []
    for _ in range(1000):
        acquire(limiter, clock, KIND_CHECK)
        stamps.append(clock.now)
        clock.now += 0.7

    assert max_in_any_window(stamps, 60.0) == 30
    assert max_in_any_window(stamps, 3600.0) == 900


def fixed_windows(stamps, window):
    """How many of `stamps` fall in each window aligned to the clock, as the sandbox (and
    Instantly's documentation) counts them."""
    counts: dict[int, int] = {}
    for stamp in stamps:
        slot = int(stamp // window)
        counts[slot] = counts.get(slot, 0) + 1
    return counts


def arrivals(limiter, clock, calls, first_way_there):
    """When `calls` checks made one after another, as a check run makes them, reach Instantly:
    each waits for its slot, then takes 0.01 s to arrive (the first `first_way_there`, a new
    connection) and 0.05 s more to be answered."""
    times = []
    for call in range(calls):
        acquire(limiter, clock, KIND_CHECK)
        way_there = first_way_there if call == 0 else 0.01
        times.append(clock.now + way_there)
        clock.now += way_there + 0.05
    return times


# A clock minute's boundary.
BOUNDARY = 1_700_000_000.0 - 1_700_000_000.0 % 60


@pytest.mark.parametrize("granted_after_boundary", [-0.5, -0.01, 0.0, 30.0])
def test_checks_never_fill_a_clock_minute_past_30_whatever_their_way_there(
    clock, granted_after_boundary
):
    """1,500 domains are 30 calls in one burst; a longer check's 31st call goes a window after
    its first. Even when the first was granted just before a clock minute began and arrived
    just after (up to the margin later than the others), Instantly counts at most 30 in each
    of its clock minutes."""
    clock.now = BOUNDARY + granted_after_boundary
    limiter = MemoryRateLimiter(clock=clock)

    times = arrivals(limiter, clock, 150, first_way_there=0.99)

    assert max(fixed_windows(times, 60).values()) == 30
    assert max_in_any_window(times, 60.0) == 30


def test_without_the_margin_a_slow_first_call_makes_a_31st_in_a_clock_minute(clock):
    """Why the margin: with a window of exactly 60 s, the 31st call is granted a minute after
    the first, before the first's clock minute ends, when the first was granted just before
    that minute began and arrived in it."""
    clock.now = BOUNDARY - 0.1
    limiter = MemoryRateLimiter(
        rules=[Rule(KIND_CHECK, 30, 60.0, "exactly a minute")], clock=clock
    )

    times = arrivals(limiter, clock, 31, first_way_there=0.3)

    assert max(fixed_windows(times, 60).values()) == 31


def test_bucket_names_are_checked(limiter_factory):
    with pytest.raises(ValueError, match="bucket"):
        limiter_factory().try_acquire("../etc/passwd", KIND_DEFAULT)


# --- Buckets keep the key out of storage ------------------------------------------------------


def test_bucket_is_stable_and_does_not_reveal_the_key():
    bucket = limiter_bucket_for(api_key=KEY, base_url="https://api.instantly.ai/api/v2")

    assert bucket == limiter_bucket_for(
        api_key=KEY, base_url="https://api.instantly.ai/api/v2/"
    )
    assert bucket != limiter_bucket_for(
        api_key=KEY, base_url="http://127.0.0.1:8000/sandbox/api/v2"
    )
    assert KEY not in bucket
    assert KEY[-8:] not in bucket


def test_file_store_holds_no_key(tmp_path, clock):
    limiter = FileRateLimiter(tmp_path, clock=clock)
    bucket = limiter_bucket_for(api_key=KEY, base_url="https://api.instantly.ai/api/v2")

    limiter.try_acquire(bucket, KIND_CHECK)

    for path in tmp_path.iterdir():
        assert KEY not in path.name
        assert KEY not in path.read_text()


def test_unreadable_file_state_starts_afresh(tmp_path, clock):
    limiter = FileRateLimiter(
        tmp_path, rules=[Rule("all", 1, 60.0, "one")], clock=clock
    )
    (tmp_path / "b.json").write_text("{not json")

    assert limiter.try_acquire("b", KIND_DEFAULT).granted
    assert not limiter.try_acquire("b", KIND_DEFAULT).granted


def test_file_state_is_trimmed_to_what_the_rules_need(tmp_path, clock):
    limiter = FileRateLimiter(
        tmp_path,
        rules=[Rule("all", 5, 1.0, "five a second")],
        clock=clock,
    )
    for _ in range(100):
        acquire(limiter, clock, KIND_DEFAULT)
        clock.now += 0.01

    stored = json.loads((tmp_path / "b.json").read_text())["scopes"]["all"]
    assert len(stored) <= 5


# --- The file store across real processes ------------------------------------------------------

WORKER = textwrap.dedent(
    """
    import json, sys, time
    from orders.ratelimit import FileRateLimiter, RedisRateLimiter, Rule

    store, target, count, start_at, prefix = sys.argv[1:6]
    rules = (Rule("all", 10, 0.5, "ten per half second"),)
    if store == "file":
        limiter = FileRateLimiter(target, rules=rules)
    else:
        import redis
        limiter = RedisRateLimiter(redis.Redis.from_url(target), rules=rules, prefix=prefix)
    time.sleep(max(0.0, float(start_at) - time.time()))
    stamps = []
    while len(stamps) < int(count):
        reservation = limiter.try_acquire("shared", "default")
        if reservation.granted:
            stamps.append(reservation.at)
        else:
            time.sleep(reservation.wait)
    print(json.dumps(stamps))
    """
)


def run_two_processes(store, target, count, prefix=""):
    start_at = (
        time.time() + 1.5
    )  # both interpreters are up before either starts acquiring
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                WORKER,
                store,
                target,
                str(count),
                str(start_at),
                prefix,
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        results.append(json.loads(out))
    return results


@pytest.mark.timeout(90)
def test_file_limiter_is_shared_by_two_real_processes(tmp_path):
    first, second = run_two_processes("file", str(tmp_path / "ratelimit"), 25)

    combined = first + second
    assert len(combined) == 50
    assert max_in_any_window(combined, 0.5) <= 10
    # Sharing, not taking turns by accident: each process got slots while the other was still
    # acquiring (their active spans overlap), so the window above held for both together.
    # Compared by order, not by wall time: a loaded machine may start one interpreter late.
    assert min(first) < max(second)
    assert min(second) < max(first)


# --- Redis ----------------------------------------------------------------------------------------


@pytest.fixture
def redis_prefix(redis_url):
    prefix = f"test:ratelimit:{uuid.uuid4().hex}"
    yield prefix
    connection = redis.Redis.from_url(redis_url)
    for key in connection.scan_iter(f"{prefix}:*"):
        connection.delete(key)


@pytest.mark.redis
def test_redis_sliding_window_with_a_fake_clock(redis_url, redis_prefix, clock):
    limiter = RedisRateLimiter(
        redis.Redis.from_url(redis_url), clock=clock, prefix=redis_prefix
    )
    start = clock.now
    for _ in range(30):
        assert limiter.try_acquire("b", KIND_CHECK).granted
        clock.now += 1.5

    refused = limiter.try_acquire("b", KIND_CHECK)
    waited = acquire(limiter, clock, KIND_CHECK)

    assert not refused.granted
    assert refused.wait == pytest.approx(start + CHECK_MINUTE - (start + 45), abs=0.002)
    assert refused.reason == "Instantly's domain-check limit (30 per minute)"
    assert waited == pytest.approx(CHECK_MINUTE - 45, abs=0.002)
    assert not limiter.try_acquire("b", KIND_CHECK).granted


@pytest.mark.redis
def test_redis_half_budget_with_server_time(redis_url, redis_prefix):
    limiter = RedisRateLimiter(redis.Redis.from_url(redis_url), prefix=redis_prefix)

    # The budget is per second of Redis' clock, so the 51 calls must fit in one second. On a
    # busy machine they may not: try again on a fresh bucket rather than fail on load.
    for attempt in range(3):
        bucket = f"b{attempt}"
        started = time.monotonic()
        reservations = [limiter.try_acquire(bucket, KIND_DEFAULT) for _ in range(51)]
        if time.monotonic() - started < 1.0:
            break
    else:
        pytest.fail("51 round trips to Redis never fit inside one second")

    assert [r.granted for r in reservations] == [True] * 50 + [False]
    assert 0 < reservations[-1].wait <= 1.0


@pytest.mark.redis
def test_redis_store_holds_no_key(redis_url, redis_prefix):
    connection = redis.Redis.from_url(redis_url)
    limiter = RedisRateLimiter(connection, prefix=redis_prefix)

    limiter.try_acquire(
        limiter_bucket_for(api_key=KEY, base_url="https://api.instantly.ai/api/v2"),
        KIND_CHECK,
    )

    keys = list(connection.scan_iter(f"{redis_prefix}:*"))
    assert len(keys) == 2
    assert all(KEY.encode() not in key for key in keys)
    assert all(connection.ttl(key) > 0 for key in keys)


@pytest.mark.redis
@pytest.mark.timeout(90)
def test_redis_limiter_is_shared_by_two_real_processes(redis_url, redis_prefix):
    first, second = run_two_processes("redis", redis_url, 25, redis_prefix)

    combined = first + second
    assert len(combined) == 50
    assert max_in_any_window(combined, 0.5) <= 10


def test_redis_outage_is_reported_as_unavailable():
    no_retry = Retry(NoBackoff(), retries=0)
    limiter = RedisRateLimiter(
        redis.Redis(
            host="127.0.0.1", port=1, socket_connect_timeout=0.2, retry=no_retry
        )
    )

    with pytest.raises(ratelimit.RateLimiterUnavailable):
        limiter.try_acquire("b", KIND_DEFAULT)


# --- Factory -------------------------------------------------------------------------------------


@pytest.fixture
def fresh_factory():
    ratelimit._redis_limiter.cache_clear()
    ratelimit._file_limiter.cache_clear()
    yield
    ratelimit._redis_limiter.cache_clear()
    ratelimit._file_limiter.cache_clear()


def test_get_limiter_uses_files_under_var_dir_without_redis(
    settings, tmp_path, fresh_factory
):
    settings.REDIS_URL = ""
    settings.VAR_DIR = tmp_path

    limiter = get_limiter()

    assert isinstance(limiter, FileRateLimiter)
    assert limiter.directory == tmp_path / "ratelimit"
    assert get_limiter() is limiter


def test_get_limiter_uses_redis_when_configured(settings, fresh_factory):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"

    assert isinstance(get_limiter(), RedisRateLimiter)
