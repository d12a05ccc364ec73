"""The fast path of the two-speed refresh: a user's cached list updated in place, in Redis.

A full regeneration (``CandidateRefresher``) costs ~4 ms of worker CPU per user; this
costs one Lua script call per user, pipelined (``users_per_round_trip`` users per round
trip), and a few small JSON arguments of Python. Per user the script:

1. checks the cached list's ``config_hash``; a missing list or one of another
   configuration is dropped and started afresh (status ``created``; the caller owes the
   user a full refresh soon);
2. decays every cached score by ``decay``, by multiplying the list's ``scale`` (meta
   field; a score is the sorted set's score times it) rather than rewriting every entry:
   the whole-list rewrite cost ~0.5 ms of Redis CPU per update, half a core at 1,000
   events/s. Before the scale underflows (1e-60) the stored scores are multiplied out;
3. removes the items just purchased (and adds them to the user's purchased summary set)
   and, when the generator filters seen items, the items just interacted with;
4. reads the co-visitation sets of the user's newest event items (the anchors, weighted
   exactly as ``item-based/co-visitation`` weights them: event type and recency), scores
   their neighbours as ``CoVisitationStore.neighbours`` does (each anchor's row divided by
   its best weight, times the anchor's weight, summed; the anchor that contributed most
   is the reason) over each row's best ``neighbours`` (the config's, at most the
   source's ``k``), keeps the ``neighbours`` best of the sum, leaves out the user's
   anchors (and seen items when filtered) and anything in the purchased summary,
   normalises them as the generator's blend does (``max`` or ``rank``) times the source's
   weight, and adds that to the decayed score (at most ``max_new`` items enter per
   update); a new entry gets ``{"s": [co-visitation], "i": anchor}`` as its sources, an
   existing one gets co-visitation among its sources (first when its contribution now
   dominates) and a reason if it had none; where ``history/recently-viewed`` is
   configured (seen items not filtered), the newest items themselves come first, scored
   as that source's blend scores them;
5. adds or updates only the entries that changed, trims to ``top_n`` (the lowest go,
   with their sources), writes the meta hash (``generated_at``, ``event_count``,
   ``mode=incremental``, ``config_hash``, ``scale``; ``sources`` gains co-visitation) and
   renews the TTLs as a write would.

Unavailable items are not filtered here: the serving pipeline filters them on every
request (``UnavailableItemsFilter`` stage), and the next full refresh drops them.

The co-visitation sets live in each item's hash slot, not the user's: the script names
them in KEYS (correct on one Redis, which is what streamrec runs; a Redis Cluster would
refuse the cross-slot call, and would need the neighbour rows read first).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from streamrec.recs.candidate_cache import LUA_CALL_CHUNKED, CandidateCache
from streamrec.recs.candidate_generator import RANK_K, CandidateGenerator, normalised
from streamrec.recs.co_visitation_candidate_source import CoVisitationCandidateSource
from streamrec.recs.pipelined_script import PipelinedScript, ScriptCall
from streamrec.recs.recently_viewed_candidate_source import RecentlyViewedCandidateSource
from streamrec.recs.user_profile import UserProfile

UpdateStatus = Literal["updated", "created"]

# KEYS: candidates, sources, meta, purchased summary, then one co-visitation set per anchor.
# ARGV: 1 the batch's settings, JSON {h: config hash, d: decay, t: ttl, st: summary ttl,
#       n: top_n, k: neighbours scored (per anchor row, and of their sum), w: source
#       weight, m: normalisation (max|rank), at: now ms, s: source name, r: rank K, x: most
#       new entries per update, hs: the history source's name or ""};
#       2 the user's, JSON [event count, [anchor, weight, ...] (aligned with KEYS[5..]),
#       [excluded sku, ...], [sku to remove, ...], [purchased sku, ...],
#       [history sku, score to add, ...] (the newest items themselves, already normalised
#       and weighted: ``history/recently-viewed``)].
# Two JSON arguments, not 18: redis-py packs every argument in Python, and this script is
# called once per user with new events. Returns 1 (updated) or 2 (created: the list was
# missing or of another configuration).
UPDATE = LUA_CALL_CHUNKED + """
local cfg, own = cjson.decode(ARGV[1]), cjson.decode(ARGV[2])
local zkey, skey, mkey, pkey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local ttl, summary_ttl, top_n = cfg.t, cfg.st, cfg.n
local source = cfg.s
local status = 1
local meta = redis.call('HMGET', mkey, 'config_hash', 'scale', 'sources')
local scale, sources = 1, meta[3] or ''
if meta[1] ~= cfg.h then
  status, sources = 2, ''
  redis.call('DEL', zkey, skey, mkey)
else
  scale = tonumber(meta[2] or '1') or 1
end
local bought = own[5]
if #bought > 0 then
  call_chunked('SADD', pkey, bought)
  redis.call('EXPIRE', pkey, summary_ttl)
end
-- decay without touching the list: a score is stored divided by the list's scale, so
-- multiplying the scale decays every entry at once; the scale is reset (the stored
-- scores multiplied out) before it underflows
scale = scale * cfg.d
if scale < 1e-60 then
  local old = redis.call('ZRANGE', zkey, 0, -1, 'WITHSCORES')
  local z = {}
  for j = 1, #old, 2 do z[#z + 1] = tonumber(old[j + 1]) * scale; z[#z + 1] = old[j] end
  if #z > 0 then call_chunked('ZADD', zkey, z) end
  scale = 1
end
local dropped = own[4]
if #dropped > 0 then
  call_chunked('ZREM', zkey, dropped)
  call_chunked('HDEL', skey, dropped)
end
-- co-visitation neighbours of the newest items
local excluded = {}
for _, sku in ipairs(own[3]) do excluded[sku] = true end
local anchors = own[2]
-- each anchor's best k: what the k best of their sum mostly come from
local per_item = cfg.k
local sums, best, via, found = {}, {}, {}, {}
local adds, from = {}, {}
for a = 1, #anchors, 2 do
  local anchor, weight = anchors[a], tonumber(anchors[a + 1])
  local row = redis.call('ZREVRANGE', KEYS[4 + (a + 1) / 2], 0, per_item - 1, 'WITHSCORES')
  local top = tonumber(row[2] or 0)
  if top > 0 and weight > 0 then
    for j = 1, #row, 2 do
      local sku = row[j]
      if not excluded[sku] then
        local part = weight * tonumber(row[j + 1]) / top
        if sums[sku] == nil then found[#found + 1] = sku; sums[sku] = 0 end
        sums[sku] = sums[sku] + part
        if part > (best[sku] or 0) then best[sku] = part; via[sku] = anchor end
      end
    end
  end
end
table.sort(found, function(x, y)
  if sums[x] ~= sums[y] then return sums[x] > sums[y] end
  return x < y
end)
local k, source_weight = cfg.k, cfg.w
local by_rank, rank_k = cfg.m == 'rank', cfg.r
local top_sum = sums[found[1]] or 0
local picked = {}
-- the newest items themselves first (co-visitation picks leave out the anchors, so a
-- new item is one of them only past the anchors' window: skipped there below)
local history = own[6] or {}
for j = 1, #history, 2 do
  local sku = history[j]
  picked[#picked + 1] = sku
  adds[sku], from[sku], via[sku] = tonumber(history[j + 1]), cfg.hs, sku
end
for rank = 1, math.min(k, #found) do
  local sku = found[rank]
  if adds[sku] == nil then  -- a new item past the anchors' window: history scored it
    picked[#picked + 1] = sku
    from[sku] = source
    if by_rank then adds[sku] = source_weight * (rank_k + 1) / (rank_k + rank)
    else adds[sku] = source_weight * sums[sku] / top_sum end
  end
end
local added_by = {}
if #picked > 0 then
  local bought_before = {}
  if redis.call('EXISTS', pkey) == 1 then
    bought_before = redis.call('SMISMEMBER', pkey, unpack(picked))
  end
  local stored = redis.call('ZMSCORE', zkey, unpack(picked))
  local listed_keys = {}
  for i, sku in ipairs(picked) do
    if stored[i] and bought_before[i] ~= 1 then listed_keys[#listed_keys + 1] = sku end
  end
  local listed = {}
  if #listed_keys > 0 then
    local raw = redis.call('HMGET', skey, unpack(listed_keys))
    for i, sku in ipairs(listed_keys) do listed[sku] = raw[i] end
  end
  local z, h, new_json = {}, {}, {}
  local max_new, new_count = cfg.x, 0
  for i, sku in ipairs(picked) do
    local add, src = adds[sku], from[sku]
    local before = stored[i] and tonumber(stored[i]) * scale
    if bought_before[i] ~= 1 and (before or new_count < max_new) then
      local info
      if not before then
        new_count = new_count + 1
        local anchor = via[sku]
        local key = src .. '\0' .. anchor
        if new_json[key] == nil then
          new_json[key] = cjson.encode({s = {src}, i = anchor})
        end
        info = new_json[key]
        z[#z + 1] = add / scale
      else
        info = listed[sku] and cjson.decode(listed[sku]) or {}
        local names = {}
        if add > before then names[1] = src end
        for _, name in ipairs(type(info.s) == 'table' and info.s or {}) do
          if name ~= src then names[#names + 1] = name end
        end
        if add <= before then names[#names + 1] = src end
        info.s = names
        if add > before or info.i == nil or info.i == cjson.null then info.i = via[sku] end
        info = cjson.encode(info)
        z[#z + 1] = (before + add) / scale
      end
      z[#z + 1] = sku
      h[#h + 1] = sku; h[#h + 1] = info
      added_by[src] = true
    end
  end
  if #z > 0 then
    call_chunked('ZADD', zkey, z)
    call_chunked('HSET', skey, h)
  end
end
-- trimmed to top_n: the lowest go, with their sources
local over = redis.call('ZCARD', zkey) - top_n
if over > 0 then
  local trimmed = redis.call('ZRANGE', zkey, 0, over - 1)
  redis.call('ZREMRANGEBYRANK', zkey, 0, over - 1)
  call_chunked('HDEL', skey, trimmed)
end
redis.call('EXPIRE', zkey, ttl)
redis.call('EXPIRE', skey, ttl)
for _, name in ipairs({cfg.hs, source}) do
  if added_by[name] and (',' .. sources .. ','):find(',' .. name .. ',', 1, true) == nil then
    if sources == '' then sources = name else sources = sources .. ',' .. name end
  end
end
redis.call('HSET', mkey, 'generated_at', cfg.at, 'event_count', own[1],
           'config_hash', cfg.h, 'mode', 'incremental', 'sources', sources,
           'scale', string.format('%.17g', scale))
redis.call('EXPIRE', mkey, ttl)
return status
"""


@dataclass(frozen=True)
class IncrementalUpdateConfig:
    decay: float = 0.8
    """Every cached score is multiplied by this on each update (the generator's
    ``per_event_decay`` for the interest vector is 0.8 too): what the user did before
    fades, the newest items' neighbours lead."""

    max_new: int = 20
    """At most this many items enter the list per update (the best of the new items'
    neighbours; items already listed are always updated). Each entry costs Redis CPU (the
    list is a ~100-entry listpack, searched linearly), and a list of 100 should not be
    churned by one event's neighbours (a full refresh blends every source again)."""

    neighbours: int = 30
    """The fast path scores each new item's best this many co-visitation neighbours (at
    most the source's ``k``; the full refresh blends all ``k``, 60 by default). Reading
    and re-scoring neighbours in Lua is most of the script's cost, and the ones past the
    30th add little under ``max`` normalisation (a share of the best one's weight): 30
    instead of 60 took the script's Redis CPU per event from 0.26 to 0.19 ms
    (docs/benchmarks.md, "The event path for two minutes")."""

    users_per_round_trip: int = 32
    """Users' script calls per pipelined round trip. Redis runs a pipeline's calls back to
    back, so one round trip for a whole batch (~250 users, tens of ms of Redis time) held
    the next batch's small commands (record, load, save) behind it; smaller round trips
    let them in between, and the worker goes on with the next batch sooner."""

    def __post_init__(self) -> None:
        if self.users_per_round_trip < 1:
            raise ValueError("users_per_round_trip must be >= 1")
        if not 0.0 < self.decay <= 1.0:
            raise ValueError("decay must be in (0, 1]")
        if self.max_new < 0:
            raise ValueError("max_new must be >= 0")
        if self.neighbours < 1:
            raise ValueError("neighbours must be >= 1")


class IncrementalCandidateUpdater:
    """``update_many``: one script call per user, ``users_per_round_trip`` users per
    pipelined round trip."""

    def __init__(self, generator: CandidateGenerator, cache: CandidateCache,
                 config: IncrementalUpdateConfig | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.generator = generator
        self.cache = cache
        self.config = config or IncrementalUpdateConfig()
        self.clock = clock
        self.source: CoVisitationCandidateSource | None = None
        self.spec = None
        self.history: RecentlyViewedCandidateSource | None = None
        self.history_spec = None
        for source, spec in zip(generator.sources, generator.config.sources, strict=True):
            if isinstance(source, CoVisitationCandidateSource):
                self.source, self.spec = source, spec
            elif isinstance(source, RecentlyViewedCandidateSource):
                self.history, self.history_spec = source, spec
        self._script = PipelinedScript(UPDATE)

    def settings(self) -> bytes:
        """The script's first argument: what every user's call of a batch shares."""
        gen, cfg = self.generator.config, self.cache.config
        k = 0
        weight = 0.0
        name = ""
        if self.source is not None and self.spec is not None:
            k = min(self.spec.k, self.config.neighbours)
            weight, name = self.spec.weight, self.spec.name
        return orjson.dumps({
            "h": self.generator.config_hash(), "d": float(self.config.decay), "t": cfg.ttl_s,
            "st": cfg.summary_ttl_s, "n": gen.top_n, "k": k,
            "w": float(weight), "m": gen.normalisation, "at": int(self.clock() * 1000),
            "s": name, "r": RANK_K, "x": self.config.max_new,
            "hs": self.history_spec.name if self.history_spec is not None else ""})

    def call(self, profile: UserProfile, new_events: Sequence[Mapping[str, Any]],
             settings: bytes | None = None) -> ScriptCall:
        """The script call for one user whose ``new_events`` were just applied to
        ``profile`` (pure but for the clock; exposed for tests and the benchmark).
        ``settings``: ``self.settings()``, computed once per batch."""
        keys, gen = self.cache.keys, self.generator.config
        new_skus = list(dict.fromkeys(e["sku"] for e in reversed(new_events) if e.get("sku")))
        bought = list(dict.fromkeys(e["sku"] for e in new_events
                                    if e.get("sku") and e.get("type") == "PURCHASE"))
        anchors: dict[str, float] = {}
        excluded: list[str] = []
        if self.source is not None and self.spec is not None:
            weights = self.source.anchor_weights(profile)
            anchors = {sku: weights[sku] for sku in new_skus if sku in weights}
            excluded = list(weights)
        removed = list(bought)
        if gen.filter_seen:
            seen = profile.recent_skus(gen.seen_recent)
            excluded.extend(seen)
            removed.extend(s for s in new_skus if s not in removed)
        user = profile.user_id
        flat_anchors = [part for sku, w in anchors.items() for part in (sku, float(w))]
        history = [part for sku, add in self.history_entries(profile, new_skus)
                   for part in (sku, add)]
        return (
            [keys.user_candidates(user), keys.user_candidate_sources(user),
             keys.user_candidate_meta(user), keys.user_purchased(user),
             *(self.source.store.keys.co_visitation(sku) for sku in anchors)],
            [settings or self.settings(),
             orjson.dumps([profile.event_count, flat_anchors, excluded, removed, bought,
                           history])],
        )

    def history_entries(self, profile: UserProfile, new_skus: Sequence[str]
                        ) -> list[tuple[str, float]]:
        """What ``history/recently-viewed`` adds for the newest items themselves: their
        score in that source's answer (the user's recent items), normalised as the blend
        normalises it and times the source's weight. The script leaves purchased items out,
        as it does co-visitation's (the purchased summary, this batch's purchases added
        first)."""
        if self.history is None or self.history_spec is None or not new_skus \
                or self.generator.config.filter_seen:  # the seen filter takes them out
            return []
        answer = self.history.candidates(profile, self.history_spec.k)
        normalised_scores = {c.sku: score for c, score in
                             normalised(answer, self.generator.config.normalisation)}
        weight = self.history_spec.weight
        return [(sku, weight * normalised_scores[sku]) for sku in new_skus
                if sku in normalised_scores]

    async def update_many(self, updates: Sequence[tuple[UserProfile,
                                                        Sequence[Mapping[str, Any]]]]
                          ) -> dict[str, UpdateStatus]:
        """(profile, the user's events just applied) per user -> user id -> ``updated``
        or ``created`` (the list was missing or stale: a full refresh is owed)."""
        if not updates:
            return {}
        settings = self.settings()
        results = await self._script.run(
            self.cache.redis,
            [self.call(profile, events, settings) for profile, events in updates],
            per_round_trip=self.config.users_per_round_trip)
        return {profile.user_id: ("created" if int(result) == 2 else "updated")
                for (profile, _), result in zip(updates, results, strict=True)}
