"""The async Redis client every process uses: a bounded pool that waits for a free
connection instead of failing (redis-py's default pool raises ``MaxConnectionsError`` when
a burst of concurrent refreshes outruns it, which crashed a users worker under load)."""

from __future__ import annotations

import redis.asyncio as aioredis

from streamrec.settings import Settings


def open_async_redis(settings: Settings) -> aioredis.Redis:
    pool = aioredis.BlockingConnectionPool.from_url(
        settings.redis_url, max_connections=settings.redis_max_connections,
        timeout=settings.redis_pool_timeout_s, socket_timeout=5, socket_connect_timeout=5,
        health_check_interval=30)
    return aioredis.Redis(connection_pool=pool)
