"""Record user events in Redis: de-duplicated by event id, a bounded recent list per user,
item popularity, and search clicks (an event of ``SEARCH_LOG_TYPES`` with a query and a
sku) appended to the search-log stream that the API's reranker follows.

Every ``EVENTS_PER_CALL`` events of a micro-batch are one Lua script call
(``RECORD_BATCH``), all in one pipelined round trip, not one call per event plus one
``ZINCRBY`` per item: redis-py packs every argument and parses every reply in Python,
and the per-event calls were the users worker's largest redis-py cost after the
co-visitation writes. The events travel as one JSON argument; each event is still
applied (or found a duplicate) on its own, in order, as before, and an item's popularity
gains the sum of its fresh events' weights, as before (per call now, not per batch). A
call names keys of many users (and the shared popularity set): fine on one Redis, which
is what streamrec runs, not on a Redis Cluster (which would need one call per user).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
import redis.asyncio as aioredis

from streamrec.recs.pipelined_script import PipelinedScript, ScriptCall
from streamrec.redis_keys import RedisKeys

# KEYS: per event its seen marker, recent list and event counter, then the popularity set,
# then the search-log stream. ARGV: 1 dedup ttl s, 2 max recent, 3 JSON [[summary json,
# popularity weight, sku, logged query or ""], ...] aligned with the events, 4 the
# stream's approximate length cap. Returns 1 (applied) or 0 (a duplicate) per event.
# Popularity is summed per sku in event order, as the per-batch ZINCRBYs summed it in
# Python; a search click is appended only when its event is applied (so once).
RECORD_BATCH = """
local ttl, keep, log_cap = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[4]
local popular, search_log = KEYS[#KEYS - 1], KEYS[#KEYS]
local events = cjson.decode(ARGV[3])
local applied, weights, order = {}, {}, {}
for i, event in ipairs(events) do
  local at = 3 * (i - 1)
  applied[i] = 0
  if redis.call('SET', KEYS[at + 1], '1', 'NX', 'EX', ttl) then
    redis.call('LPUSH', KEYS[at + 2], event[1])
    redis.call('LTRIM', KEYS[at + 2], 0, keep - 1)
    redis.call('INCR', KEYS[at + 3])
    applied[i] = 1
    local weight, sku, query = event[2], event[3], event[4]
    if query ~= '' and sku ~= '' then
      redis.call('XADD', search_log, 'MAXLEN', '~', log_cap, '*', 'q', query, 's', sku)
    end
    if weight > 0 and sku ~= '' then
      if weights[sku] == nil then
        order[#order + 1] = sku
        weights[sku] = 0
      end
      weights[sku] = weights[sku] + weight
    end
  end
end
for _, sku in ipairs(order) do
  redis.call('ZINCRBY', popular, weights[sku], sku)
end
return applied
"""

EVENTS_PER_CALL = 64
"""Bounds how long one script call holds Redis (other clients wait while it runs)."""

POPULARITY_WEIGHTS = {"VIEW": 1.0, "CLICK": 2.0, "ADD_TO_CART": 4.0, "PURCHASE": 8.0}

SEARCH_LOG_TYPES = frozenset({"CLICK", "ADD_TO_CART", "PURCHASE"})
"""Events that say a search led to a product (a VIEW may be an impression, not a choice)."""

RECENT_FIELDS = ("event_id", "type", "sku", "query", "ts", "session_id")


class UserEventRecorder:
    def __init__(self, redis: aioredis.Redis, keys: RedisKeys, *, max_recent: int,
                 dedup_ttl_s: int, search_log_max_entries: int = 1_000_000) -> None:
        self.redis = redis
        self.keys = keys
        self.max_recent = max_recent
        self.dedup_ttl_s = dedup_ttl_s
        self.search_log_max_entries = search_log_max_entries
        self._script = PipelinedScript(RECORD_BATCH)

    async def record(self, events: Sequence[dict[str, Any]]) -> list[bool]:
        """Apply events in order, one round trip; False where the event id was seen before."""
        if not events:
            return []
        calls = [self._call(events[at:at + EVENTS_PER_CALL])
                 for at in range(0, len(events), EVENTS_PER_CALL)]
        return [bool(a) for applied in await self._script.run(self.redis, calls)
                for a in applied]

    def _call(self, events: Sequence[dict[str, Any]]) -> ScriptCall:
        keys: list[str] = []
        rows: list[tuple[str, float, str, str]] = []
        for event in events:
            user = event["user_id"]
            keys += (self.keys.event_seen(user, event["event_id"]), self.keys.user_recent(user),
                     self.keys.user_event_count(user))
            # the stored summary's bytes, as a string inside the call's JSON
            summary = orjson.dumps({k: event.get(k) for k in RECENT_FIELDS}).decode()
            query = (event.get("query") or "").strip()
            logged = query if query and event["type"] in SEARCH_LOG_TYPES else ""
            rows.append((summary, POPULARITY_WEIGHTS.get(event["type"], 0.0),
                         event.get("sku") or "", logged))
        keys += (self.keys.popular(), self.keys.search_log())
        return keys, [self.dedup_ttl_s, self.max_recent, orjson.dumps(rows),
                      self.search_log_max_entries]
