"""User profiles in Redis, one string per user, read and written once per micro-batch.

Each direction is one round trip of a few multi-key commands (``MGET``s; calls of the
``SAVE`` script), not one command per user: redis-py packs every argument and parses
every reply in Python. Both name many users' keys: fine on one Redis, which is what
streamrec runs; a Redis Cluster would need them grouped by slot.

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

from streamrec.recs.pipelined_script import PipelinedScript
from streamrec.recs.user_profile import UserProfile, UserProfileConfig
from streamrec.redis_keys import RedisKeys

PROFILE_TTL_S = 180 * 24 * 3600

PROFILES_PER_CALL = 64
"""Profiles per ``MGET`` or save call: bounds how long one command holds Redis."""

# KEYS: profiles. ARGV: ttl s, then one value per key (``SET ... EX`` has no multi-key
# form; one script call packs two arguments per profile, where pipelined SETs packed five).
SAVE = """
for i, key in ipairs(KEYS) do redis.call('SET', key, ARGV[i + 1], 'EX', ARGV[1]) end
return #KEYS
"""


class UserProfileStore:
    def __init__(self, redis: aioredis.Redis, keys: RedisKeys,
                 config: UserProfileConfig | None = None, ttl_s: int = PROFILE_TTL_S) -> None:
        self.redis = redis
        self.keys = keys
        self.config = config or UserProfileConfig()
        self.ttl_s = ttl_s
        self._save = PipelinedScript(SAVE)

    async def load_many(self, user_ids: Iterable[str]) -> dict[str, UserProfile]:
        """The stored profiles of these users (users without one are left out)."""
        users = list(dict.fromkeys(user_ids))
        if not users:
            return {}
        keys = [self.keys.user_profile(user) for user in users]
        pipe = self.redis.pipeline(transaction=False)
        for at in range(0, len(keys), PROFILES_PER_CALL):
            pipe.mget(keys[at:at + PROFILES_PER_CALL])
        raw = [data for chunk in await pipe.execute() for data in chunk]
        return {user: UserProfile.from_bytes(data, self.config)
                for user, data in zip(users, raw, strict=True) if data}

    async def save_many(self, profiles: Iterable[UserProfile]) -> None:
        keys, values = [], []
        for profile in profiles:
            keys.append(self.keys.user_profile(profile.user_id))
            values.append(profile.to_bytes())
        await self._save.run(self.redis, [
            (keys[at:at + PROFILES_PER_CALL], [self.ttl_s, *values[at:at + PROFILES_PER_CALL]])
            for at in range(0, len(keys), PROFILES_PER_CALL)])
