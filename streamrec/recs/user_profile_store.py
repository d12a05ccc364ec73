"""User profiles in Redis, one string per user, read and written once per micro-batch.

Why not a Faust table: with faust-streaming 0.15 on Kafka 4.1, a table's changelog
recovery after a rebalance stalled indefinitely on the surviving worker ("No event
received for active tp ... since recovery start"), holding every partition of the
worker (see docs/design.md). Redis (append-only file on) is durable, shared by all
workers, so a rebalance has nothing to restore; Kafka's partition assignment still
gives each user exactly one writer.
"""

from __future__ import annotations

from collections.abc import Iterable

import redis.asyncio as aioredis

from streamrec.recs.user_profile import UserProfile, UserProfileConfig
from streamrec.redis_keys import RedisKeys

PROFILE_TTL_S = 180 * 24 * 3600


class UserProfileStore:
    def __init__(self, redis: aioredis.Redis, keys: RedisKeys,
                 config: UserProfileConfig | None = None, ttl_s: int = PROFILE_TTL_S) -> None:
        self.redis = redis
        self.keys = keys
        self.config = config or UserProfileConfig()
        self.ttl_s = ttl_s

    async def load_many(self, user_ids: Iterable[str]) -> dict[str, UserProfile]:
        """The stored profiles of these users (users without one are left out)."""
        users = list(dict.fromkeys(user_ids))
        if not users:
            return {}
        pipe = self.redis.pipeline(transaction=False)
        for user in users:
            pipe.get(self.keys.user_profile(user))
        raw = await pipe.execute()
        return {user: UserProfile.from_bytes(data, self.config)
                for user, data in zip(users, raw, strict=True) if data}

    async def save_many(self, profiles: Iterable[UserProfile]) -> None:
        pipe = self.redis.pipeline(transaction=False)
        for profile in profiles:
            pipe.set(self.keys.user_profile(profile.user_id), profile.to_bytes(), ex=self.ttl_s)
        await pipe.execute()
