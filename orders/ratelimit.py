"""A rate limiter shared by every web and worker process, per Instantly workspace.

Instantly counts requests per workspace: 100/s and 6,000/min overall, plus 30/min and 900/h
for `domains/check`, and 10/min and 60/h for changing a domain's forwarding. The portal keeps
to half of the global budget (so a second tool on the same workspace still has room) and to the
full check and forwarding budgets, which are already tight.

The algorithm is a sliding-window log: every granted request is recorded with its time, and a
request is granted only if, for every rule that applies to it, fewer than `limit` requests were
granted in the last `window` seconds. That guarantees the limit in *any* window, so also in
each of Instantly's fixed clock minutes, wherever their boundaries fall. Bursts are allowed: 30
checks go at once and the 31st waits until the first is a window old, so a check of 1,500
domains (30 calls of 50) does not wait unless other checks ran in the minute before. The limiter counts a request when it grants it, Instantly
when the request arrives: two requests a window apart here can arrive less than a window apart
there (the first took longer on its way), and Instantly would count one too many in a minute. So
the check windows, which a long check fills one after another, are `ARRIVAL_MARGIN_SECONDS`
longer. Two stores share the algorithm:

- `RedisRateLimiter` (when settings.REDIS_URL is set): one sorted set per scope, checked and
  updated atomically by a Lua script, timed by the Redis server's clock so hosts agree.
- `FileRateLimiter` (the embedded default): one JSON file per bucket under VAR_DIR/ratelimit,
  read and written under an exclusive `fcntl` lock, so processes on one machine agree.

A bucket names one Instantly workspace. It is derived from the API key with SHA-256
(`limiter_bucket_for`) so that neither Redis nor the file system ever holds the key itself.
"""

from __future__ import annotations

import bisect
import contextlib
import fcntl
import functools
import hashlib
import json
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Protocol

import redis

logger = logging.getLogger(__name__)

KIND_DEFAULT = "default"
KIND_CHECK = "check"
KIND_FORWARDING = "forwarding"
SCOPE_ALL = "all"

_BUCKET_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# How much longer one request may take to reach Instantly than another (connection set-up, a
# slow hop) without Instantly counting one too many in a window: more than the way there varies
# on a working connection, for 1/61 of the check budget's pace.
ARRIVAL_MARGIN_SECONDS: Final = 1.0
CHECK_MINUTE: Final = 60.0 + ARRIVAL_MARGIN_SECONDS
CHECK_HOUR: Final = 3600.0 + ARRIVAL_MARGIN_SECONDS


@dataclass(frozen=True, slots=True)
class Rule:
    """At most `limit` requests of `scope` (a request kind, or "all") in any `window` seconds."""

    scope: str
    limit: int
    window: float
    label: str


DEFAULT_RULES: tuple[Rule, ...] = (
    Rule(
        SCOPE_ALL,
        50,
        1.0,
        "the portal's share of Instantly's limit (50 requests per second)",
    ),
    Rule(
        SCOPE_ALL,
        3000,
        60.0,
        "the portal's share of Instantly's limit (3,000 requests per minute)",
    ),
    Rule(
        KIND_CHECK, 30, CHECK_MINUTE, "Instantly's domain-check limit (30 per minute)"
    ),
    Rule(KIND_CHECK, 900, CHECK_HOUR, "Instantly's domain-check limit (900 per hour)"),
    # Changing or removing a domain's forwarding has its own, much smaller budget.
    Rule(
        KIND_FORWARDING,
        10,
        60.0,
        "Instantly's forwarding limit (10 changes per minute)",
    ),
    Rule(
        KIND_FORWARDING,
        60,
        3600.0,
        "Instantly's forwarding limit (60 changes per hour)",
    ),
)


@dataclass(frozen=True, slots=True)
class Reservation:
    """The answer of `try_acquire`: granted (and recorded at `at`), or how long to wait and why."""

    granted: bool
    wait: float
    reason: str
    at: float


class RateLimiterUnavailable(Exception):
    """The shared store could not be reached; nothing was recorded."""


class RateLimiter(Protocol):
    """What the client needs: record a request of `kind` now, or say how long to wait. The
    caller does the waiting, so it can fit the wait into its own deadline."""

    def try_acquire(self, bucket: str, kind: str) -> Reservation: ...


def limiter_bucket_for(*, api_key: str, base_url: str) -> str:
    """A stable, non-reversible bucket name for one key on one remote (live or sandbox)."""
    digest = hashlib.sha256(f"{base_url.rstrip('/')}\n{api_key}".encode()).hexdigest()
    return f"k{digest[:24]}"


def scopes_for(kind: str) -> tuple[str, ...]:
    return (SCOPE_ALL,) if kind == SCOPE_ALL else (SCOPE_ALL, kind)


def evaluate(
    logs: Mapping[str, Sequence[float]], rules: Sequence[Rule], kind: str, now: float
) -> tuple[float, Rule | None]:
    """How long a request of `kind` must wait at `now`, and the rule that makes it wait.

    `logs` maps a scope to the ascending times of granted requests. An entry at time t counts
    in the window (now - window, now], so it stops counting at exactly t + window.
    """
    wait = 0.0
    blocking: Rule | None = None
    scopes = scopes_for(kind)
    for rule in rules:
        if rule.scope not in scopes:
            continue
        log = logs.get(rule.scope, ())
        start = bisect.bisect_right(log, now - rule.window)
        count = len(log) - start
        if count >= rule.limit:
            rule_wait = log[start + count - rule.limit] + rule.window - now
            if rule_wait > wait:
                wait, blocking = rule_wait, rule
    return wait, blocking


def _retention(rules: Sequence[Rule]) -> dict[str, tuple[float, int]]:
    """Per scope: the longest window and the largest limit, i.e. what must be kept."""
    keep: dict[str, tuple[float, int]] = {}
    for rule in rules:
        window, limit = keep.get(rule.scope, (0.0, 0))
        keep[rule.scope] = (max(window, rule.window), max(limit, rule.limit))
    return keep


def _check_bucket(bucket: str) -> str:
    if not _BUCKET_RE.match(bucket):
        raise ValueError("a limiter bucket is 1-64 letters, digits, '-' or '_'")
    return bucket


class _SlidingWindowLimiter:
    """The decision shared by the stores; subclasses implement `try_acquire`."""

    def __init__(
        self,
        *,
        rules: Sequence[Rule] = DEFAULT_RULES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.rules = tuple(rules)
        self._retention = _retention(self.rules)
        self._clock = clock

    def _decide(
        self, logs: dict[str, list[float]], kind: str, now: float
    ) -> Reservation:
        """Evaluate and, when allowed, record `now` in every scope of `kind` (caller holds the lock)."""
        wait, rule = evaluate(logs, self.rules, kind, now)
        if rule is not None:
            return Reservation(granted=False, wait=wait, reason=rule.label, at=now)
        for scope in self._recorded_scopes(kind):
            log = logs.get(scope, [])
            bisect.insort(log, now)
            logs[scope] = self._trim(scope, log, now)
        return Reservation(granted=True, wait=0.0, reason="", at=now)

    def _recorded_scopes(self, kind: str) -> tuple[str, ...]:
        """The scopes a request of `kind` is logged in: those some rule limits."""
        return tuple(scope for scope in scopes_for(kind) if scope in self._retention)

    def _trim(self, scope: str, log: list[float], now: float) -> list[float]:
        window, limit = self._retention.get(scope, (0.0, 0))
        start = bisect.bisect_right(log, now - window)
        return log[max(start, len(log) - limit) :]


class MemoryRateLimiter(_SlidingWindowLimiter):
    """Per process only: for tests and single-process tools, never for the running portal."""

    def __init__(
        self,
        *,
        rules: Sequence[Rule] = DEFAULT_RULES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(rules=rules, clock=clock)
        self._lock = threading.Lock()
        self._logs: dict[str, dict[str, list[float]]] = {}

    def try_acquire(self, bucket: str, kind: str) -> Reservation:
        with self._lock:
            logs = self._logs.setdefault(_check_bucket(bucket), {})
            now = self._clock()
            return self._decide(logs, kind, now)


class FileRateLimiter(_SlidingWindowLimiter):
    """Shared by all processes on one machine through files in `directory`.

    Each bucket has `<bucket>.json` (the logs) and `<bucket>.lock` (held with `flock` while the
    logs are read, decided on and rewritten). Times come from the wall clock, which all local
    processes share and which survives restarts.
    """

    def __init__(
        self,
        directory: Path | str,
        *,
        rules: Sequence[Rule] = DEFAULT_RULES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(rules=rules, clock=clock)
        self.directory = Path(directory)

    def try_acquire(self, bucket: str, kind: str) -> Reservation:
        with self._locked(_check_bucket(bucket)):
            logs = self._load(bucket)
            reservation = self._decide(logs, kind, self._clock())
            if reservation.granted:
                self._store(bucket, logs)
            return reservation

    @contextlib.contextmanager
    def _locked(self, bucket: str) -> Iterator[None]:
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(
                self.directory / f"{bucket}.lock", os.O_RDWR | os.O_CREAT, 0o600
            )
        except OSError as exc:
            raise RateLimiterUnavailable(
                f"rate-limit directory unusable: {exc}"
            ) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            # Closing the descriptor releases the flock too; unlock first to be explicit.
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _load(self, bucket: str) -> dict[str, list[float]]:
        path = self.directory / f"{bucket}.json"
        try:
            raw = json.loads(path.read_text())
            logs = {
                str(scope): sorted(float(t) for t in times)
                for scope, times in raw["scopes"].items()
            }
        except FileNotFoundError:
            return {}
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            # Losing the log can only let a short burst through; Instantly's 429 (retried for
            # reads) is the backstop. Refusing all requests forever would be worse.
            logger.warning(
                "rate-limit state %s unreadable (%s); starting afresh", path.name, exc
            )
            return {}
        return logs

    def _store(self, bucket: str, logs: Mapping[str, list[float]]) -> None:
        path = self.directory / f"{bucket}.json"
        tmp = path.with_suffix(".tmp")
        payload = {
            "v": 1,
            # repr() of a float round-trips exactly, so stored times equal granted ones.
            "scopes": {scope: list(log) for scope, log in logs.items()},
        }
        tmp.write_text(json.dumps(payload, separators=(",", ":")))
        os.replace(tmp, path)


# KEYS: one sorted set per scope. ARGV: now in ms ("" = Redis server time), a unique member,
# then per key its retention (ms, count), then the rule count and per rule (key index, limit,
# window ms). Returns {granted, wait ms, rule index or -1, now ms}; all integers, because Redis
# truncates Lua numbers in replies.
_REDIS_SCRIPT = """
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local member = ARGV[2]
local pos = 3
local keep = {}
for i = 1, #KEYS do
  local keep_ms = tonumber(ARGV[pos])
  local keep_count = tonumber(ARGV[pos + 1])
  pos = pos + 2
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - keep_ms)
  redis.call('ZREMRANGEBYRANK', KEYS[i], 0, -(keep_count + 1))
  keep[i] = keep_ms
end
local nrules = tonumber(ARGV[pos])
pos = pos + 1
local wait = 0
local which = -1
for r = 1, nrules do
  local key = KEYS[tonumber(ARGV[pos])]
  local limit = tonumber(ARGV[pos + 1])
  local window = tonumber(ARGV[pos + 2])
  local rule_index = tonumber(ARGV[pos + 3])
  pos = pos + 4
  local low = '(' .. string.format('%d', now - window)
  local count = redis.call('ZCOUNT', key, low, '+inf')
  if count >= limit then
    local entry = redis.call('ZRANGEBYSCORE', key, low, '+inf', 'WITHSCORES', 'LIMIT', count - limit, 1)
    local w = tonumber(entry[2]) + window - now
    if w > wait then
      wait = w
      which = rule_index
    end
  end
end
if wait > 0 then
  return {0, wait, which, now}
end
for i = 1, #KEYS do
  redis.call('ZADD', KEYS[i], now, member)
  redis.call('PEXPIRE', KEYS[i], keep[i] + 1000)
end
return {1, 0, -1, now}
"""


class RedisRateLimiter(_SlidingWindowLimiter):
    """Shared by all processes on all hosts through Redis.

    Times are the Redis server's clock unless a `clock` is given (tests use a fake one), with
    millisecond resolution. Keys share a hash tag per bucket so the script also runs on a
    cluster.
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        rules: Sequence[Rule] = DEFAULT_RULES,
        clock: Callable[[], float] | None = None,
        prefix: str = "dfy:ratelimit",
    ) -> None:
        super().__init__(rules=rules, clock=clock or time.time)
        self._server_time = clock is None
        self._redis = client
        self._script = client.register_script(_REDIS_SCRIPT)
        self._prefix = prefix

    def try_acquire(self, bucket: str, kind: str) -> Reservation:
        scopes = self._recorded_scopes(kind)
        keys = [
            f"{self._prefix}:{{{_check_bucket(bucket)}}}:{scope}" for scope in scopes
        ]
        args: list[str | int] = [
            "" if self._server_time else int(self._clock() * 1000),
            uuid.uuid4().hex,
        ]
        for scope in scopes:
            window, limit = self._retention.get(scope, (0.0, 0))
            args += [int(window * 1000), limit]
        applicable = [
            (i, rule) for i, rule in enumerate(self.rules) if rule.scope in scopes
        ]
        args.append(len(applicable))
        for index, rule in applicable:
            args += [
                scopes.index(rule.scope) + 1,
                rule.limit,
                int(rule.window * 1000),
                index,
            ]
        try:
            granted, wait_ms, which, now_ms = self._script(keys=keys, args=args)
        except redis.RedisError as exc:
            raise RateLimiterUnavailable(
                f"Redis rate limiter unavailable: {type(exc).__name__}"
            ) from exc
        return Reservation(
            granted=bool(granted),
            wait=int(wait_ms) / 1000,
            reason=self.rules[int(which)].label if int(which) >= 0 else "",
            at=int(now_ms) / 1000,
        )


def get_limiter() -> RateLimiter:
    """The portal's shared limiter: Redis when settings.REDIS_URL is set, else files under
    settings.VAR_DIR / "ratelimit". Built once per process and configuration."""
    from django.conf import settings

    from orders import conf

    redis_url = conf.redis_url()
    if redis_url:
        return _redis_limiter(redis_url)
    return _file_limiter(str(Path(settings.VAR_DIR) / "ratelimit"))


@functools.cache
def _redis_limiter(url: str) -> RedisRateLimiter:
    return RedisRateLimiter(
        redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
    )


@functools.cache
def _file_limiter(directory: str) -> FileRateLimiter:
    return FileRateLimiter(directory)
