"""Item-to-item co-visitation counts in Redis sorted sets, one per item.

When an item ``d`` arrives and the user's session had ``[c, b, a]`` (most recent
first), the pairs ``d<->c``, ``d<->b``, ``d<->a`` gain ``weight * decay ** (distance - 1)``:
fully forward (``c``'s set learns that ``d`` came after it) and times
``backward_weight`` backward (``d``'s set learns what came before it). At 1.0 the counts
are symmetric; below it an item's set ranks what people went on to next above what
they came from, which is what a "next item" recommendation asks.

Writes: a Lua script (``RECORD``) gets the increments of ``items_per_call`` items per
call (all calls of a micro-batch in one pipelined round trip), each item's as one JSON
object (packed by orjson, decoded by Redis's cjson), and runs the same ``ZINCRBY``s
inside Redis, with the same increments (the doubles round-trip exactly through JSON).
It replaced one ``ZINCRBY`` per pair: redis-py packs every argument and parses every
reply in Python, and at ~8 pairs per event those were the users worker's largest
redis-py cost. Worker CPU is flat from 16 items per call up (measured,
``bench/bench_event_apply.py``); the default 64 keeps one call to a fraction of a
millisecond of Redis time, so other clients are not held up by a whole batch's script.
A call names many items' keys: fine on one Redis; on a Redis Cluster set
``items_per_call=1`` (every call within one hash slot; the bench's apply stage then
costs 0.081 ms of worker CPU per event, against 0.044 at 64 and 0.124 per pair).

Each set is kept to its ``max_neighbours`` best entries, but not on every write: a
process trims a set (``ZREMRANGEBYRANK``) after every ``trim_every`` writes it made to
it (a write: one ``record`` call that touches the set), so between trims a set grows
past ``max_neighbours`` by at most the new neighbours of ``trim_every`` writes. It
refreshes the set's TTL with each trim, at its first write and at the first write after
each trim. The process keeps the counters (as before the script) and tells the script,
per item, what to do after the increments: nothing, refresh the TTL, or trim and
refresh the TTL.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson
import redis.asyncio as aioredis

from streamrec.recs.pipelined_script import PipelinedScript, ScriptCall
from streamrec.redis_keys import RedisKeys

KEEP_INCREMENTS, REFRESH_TTL, TRIM = 0, 1, 2
"""What ``RECORD`` does to an item's set after its increments."""

# KEYS: one co-visitation set per item. ARGV: 1 max neighbours, 2 ttl s (0: none),
# 3 JSON [[action, {neighbour: weight, ...}], ...] aligned with KEYS (action: KEEP_INCREMENTS,
# REFRESH_TTL or TRIM, which also refreshes the TTL). Returns the number of sets written.
RECORD = """
local keep, ttl = tonumber(ARGV[1]), tonumber(ARGV[2])
local rows = cjson.decode(ARGV[3])
for i, key in ipairs(KEYS) do
  local action, row = rows[i][1], rows[i][2]
  for neighbour, weight in pairs(row) do
    redis.call('ZINCRBY', key, weight, neighbour)
  end
  if action == 2 then
    redis.call('ZREMRANGEBYRANK', key, 0, -keep - 1)
  end
  if action > 0 and ttl > 0 then
    redis.call('EXPIRE', key, ttl)
  end
end
return #KEYS
"""


@dataclass(frozen=True)
class CoVisitationConfig:
    window: int = 5
    """How many previous items of the session pair with a new one."""
    distance_decay: float = 0.7
    """The pair weight at distance ``d`` is ``decay ** (d - 1)``."""
    backward_weight: float = 1.0
    """Share of a pair's weight written backward (new item -> the earlier one); the
    forward direction always gets it all."""
    max_neighbours: int = 100
    """M: each item's set keeps its best M neighbours."""
    trim_every: int = 64
    """A process trims an item's set after this many of its own writes to it."""
    ttl_s: int = 30 * 24 * 3600
    """An item's set expires after this long without a trim-time refresh (0: never)."""
    neighbours_per_item: int = 50
    """How many neighbours ``neighbours`` reads per anchor item (at least ``k``)."""
    items_per_call: int = 64
    """Items per ``RECORD`` script call (0: a whole ``record`` in one; 1: Cluster-safe)."""

    def __post_init__(self) -> None:
        if self.window < 1 or self.max_neighbours < 1 or self.trim_every < 1:
            raise ValueError("window, max_neighbours and trim_every must be >= 1")
        if not 0.0 < self.distance_decay <= 1.0:
            raise ValueError("distance_decay must be in (0, 1]")
        if not 0.0 <= self.backward_weight <= 1.0:
            raise ValueError("backward_weight must be in [0, 1]")
        if self.items_per_call < 0:
            raise ValueError("items_per_call must be >= 0")


class CoVisit(NamedTuple):
    """A new item and the session items before it (most recent first)."""

    window: Sequence[str]
    sku: str
    weight: float = 1.0


class Neighbour(NamedTuple):
    sku: str
    score: float
    via: str
    """The anchor item that contributed most."""


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class CoVisitationStore:
    def __init__(self, redis: aioredis.Redis, keys: RedisKeys,
                 config: CoVisitationConfig | None = None) -> None:
        self.redis = redis
        self.keys = keys
        self.config = config or CoVisitationConfig()
        self._writes: dict[str, int] = {}
        self._record = PipelinedScript(RECORD)

    def increments(self, visits: Iterable[CoVisit]) -> dict[str, dict[str, float]]:
        """item -> neighbour -> weight to add (pure: what ``record`` will write)."""
        out: dict[str, dict[str, float]] = {}
        decay, backward = self.config.distance_decay, self.config.backward_weight
        for visit in visits:
            distance = 0
            done: set[str] = set()
            for other in visit.window:
                if distance >= self.config.window:
                    break
                if not other or other == visit.sku or other in done:
                    continue
                done.add(other)
                weight = visit.weight * decay**distance
                distance += 1
                if weight <= 0:
                    continue
                for a, b, w in ((other, visit.sku, weight),
                                (visit.sku, other, weight * backward)):
                    if w > 0:
                        row = out.setdefault(a, {})
                        row[b] = row.get(b, 0.0) + w
        return out

    def script_calls(self, visits: Iterable[CoVisit]) -> list[ScriptCall]:
        """The ``RECORD`` calls that write ``visits`` (advances the per-item write counters,
        so call it once per write)."""
        config = self.config
        keys: list[str] = []
        rows: list[tuple[int, dict[str, float]]] = []
        for item, row in self.increments(visits).items():
            writes = self._writes.get(item, 0) + 1
            action = REFRESH_TTL if writes == 1 else KEEP_INCREMENTS
            if writes >= config.trim_every:
                action, writes = TRIM, 0
            self._writes[item] = writes
            keys.append(self.keys.co_visitation(item))
            rows.append((action, row))
        if len(self._writes) > 1_000_000:  # a counter per item ever written: reset, not grow
            self._writes.clear()
        size = config.items_per_call or len(keys) or 1
        return [(keys[at:at + size], [config.max_neighbours, config.ttl_s,
                                      orjson.dumps(rows[at:at + size])])
                for at in range(0, len(keys), size)]

    async def record(self, visits: Iterable[CoVisit]) -> None:
        """Write the pair increments of ``visits`` in one round trip."""
        calls = self.script_calls(visits)
        if calls:
            await self._record.run(self.redis, calls)

    async def trim(self, skus: Iterable[str]) -> None:
        """Trim the given items' sets to the best M now (a cache warmer may call it)."""
        pipe = self.redis.pipeline(transaction=False)
        for sku in skus:
            pipe.zremrangebyrank(self.keys.co_visitation(sku), 0, -self.config.max_neighbours - 1)
            self._writes.pop(sku, None)
        await pipe.execute()

    async def neighbours(self, skus: Sequence[str], k: int,
                         weights: Mapping[str, float] | None = None) -> list[Neighbour]:
        """The ``k`` best neighbours of several items, read in one round trip.

        Each anchor's list is normalised by its best weight and scaled by the anchor's
        weight (default 1), so a very popular anchor does not drown the others; items
        among ``skus`` are never returned.
        """
        return (await self.neighbours_many([(skus, weights)], k))[0]

    async def neighbours_many(
            self, queries: Sequence[tuple[Sequence[str], Mapping[str, float] | None]], k: int
    ) -> list[list[Neighbour]]:
        """``neighbours`` for several (anchors, weights) queries, e.g. one per user, in one
        round trip; an anchor several queries share is read (and decoded) once."""
        anchor_lists = [list(dict.fromkeys(s for s in skus if s)) for skus, _ in queries]
        if k <= 0:
            return [[] for _ in queries]
        wanted = list(dict.fromkeys(a for anchors in anchor_lists for a in anchors))
        rows: dict[str, list[tuple[str, float]]] = {}
        if wanted:
            per_item = max(k, self.config.neighbours_per_item)
            pipe = self.redis.pipeline(transaction=False)
            for sku in wanted:
                pipe.zrevrange(self.keys.co_visitation(sku), 0, per_item - 1, withscores=True)
            for sku, row in zip(wanted, await pipe.execute(), strict=True):
                rows[sku] = [(_text(member), float(score)) for member, score in row]
        return [self._score(anchors, rows, k, weights)
                for anchors, (_, weights) in zip(anchor_lists, queries, strict=True)]

    @staticmethod
    def _score(anchors: list[str], rows: Mapping[str, list[tuple[str, float]]], k: int,
               weights: Mapping[str, float] | None) -> list[Neighbour]:
        if not anchors:
            return []
        excluded = set(anchors)
        scores: dict[str, float] = {}
        best: dict[str, tuple[float, str]] = {}
        for anchor in anchors:
            row = rows[anchor]
            if not row:
                continue
            top = row[0][1]
            anchor_weight = 1.0 if weights is None else float(weights.get(anchor, 0.0))
            if top <= 0 or anchor_weight <= 0:
                continue
            for sku, score in row:
                if sku in excluded:
                    continue
                part = anchor_weight * score / top
                scores[sku] = scores.get(sku, 0.0) + part
                if part > best.get(sku, (0.0, ""))[0]:
                    best[sku] = (part, anchor)
        ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
        return [Neighbour(sku, score, best[sku][1]) for sku, score in ranked]
