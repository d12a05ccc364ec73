"""``GET /v1/recommendations/{user_id}``: a declared list of stages, each timed and counted.

    cached candidates -> trending fallback -> context boost -> purchased filter
    -> hydrate -> unavailable filter -> category filter -> rerank -> diversify -> reasons

``RecommendationPipeline.standard`` declares that list; the runner checks at build
time that every stage's ``requires`` is provided by an earlier stage, runs the stages
in order, times each under its name and counts the items it left.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import redis.asyncio as aioredis

from streamrec.recs.cached_candidate_source import CachedCandidateSource
from streamrec.recs.candidate_cache import CandidateCache
from streamrec.recs.category_filter import CategoryFilter
from streamrec.recs.context_item_booster import ContextBoostConfig, ContextItemBooster
from streamrec.recs.feature_reranker import FeatureReranker, FeatureRerankerConfig
from streamrec.recs.filter_stage import FilterStage
from streamrec.recs.item_hydrator import ItemHydrator
from streamrec.recs.item_vector_index import ItemVectorIndex
from streamrec.recs.linear_item_scorer import ItemScorer
from streamrec.recs.mmr_diversifier import MmrConfig, MmrDiversifier
from streamrec.recs.purchased_items_filter import PurchasedItemsFilter
from streamrec.recs.reason_annotator import ReasonAnnotator, ReasonConfig
from streamrec.recs.recommendation_state import (
    FIELDS,
    RecommendationRequest,
    RecommendationResult,
    RecommendationStage,
    RecommendationState,
    RecommendedItem,
)
from streamrec.recs.trending_fallback_source import TrendingFallbackConfig, TrendingFallbackSource
from streamrec.recs.trending_store import TrendingStore
from streamrec.recs.unavailable_items_filter import UnavailableItemsFilter
from streamrec.redis_keys import RedisKeys


@dataclass(frozen=True)
class RecommendationPipelineConfig:
    candidate_pool: int = 100
    """How many cached candidates a request reads."""
    max_k: int = 100
    fallback: TrendingFallbackConfig = field(default_factory=TrendingFallbackConfig)
    context: ContextBoostConfig = field(default_factory=ContextBoostConfig)
    reranker: FeatureRerankerConfig = field(default_factory=FeatureRerankerConfig)
    diversity: MmrConfig = field(default_factory=MmrConfig)
    reasons: ReasonConfig = field(default_factory=ReasonConfig)


class RecommendationPipeline:
    def __init__(self, stages: Sequence[RecommendationStage],
                 config: RecommendationPipelineConfig | None = None) -> None:
        self.config = config or RecommendationPipelineConfig()
        self.stages = list(stages)
        names = [stage.name for stage in self.stages]
        if len(set(names)) != len(names):
            raise ValueError(f"stage names must be unique: {names}")
        available = {"request"}
        for stage in self.stages:
            unknown = (stage.requires | stage.provides) - FIELDS
            if unknown:
                raise ValueError(f"stage {stage.name!r} names unknown fields {sorted(unknown)}")
            missing = stage.requires - available
            if missing:
                raise ValueError(f"stage {stage.name!r} needs {sorted(missing)} "
                                 f"before it; stages: {names}")
            available |= stage.provides

    @classmethod
    def standard(cls, *, cache: CandidateCache, trending: TrendingStore, redis: aioredis.Redis,
                 item_keys: RedisKeys, index: ItemVectorIndex | None,
                 config: RecommendationPipelineConfig | None = None,
                 scorer: ItemScorer | None = None) -> RecommendationPipeline:
        """The standard stages; ``scorer`` replaces the rerank stage's linear default."""
        config = config or RecommendationPipelineConfig()
        return cls([
            CachedCandidateSource(cache, config.candidate_pool),
            TrendingFallbackSource(trending, config.fallback,
                                   newest=getattr(index, "newest", None)),
            ContextItemBooster(index, config.context),
            FilterStage(PurchasedItemsFilter()),
            ItemHydrator(redis, item_keys, index),
            FilterStage(UnavailableItemsFilter()),
            FilterStage(CategoryFilter()),
            FeatureReranker(scorer, config=config.reranker),
            MmrDiversifier(index, config.diversity),
            ReasonAnnotator(config.reasons),
        ], config)

    async def recommend(self, request: RecommendationRequest) -> RecommendationResult:
        request = RecommendationRequest(
            request.user_id, max(1, min(request.k, self.config.max_k)),
            request.category or None, request.context_sku or None)
        state = RecommendationState(request)
        timings: dict[str, float] = {}
        started = time.perf_counter()
        for stage in self.stages:
            stage_started = time.perf_counter()
            await stage.run(state)
            timings[stage.name] = round((time.perf_counter() - stage_started) * 1000, 3)
            state.counts.setdefault(stage.name, {})["items"] = len(state.items)
        timings["total"] = round((time.perf_counter() - started) * 1000, 3)
        names = state.feature_names
        items = [
            RecommendedItem(item.sku, round(item.score, 6), item.reason, item.source,
                            item.sources, (item.doc or {}).get("title") or None,
                            tuple(item.features.get(n, 0.0) for n in names)
                            if names and item.features else None)
            for item in state.items[: request.k]
        ]
        return RecommendationResult(
            user_id=request.user_id,
            items=items,
            served_from=state.served_from,
            refresh_requested=state.refresh_requested,
            timings_ms=timings,
            counts=state.counts,
            generated_at_ms=state.meta.generated_at_ms if state.meta else None,
            feature_names=names,
        )
