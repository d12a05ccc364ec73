"""Time-decayed popularity per scope (overall, and every category path prefix) in Redis.

Forward decay (Cormode et al.): an event of weight ``w`` at time ``t`` adds
``w * exp((t - epoch) / tau)`` to its item's score, so older scores never need
rewriting; the decayed score as of ``now`` is ``score * exp((epoch - now) / tau)``, the
same factor for every item of a scope. When an exponent passes ``renormalise_above``,
the scope's set is rescaled in place to a new epoch (``ZUNIONSTORE`` with one weight)
in the same atomic script, so any number of writers agree without coordination.
A late (out-of-order) event just gets a negative exponent.

Each scope is one sorted set plus its epoch, under one hash tag (one Cluster slot).
Sets are trimmed to ``max_items`` once they grow 25% past it (amortised, not per write).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import orjson
import redis.asyncio as aioredis

from streamrec.recs.category_scope import OVERALL, category_scope, category_scopes
from streamrec.recs.pipelined_script import PipelinedScript
from streamrec.redis_keys import RedisKeys

# KEYS: scores, epoch. ARGV: newest ts, tau ms, renormalise above, max items, ttl s,
# JSON [sku, weight, ts, ...] (one argument, not three per hit: redis-py packs each
# argument in Python, and cjson decodes the doubles exactly as ``tonumber`` did).
RECORD = """
local newest, tau = tonumber(ARGV[1]), tonumber(ARGV[2])
local epoch = tonumber(redis.call('GET', KEYS[2]))
if epoch == nil then
  epoch = newest
  redis.call('SET', KEYS[2], ARGV[1])
end
local x = (newest - epoch) / tau
if x > tonumber(ARGV[3]) then
  redis.call('ZUNIONSTORE', KEYS[1], 1, KEYS[1], 'WEIGHTS', tostring(math.exp(-x)))
  redis.call('SET', KEYS[2], ARGV[1])
  epoch = newest
end
local hits = cjson.decode(ARGV[6])
for i = 1, #hits, 3 do
  local inc = hits[i + 1] * math.exp((hits[i + 2] - epoch) / tau)
  if inc > 0 then redis.call('ZINCRBY', KEYS[1], inc, hits[i]) end
end
local limit = tonumber(ARGV[4])
if redis.call('ZCARD', KEYS[1]) > limit + math.floor(limit / 4) then
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -limit - 1)
end
local ttl = tonumber(ARGV[5])
if ttl > 0 then
  redis.call('EXPIRE', KEYS[1], ttl)
  redis.call('EXPIRE', KEYS[2], ttl)
end
return 1
"""

# KEYS: scores, epoch. ARGV: count. Returns {epoch or false, {member, score, ...}}.
TOP = """
return {redis.call('GET', KEYS[2]),
        redis.call('ZREVRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1, 'WITHSCORES')}
"""

DEFAULT_EVENT_WEIGHTS: Mapping[str, float] = {
    "VIEW": 1.0, "CLICK": 2.0, "ADD_TO_CART": 4.0, "PURCHASE": 6.0,
}


@dataclass(frozen=True)
class TrendingConfig:
    half_life_s: float = 6 * 3600.0
    event_weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_EVENT_WEIGHTS))
    renormalise_above: float = 40.0
    """Rescale a scope once ``(t - epoch) / tau`` exceeds this (exp(40) ~ 2e17)."""
    max_items: int = 1_000
    """Items kept per scope (the overall scope too)."""
    ttl_s: int = 30 * 24 * 3600
    """A scope nobody wrote to for this long disappears."""

    def __post_init__(self) -> None:
        if self.half_life_s <= 0 or not 0 < self.renormalise_above < 600:
            raise ValueError("half_life_s must be > 0 and renormalise_above in (0, 600)")

    @property
    def tau_ms(self) -> float:
        """The decay time constant: ``exp(-age / tau)`` halves every ``half_life_s``."""
        return self.half_life_s * 1000.0 / math.log(2)


class TrendingHit(NamedTuple):
    """One interaction with an item (``weight`` from the event type)."""

    sku: str
    category_path: Sequence[str]
    weight: float
    ts: int


class TrendingItem(NamedTuple):
    sku: str
    score: float
    """Decayed popularity as of the read's ``now``."""


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class TrendingStore:
    def __init__(self, redis: aioredis.Redis, keys: RedisKeys,
                 config: TrendingConfig | None = None) -> None:
        self.redis = redis
        self.keys = keys
        self.config = config or TrendingConfig()
        self._record = PipelinedScript(RECORD)
        self._top = PipelinedScript(TOP)

    def weight_of(self, event_type: str) -> float:
        return float(self.config.event_weights.get(event_type, 0.0))

    async def record(self, hits: Iterable[TrendingHit]) -> None:
        """Add interactions to the overall scope and every prefix of each item's category,
        in one round trip (one script call per scope)."""
        grouped: dict[str, list[TrendingHit]] = {}
        for hit in hits:
            if not hit.sku or hit.weight <= 0:
                continue
            for scope in (OVERALL, *category_scopes(hit.category_path)):
                grouped.setdefault(scope, []).append(hit)
        if not grouped:
            return
        config = self.config
        calls = []
        for scope, scope_hits in grouped.items():
            newest = max(int(hit.ts) for hit in scope_hits)
            flat: list[Any] = []
            for hit in scope_hits:
                flat.extend((hit.sku, float(hit.weight), int(hit.ts)))
            calls.append(([self.keys.trending(scope), self.keys.trending_epoch(scope)],
                          [newest, config.tau_ms, config.renormalise_above, config.max_items,
                           config.ttl_s, orjson.dumps(flat)]))
        await self._record.run(self.redis, calls)

    async def top(self, category: Sequence[str] | str | None, k: int,
                  now_ms: int | None = None) -> list[TrendingItem]:
        """The ``k`` most popular items of a category scope (``None``: overall)."""
        return (await self.top_many([category], k, now_ms))[0]

    async def top_many(self, categories: Sequence[Sequence[str] | str | None], k: int,
                       now_ms: int | None = None) -> list[list[TrendingItem]]:
        """``top`` for several scopes in one round trip, scores decayed to one ``now``
        so they compare across scopes."""
        if k <= 0 or not categories:
            return [[] for _ in categories]
        now = time.time() * 1000.0 if now_ms is None else float(now_ms)
        scopes = [(category_scope(c) or OVERALL) if c is not None else OVERALL
                  for c in categories]
        calls = [([self.keys.trending(s), self.keys.trending_epoch(s)], [k]) for s in scopes]
        out = []
        for epoch_raw, flat in await self._top.run(self.redis, calls):
            if epoch_raw is None or not flat:
                out.append([])
                continue
            exponent = (float(_text(epoch_raw)) - now) / self.config.tau_ms
            factor = math.exp(max(min(exponent, 700.0), -700.0))
            out.append([TrendingItem(_text(flat[i]), float(_text(flat[i + 1])) * factor)
                        for i in range(0, len(flat), 2)])
        return out
