"""Serving stage: trending items when the cache has nothing to serve, and a top-up when a
category is requested (so a category page is never empty because the cached list held
little of it).

Cold user: trending in the requested category, or in the user's strongest categories
(from the summary) and overall; items are marked ``fallback`` and the result is
``served_from="fallback"``. Warm user with a category: trending in that category is
added below the cached candidates (scores scaled by ``category_topup_scale``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from streamrec.recs.candidate import Candidate
from streamrec.recs.category_scope import category_scope
from streamrec.recs.recommendation_state import RecommendationState, ScoredItem
from streamrec.recs.trending_candidate_source import blend_trending
from streamrec.recs.trending_store import TrendingStore

FALLBACK = "fallback"
NEWEST = "fallback/newest"
"""Source of the newest-items last resort (its reason says "new in the catalog")."""


@dataclass(frozen=True)
class TrendingFallbackConfig:
    pool: int = 100
    categories: int = 3
    overall_weight: float = 0.5
    category_topup_scale: float = 0.1


class TrendingFallbackSource:
    name = "trending-fallback"
    requires = frozenset({"candidates", "summary"})
    provides = frozenset({"candidates"})

    def __init__(self, trending: TrendingStore, config: TrendingFallbackConfig | None = None,
                 newest: Callable[[int, str | None], list[str]] | None = None) -> None:
        self.trending = trending
        self.config = config or TrendingFallbackConfig()
        self.newest = newest
        """Last resort before any traffic exists: the newest items (in the scope)."""

    async def _candidates(self, scoped: list[tuple[str | None, float]]) -> list[Candidate]:
        lists = await self.trending.top_many([s for s, _ in scoped], self.config.pool)
        rows = [(scope, weight, items)
                for (scope, weight), items in zip(scoped, lists, strict=True)]
        return blend_trending(rows, self.config.pool, FALLBACK)

    async def run(self, state: RecommendationState) -> None:
        scope = category_scope(state.request.category)
        if not state.items:
            state.served_from = "fallback"
            if scope:
                scoped: list[tuple[str | None, float]] = [(scope, 1.0)]
            else:
                affinity = sorted(state.summary.category_affinity.items(),
                                  key=lambda kv: (-kv[1], kv[0]))[: self.config.categories]
                scoped = [(s, share) for s, share in affinity if share > 0]
                scoped.append((None, self.config.overall_weight if scoped else 1.0))
            found = await self._candidates(scoped)
            if not found and self.newest is not None:  # nothing trends yet (a new platform)
                newest = self.newest(self.config.pool, scope or None)
                found = [Candidate(sku, 1.0 / (rank + 1), NEWEST)
                         for rank, sku in enumerate(newest)]
            state.items = [ScoredItem(c.sku, c.score, (c.source,), via_category=c.via_category)
                           for c in found]
            state.counts[self.name] = {"added": len(found)}
        elif scope:
            present = {item.sku for item in state.items}
            scale = self.config.category_topup_scale
            added = [ScoredItem(c.sku, c.score * scale, (FALLBACK,), via_category=c.via_category)
                     for c in await self._candidates([(scope, 1.0)]) if c.sku not in present]
            state.items.extend(added)
            state.counts[self.name] = {"added": len(added)}
