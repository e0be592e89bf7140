"""The Redis cache backend, keeping one `redis.Redis` per connection pool.

Django's `RedisCacheClient.get_client` builds a new `redis.Redis` for every cache call, and
each one fills a table of some 170 response callbacks: about 0.3 ms per call. The session is
read from the cache on every request (`cached_db`), so the quote endpoint paid that on every
keystroke (docs/performance.md, "Quote overhead"). A `redis.Redis` is safe to share between
threads (each command borrows a connection from the pool), so one per pool is enough.
"""

from __future__ import annotations

from typing import Any

from django.core.cache.backends.redis import RedisCache, RedisCacheClient


class ReusedClientRedisCacheClient(RedisCacheClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        # `_get_connection_pool` and `_client` are the parent's own (not in django-stubs).
        django_client: Any = self
        pool = django_client._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = django_client._client(
                connection_pool=pool
            )
        return client


class ReusedClientRedisCache(RedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = ReusedClientRedisCacheClient
