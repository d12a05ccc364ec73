"""Ask the worker that owns a user's profile to refresh the user's candidates."""

from __future__ import annotations

import redis.asyncio as aioredis
from aiokafka.partitioner import murmur2

from streamrec.redis_keys import RedisKeys


def user_partition(user_id: str, partitions: int) -> int:
    """The ``user.events`` partition of a user: murmur2, as our producers and Faust hash."""
    return (murmur2(user_id.encode()) & 0x7FFFFFFF) % partitions


class RefreshRequester:
    def __init__(self, redis: aioredis.Redis, keys: RedisKeys, partitions: int) -> None:
        self.redis = redis
        self.keys = keys
        self.partitions = partitions

    async def request(self, user_id: str) -> None:
        await self.redis.rpush(self.keys.refresh_requests(
            user_partition(user_id, self.partitions)), user_id)
