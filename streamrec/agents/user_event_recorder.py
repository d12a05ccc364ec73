"""Record user events in Redis: de-duplicated by event id, a bounded recent list per user."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
import redis.asyncio as aioredis

from streamrec.redis_keys import RedisKeys

# KEYS: seen marker, recent list, event counter. ARGV: ttl, event json, max recent.
RECORD_ONCE = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', tonumber(ARGV[1])) then
  redis.call('LPUSH', KEYS[2], ARGV[2])
  redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[3]) - 1)
  redis.call('INCR', KEYS[3])
  return 1
end
return 0
"""

POPULARITY_WEIGHTS = {"VIEW": 1.0, "CLICK": 2.0, "ADD_TO_CART": 4.0, "PURCHASE": 8.0}

RECENT_FIELDS = ("event_id", "type", "sku", "query", "ts", "session_id")


class UserEventRecorder:
    def __init__(self, redis: aioredis.Redis, keys: RedisKeys, *, max_recent: int,
                 dedup_ttl_s: int) -> None:
        self.redis = redis
        self.keys = keys
        self.max_recent = max_recent
        self.dedup_ttl_s = dedup_ttl_s
        self._script = redis.register_script(RECORD_ONCE)

    async def record(self, events: Sequence[dict[str, Any]]) -> list[bool]:
        """Apply events in order, one round trip; False where the event id was seen before."""
        if not events:
            return []
        pipe = self.redis.pipeline(transaction=False)
        for event in events:
            summary = orjson.dumps({k: event.get(k) for k in RECENT_FIELDS})
            user = event["user_id"]
            await self._script(
                keys=[self.keys.event_seen(user, event["event_id"]), self.keys.user_recent(user),
                      self.keys.user_event_count(user)],
                args=[self.dedup_ttl_s, summary, self.max_recent], client=pipe)
        applied = [bool(r) for r in await pipe.execute()]
        popularity: dict[str, float] = {}
        for event, fresh in zip(events, applied, strict=True):
            weight = POPULARITY_WEIGHTS.get(event["type"], 0.0)
            if fresh and weight and event.get("sku"):
                popularity[event["sku"]] = popularity.get(event["sku"], 0.0) + weight
        if popularity:  # one command per batch, only for events applied the first time
            pipe = self.redis.pipeline(transaction=False)
            for sku, weight in popularity.items():
                pipe.zincrby(self.keys.popular(), weight, sku)
            await pipe.execute()
        return applied
