"""The Redis cache backend keeps one client per connection pool (dfyportal/cache.py): the
session is read through it on every request, and Django's own backend builds a client per call.
"""

from __future__ import annotations

import uuid
from typing import Any

from dfyportal.cache import ReusedClientRedisCache


def client_of(cache: ReusedClientRedisCache, *, write: bool) -> Any:
    """The `redis.Redis` a call would use (`_cache` is Django's, not in django-stubs)."""
    backend: Any = cache
    return backend._cache.get_client(write=write)


def test_one_client_serves_every_call_and_the_cache_still_works(redis_url) -> None:  # type: ignore[no-untyped-def]
    cache = ReusedClientRedisCache(redis_url, {})
    key = f"test:cache:{uuid.uuid4().hex}"
    try:
        cache.set(key, {"amount": "12.50"}, timeout=30)
        assert cache.get(key) == {"amount": "12.50"}
        assert cache.add(key, "other", timeout=30) is False
        cache.delete(key)
        assert cache.get(key, "gone") == "gone"
        # Reads and writes share the one server's pool, hence one client for all of them.
        clients = {id(client_of(cache, write=w)) for w in (False, True, False)}
        assert len(clients) == 1
    finally:
        cache.delete(key)
        cache.close()


def test_each_server_gets_its_own_client(redis_url) -> None:  # type: ignore[no-untyped-def]
    """With replicas, reads go to another server's pool: a client is kept per pool, so a read
    never goes through the writer's client."""
    cache = ReusedClientRedisCache(f"{redis_url},{redis_url}", {})
    writer = client_of(cache, write=True)
    reader = client_of(cache, write=False)
    assert writer is not reader
    assert writer is client_of(cache, write=True)
    assert reader.connection_pool is not writer.connection_pool
