"""Build the user path's components from Settings, identically in the worker and the API.

The worker and the API must agree on the candidate generator's configuration (the
cached lists carry its hash), so both build it here.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import redis.asyncio as aioredis

from streamrec.indexer.catalog_index_replica import CatalogIndexReplica
from streamrec.indexer.hnsw_shard import SearchHit
from streamrec.recs.candidate_cache import CandidateCache
from streamrec.recs.candidate_generator import (
    CandidateGenerator,
    CandidateGeneratorConfig,
    SourceSpec,
)
from streamrec.recs.candidate_refresher import CandidateRefresher
from streamrec.recs.candidate_source import CandidateSource
from streamrec.recs.co_visitation_candidate_source import CoVisitationCandidateSource
from streamrec.recs.co_visitation_store import CoVisitationConfig, CoVisitationStore
from streamrec.recs.incremental_candidate_updater import IncrementalCandidateUpdater
from streamrec.recs.interest_ann_candidate_source import InterestAnnCandidateSource
from streamrec.recs.linear_item_scorer import ItemScorer
from streamrec.recs.recently_viewed_candidate_source import RecentlyViewedCandidateSource
from streamrec.recs.recommendation_pipeline import RecommendationPipeline
from streamrec.recs.trending_candidate_source import TrendingCandidateSource
from streamrec.recs.trending_store import TrendingStore
from streamrec.recs.user_event_applier import UserEventApplier
from streamrec.redis_keys import RedisKeys
from streamrec.settings import Settings

log = logging.getLogger(__name__)


class ReplicaIndexView:
    """The replica's current index (a restore or compaction swaps the object underneath)."""

    def __init__(self, replica: CatalogIndexReplica) -> None:
        self.replica = replica

    def search(self, query: np.ndarray, k: int = 10, category: Any = None) -> list[SearchHit]:
        return self.replica.index.search(query, k, category)

    def search_many(self, queries: np.ndarray, k: int = 10, category: Any = None
                    ) -> list[list[SearchHit]]:
        return self.replica.index.search_many(queries, k, category)

    def newest(self, k: int, scope: str | None = None) -> list[str]:
        return self.replica.newest(k, scope)

    def vector(self, sku: str) -> np.ndarray | None:
        return self.replica.index.vector(sku)

    def vectors(self, skus: Sequence[str]) -> list[np.ndarray | None]:
        return self.replica.index.vectors(skus)

    def metadata(self, sku: str) -> dict[str, Any] | None:
        return self.replica.index.metadata(sku)


@dataclass
class RecsComponents:
    keys: RedisKeys
    index: ReplicaIndexView
    co_visitation: CoVisitationStore
    trending: TrendingStore
    generator: CandidateGenerator
    cache: CandidateCache
    rerank_model_path: Path | None = None
    """The rerank stage's learned model (None: the linear default); opened by
    ``pipeline``, so only the API (not the worker) loads it."""

    def applier(self) -> UserEventApplier:
        return UserEventApplier(self.index, self.co_visitation, self.trending)

    def refresher(self) -> CandidateRefresher:
        return CandidateRefresher(self.generator, self.cache)

    def updater(self) -> IncrementalCandidateUpdater:
        """The two-speed refresh's fast path (in-place updates of cached lists)."""
        return IncrementalCandidateUpdater(self.generator, self.cache)

    def pipeline(self, redis: aioredis.Redis) -> RecommendationPipeline:
        return RecommendationPipeline.standard(cache=self.cache, trending=self.trending,
                                               redis=redis, item_keys=self.keys,
                                               index=self.index,
                                               scorer=load_item_scorer(self.rerank_model_path))


def candidate_sources(settings: Settings, co_visitation: CoVisitationStore, index: Any,
                      trending: TrendingStore
                      ) -> tuple[list[CandidateSource], tuple[SourceSpec, ...]]:
    """The generator's sources and their specs, as the settings ask."""
    sources: list[CandidateSource] = [CoVisitationCandidateSource(co_visitation),
                                      InterestAnnCandidateSource(index),
                                      TrendingCandidateSource(trending)]
    specs = CandidateGeneratorConfig().sources
    if not settings.recs_filter_seen and settings.recs_recently_viewed_weight > 0:
        # with seen items filtered these candidates would all be removed again
        sources.append(RecentlyViewedCandidateSource())
        specs += (SourceSpec(RecentlyViewedCandidateSource.name,
                             weight=settings.recs_recently_viewed_weight, k=20),)
    return sources, specs


def build_recs(settings: Settings, redis: aioredis.Redis, replica: CatalogIndexReplica
               ) -> RecsComponents:
    """Called from load hooks (the API's lifespan, the worker's start), never at import."""
    keys = RedisKeys(settings.redis_key_prefix)
    index = ReplicaIndexView(replica)
    co_visitation = CoVisitationStore(redis, keys, CoVisitationConfig(
        backward_weight=settings.recs_covisitation_backward_weight))
    trending = TrendingStore(redis, keys)
    sources, specs = candidate_sources(settings, co_visitation, index, trending)
    generator = CandidateGenerator(
        sources,
        config=CandidateGeneratorConfig(sources=specs, normalisation=settings.recs_blend,
                                        filter_seen=settings.recs_filter_seen),
        item_lookup=index.metadata)
    cache = CandidateCache(redis, keys, config_hash=generator.config_hash())
    return RecsComponents(keys, index, co_visitation, trending, generator, cache,
                          settings.recs_rerank_model_path)


def load_item_scorer(path: Path | None) -> ItemScorer | None:
    """The learned rerank model of ``recs_rerank_model_path`` (None: the linear default)."""
    if path is None:
        return None
    from streamrec.recs.lightgbm_item_scorer import LightGbmItemScorer

    scorer = LightGbmItemScorer.load(path)
    log.info("recommendations rerank model loaded from %s (%s)", path,
             (scorer.model.metrics if scorer.model else {}))
    return scorer
