"""Each user's candidate list in Redis, written whole and read in one round trip.

``write`` is one MULTI (all keys share the user's hash tag): the sorted set
(sku -> score), a hash of per-sku sources (``{"s": [...], "i": via sku, "c": via
category}``) and a meta hash (generated_at ms, sources, config_hash, event_count) are
deleted and rewritten, so a reader sees the old list or the new one, never a mix; all
expire after ``ttl_s``. The same transaction rewrites the user summary the serving tier
needs even when the list is gone (category affinity and purchased skus), with the
longer ``summary_ttl_s``.

``write_many`` does the same for many users in one pipelined round trip, one atomic
script call per user (same keys, values and TTLs).

``read`` returns ``None`` when the list is missing, expired or was written under
another generator configuration (``config_hash``). A list written empty is a hit with
no candidates: the user is known, there is just nothing to offer yet.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson
import redis.asyncio as aioredis

from streamrec.recs.candidate import BlendedCandidate
from streamrec.recs.pipelined_script import PipelinedScript, ScriptCall
from streamrec.redis_keys import RedisKeys

CacheStatus = Literal["hit", "missing", "stale"]

LUA_CALL_CHUNKED = """
local function call_chunked(command, key, values)
  for from = 1, #values, 1000 do
    redis.call(command, key, unpack(values, from, math.min(from + 999, #values)))
  end
end
"""
"""A Lua helper for the cache's scripts: a variadic command in slices of 1,000 values
(``unpack`` of a long list overflows Lua's stack)."""

# ``write`` as one atomic script call per user, so ``write_many`` sends every user's in
# one pipelined round trip (a MULTI per user cannot share a redis-py pipeline). The lists
# travel as JSON arrays of strings (cjson decodes them): redis-py packs every argument in
# Python, and one argument per list instead of three per candidate halved the packing.
# KEYS: candidates, sources, meta, affinity, purchased.
# ARGV: ttl, summary ttl, [sku, score, sources json, ...], [field, value, ...] of the
#       meta, then "1", [scope, share, ...], [sku, ...] with a summary, or "0".
WRITE = LUA_CALL_CHUNKED + """
local ttl, summary_ttl = ARGV[1], ARGV[2]
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
local flat = cjson.decode(ARGV[3])
if #flat > 0 then
  local z, h = {}, {}
  for j = 1, #flat, 3 do
    z[#z + 1] = flat[j + 1]; z[#z + 1] = flat[j]
    h[#h + 1] = flat[j]; h[#h + 1] = flat[j + 2]
  end
  call_chunked('ZADD', KEYS[1], z)
  call_chunked('HSET', KEYS[2], h)
  redis.call('EXPIRE', KEYS[1], ttl)
  redis.call('EXPIRE', KEYS[2], ttl)
end
call_chunked('HSET', KEYS[3], cjson.decode(ARGV[4]))
redis.call('EXPIRE', KEYS[3], ttl)
if ARGV[5] == '1' then
  redis.call('DEL', KEYS[4], KEYS[5])
  local affinity = cjson.decode(ARGV[6])
  if #affinity > 0 then
    call_chunked('HSET', KEYS[4], affinity)
    redis.call('EXPIRE', KEYS[4], summary_ttl)
  end
  local purchased = cjson.decode(ARGV[7])
  if #purchased > 0 then
    call_chunked('SADD', KEYS[5], purchased)
    redis.call('EXPIRE', KEYS[5], summary_ttl)
  end
end
return 1
"""


# KEYS: candidate lists. Returns the 1-based positions of those that do not exist.
MISSING = """
local out = {}
for i, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 0 then out[#out + 1] = i end
end
return out
"""

MISSING_PER_CALL = 1000
"""Keys per ``MISSING`` call: a fraction of a millisecond of Redis and of redis-py each."""


@dataclass(frozen=True)
class CandidateCacheConfig:
    ttl_s: int = 24 * 3600
    """Lifetime of a list the user agent did not refresh (the cache warmer renews it)."""
    summary_ttl_s: int = 30 * 24 * 3600
    """Lifetime of the user's category affinity and purchased skus."""
    max_affinities: int = 32

    def __post_init__(self) -> None:
        if self.ttl_s < 1 or self.summary_ttl_s < 1:
            raise ValueError("cache TTLs must be >= 1 s")


@dataclass(frozen=True)
class CandidateMeta:
    generated_at_ms: int
    sources: tuple[str, ...]
    config_hash: str
    event_count: int
    mode: str = "full"
    """``full``: written whole by a regeneration; ``incremental``: last changed in place by
    the fast path (``incremental_candidate_updater``), ``sources`` still those of the last
    full write plus co-visitation."""
    scale: float = 1.0
    """A score is the sorted set's score times this: the fast path decays a whole list
    by multiplying it instead of rewriting every entry (a full write resets it to 1)."""

    def to_fields(self) -> dict[str, str]:
        return {
            "generated_at": str(self.generated_at_ms),
            "sources": ",".join(self.sources),
            "config_hash": self.config_hash,
            "event_count": str(self.event_count),
            "mode": self.mode,
        }

    @classmethod
    def from_fields(cls, fields: Mapping[str, str]) -> CandidateMeta:
        sources = fields.get("sources", "")
        return cls(
            generated_at_ms=int(fields.get("generated_at") or 0),
            sources=tuple(s for s in sources.split(",") if s),
            config_hash=fields.get("config_hash", ""),
            event_count=int(fields.get("event_count") or 0),
            mode=fields.get("mode") or "full",
            scale=float(fields.get("scale") or 1.0),
        )


@dataclass(frozen=True)
class UserSummary:
    category_affinity: Mapping[str, float] = field(default_factory=dict)
    """Category scope -> the user's share of interest at that depth."""
    purchased: frozenset[str] = frozenset()


@dataclass(frozen=True)
class CachedCandidates:
    candidates: list[BlendedCandidate]
    meta: CandidateMeta


@dataclass(frozen=True)
class CacheLookup:
    entry: CachedCandidates | None
    status: CacheStatus
    summary: UserSummary


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _texts(mapping: Mapping[Any, Any]) -> dict[str, str]:
    return {_text(k): _text(v) for k, v in mapping.items()}


def _ranked(candidates: Sequence[BlendedCandidate]) -> tuple[dict[str, float], dict[str, bytes]]:
    """sku -> score and sku -> sources JSON, the first occurrence of each sku."""
    ranked: dict[str, float] = {}
    sources: dict[str, bytes] = {}
    for c in candidates:
        if c.sku and c.sku not in ranked:
            ranked[c.sku] = float(c.score)
            sources[c.sku] = orjson.dumps(
                {"s": list(c.sources), "i": c.via_sku, "c": c.via_category})
    return ranked, sources


CacheEntry = tuple[str, Sequence[BlendedCandidate], CandidateMeta, UserSummary | None]
"""What ``write`` takes: user id, candidates, meta, summary (or ``None``)."""


class CandidateCache:
    def __init__(self, redis: aioredis.Redis, keys: RedisKeys,
                 config: CandidateCacheConfig | None = None,
                 config_hash: str | None = None) -> None:
        """``config_hash``: what a readable list must carry (``None`` accepts any)."""
        self.redis = redis
        self.keys = keys
        self.config = config or CandidateCacheConfig()
        self.config_hash = config_hash
        self._write = PipelinedScript(WRITE)
        self._missing = PipelinedScript(MISSING)

    async def write(self, user_id: str, candidates: Sequence[BlendedCandidate],
                    meta: CandidateMeta, summary: UserSummary | None = None) -> None:
        """Replace the user's list (and summary, when given) in one atomic round trip."""
        keys, ttl = self.keys, self.config.ttl_s
        ranked, sources = _ranked(candidates)
        z, s, m = (keys.user_candidates(user_id), keys.user_candidate_sources(user_id),
                   keys.user_candidate_meta(user_id))
        pipe = self.redis.pipeline(transaction=True)
        pipe.delete(z, s, m)
        if ranked:
            pipe.zadd(z, ranked)
            pipe.hset(s, mapping=sources)
            pipe.expire(z, ttl)
            pipe.expire(s, ttl)
        pipe.hset(m, mapping=meta.to_fields())
        pipe.expire(m, ttl)
        if summary is not None:
            self._queue_summary(pipe, user_id, summary)
        await pipe.execute()

    async def write_many(self, entries: Sequence[CacheEntry]) -> None:
        """``write`` for many users in one pipelined round trip: the same keys, values and
        TTLs, each user's replacement atomic (one script call per user)."""
        if entries:
            await self._write.run(self.redis, [self._write_call(*entry) for entry in entries])

    def _write_call(self, user_id: str, candidates: Sequence[BlendedCandidate],
                    meta: CandidateMeta, summary: UserSummary | None = None) -> ScriptCall:
        keys = self.keys
        ranked, sources = _ranked(candidates)
        flat: list[str] = []
        for sku, score in ranked.items():  # the score as redis-py sends a float: repr
            flat.extend((sku, repr(score), sources[sku].decode()))
        fields = [part for pair in meta.to_fields().items() for part in pair]
        args: list[Any] = [self.config.ttl_s, self.config.summary_ttl_s,
                           orjson.dumps(flat), orjson.dumps(fields)]
        if summary is None:
            args.append("0")
        else:
            affinity = [part for scope, share in self._affinity(summary)
                        for part in (scope, repr(float(share)))]
            args.extend(("1", orjson.dumps(affinity), orjson.dumps(sorted(summary.purchased))))
        return ([keys.user_candidates(user_id), keys.user_candidate_sources(user_id),
                 keys.user_candidate_meta(user_id), keys.user_category_affinity(user_id),
                 keys.user_purchased(user_id)], args)

    def _affinity(self, summary: UserSummary) -> list[tuple[str, float]]:
        affinity = sorted(summary.category_affinity.items(), key=lambda kv: -kv[1])
        return affinity[: self.config.max_affinities]

    def _queue_summary(self, pipe: Any, user_id: str, summary: UserSummary) -> None:
        a, p = self.keys.user_category_affinity(user_id), self.keys.user_purchased(user_id)
        ttl = self.config.summary_ttl_s
        pipe.delete(a, p)
        affinity = self._affinity(summary)
        if affinity:
            pipe.hset(a, mapping={scope: repr(float(v)) for scope, v in affinity})
            pipe.expire(a, ttl)
        if summary.purchased:
            pipe.sadd(p, *sorted(summary.purchased))
            pipe.expire(p, ttl)

    async def read(self, user_id: str, n: int) -> CachedCandidates | None:
        """The user's best ``n`` candidates, or ``None`` (missing, expired, stale config)."""
        return (await self.lookup(user_id, n)).entry

    async def lookup(self, user_id: str, n: int) -> CacheLookup:
        """``read`` plus the user summary and why a list was not served, one round trip."""
        keys = self.keys
        pipe = self.redis.pipeline(transaction=True)
        pipe.zrevrange(keys.user_candidates(user_id), 0, max(n, 0) - 1, withscores=True)
        pipe.hgetall(keys.user_candidate_meta(user_id))
        pipe.hgetall(keys.user_candidate_sources(user_id))
        pipe.hgetall(keys.user_category_affinity(user_id))
        pipe.smembers(keys.user_purchased(user_id))
        ranked, meta_raw, sources_raw, affinity_raw, purchased_raw = await pipe.execute()
        summary = UserSummary(
            {scope: float(v) for scope, v in _texts(affinity_raw).items()},
            frozenset(_text(sku) for sku in purchased_raw),
        )
        if not meta_raw:
            return CacheLookup(None, "missing", summary)
        meta = CandidateMeta.from_fields(_texts(meta_raw))
        if self.config_hash is not None and meta.config_hash != self.config_hash:
            return CacheLookup(None, "stale", summary)
        sources = _texts(sources_raw)
        candidates = []
        for member, score in ranked:
            sku = _text(member)
            info = orjson.loads(sources[sku]) if sku in sources else {}
            candidates.append(BlendedCandidate(
                sku, float(score) * meta.scale, tuple(info.get("s") or ()), info.get("i"),
                info.get("c")))
        return CacheLookup(CachedCandidates(candidates, meta), "hit", summary)

    async def missing(self, users: Sequence[str]) -> list[str]:
        """The users without a cached list. One script call per ``MISSING_PER_CALL`` users,
        each awaited on its own: a cache warmer checking tens of thousands of users never
        holds the event loop for more than one chunk (one ``EXISTS`` command per user in
        one pipeline held it ~1 s for 20,000 users, a p99 spike in the event path)."""
        chunks = [users[at:at + MISSING_PER_CALL]
                  for at in range(0, len(users), MISSING_PER_CALL)]
        found = await self._missing.run(
            self.redis, [([self.keys.user_candidates(user) for user in chunk], [])
                         for chunk in chunks], per_round_trip=1)
        return [chunk[int(i) - 1] for chunk, positions in zip(chunks, found, strict=True)
                for i in positions]

    async def delete(self, user_id: str) -> None:
        keys = self.keys
        await self.redis.delete(keys.user_candidates(user_id), keys.user_candidate_sources(user_id),
                                keys.user_candidate_meta(user_id))

