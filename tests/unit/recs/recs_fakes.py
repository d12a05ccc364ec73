"""Fakes of the Redis-backed parts, for pure tests of sources, generator and pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from streamrec.indexer.index_config import IndexConfig
from streamrec.indexer.sharded_index import ShardedIndex
from streamrec.recs.candidate import Candidate
from streamrec.recs.candidate_cache import CachedCandidates, CacheLookup, UserSummary
from streamrec.recs.category_scope import OVERALL, category_scope
from streamrec.recs.recommendation_state import RecommendationState
from streamrec.recs.trending_store import TrendingItem


@dataclass
class StaticSource:
    name: str
    results: list[tuple[str, float]]
    via: str | None = None
    config: dict = field(default_factory=dict)
    calls: int = 0

    async def fetch(self, profile, k):
        self.calls += 1
        found = [Candidate(sku, score, self.name, via_sku=self.via) for sku, score in self.results]
        return found[:k]


class FailingSource:
    name = "broken/source"
    config = None

    async def fetch(self, profile, k):
        raise ConnectionError("redis down")


class FakeTrending:
    def __init__(self, lists: dict[str | None, list[tuple[str, float]]]):
        self.lists = {(category_scope(k) if k else OVERALL): v for k, v in lists.items()}

    async def top_many(self, categories, k, now_ms=None):
        return [[TrendingItem(s, score) for s, score in
                 self.lists.get(category_scope(c) if c else OVERALL, [])[:k]]
                for c in categories]

    async def top(self, category, k, now_ms=None):
        return (await self.top_many([category], k))[0]


class FakeCache:
    def __init__(self, entries: dict[str, CachedCandidates] | None = None,
                 summaries: dict[str, UserSummary] | None = None):
        self.entries = entries or {}
        self.summaries = summaries or {}

    async def lookup(self, user_id, n):
        summary = self.summaries.get(user_id, UserSummary())
        entry = self.entries.get(user_id)
        if entry is None:
            return CacheLookup(None, "missing", summary)
        return CacheLookup(CachedCandidates(entry.candidates[:n], entry.meta), "hit", summary)


class DictHydrator:
    """The ``ItemHydrator`` contract, from a dict of typed documents."""

    name = "hydrate"
    requires = frozenset({"candidates"})
    provides = frozenset({"docs", "popularity"})

    def __init__(self, docs, popularity=None):
        self.source_docs = docs
        self.source_popularity = popularity or {}

    async def run(self, state: RecommendationState) -> None:
        skus = [i.sku for i in state.items] + [i.via_sku for i in state.items if i.via_sku]
        if state.request.context_sku:
            skus.append(state.request.context_sku)
        for sku in skus:
            state.docs[sku] = self.source_docs.get(sku)
        state.popularity = {i.sku: self.source_popularity[i.sku] for i in state.items
                            if i.sku in self.source_popularity}
        for item in state.items:
            item.doc = state.docs.get(item.sku)


def unit(*values) -> np.ndarray:
    v = np.asarray(values, dtype=np.float32)
    return v / np.linalg.norm(v)


def small_index(vectors: dict[str, np.ndarray], paths: dict[str, list[str]] | None = None,
                metadata: dict[str, dict] | None = None) -> ShardedIndex:
    dim = len(next(iter(vectors.values())))
    index = ShardedIndex(dim, "test-model", config=IndexConfig(router="hash", hash_shards=2))
    skus = list(vectors)
    index.upsert_many(skus, np.stack([vectors[s] for s in skus]),
                      [(paths or {}).get(s, []) for s in skus],
                      [(metadata or {}).get(s, {"available": True}) for s in skus])
    return index
