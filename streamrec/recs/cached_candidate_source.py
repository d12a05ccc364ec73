"""Serving stage: the user's cached candidates (and summary), or a note to fall back."""

from __future__ import annotations

from streamrec.recs.candidate_cache import CandidateCache
from streamrec.recs.recommendation_state import RecommendationState, ScoredItem


class CachedCandidateSource:
    name = "cached-candidates"
    requires = frozenset({"request"})
    provides = frozenset({"candidates", "summary"})

    def __init__(self, cache: CandidateCache, pool: int = 200) -> None:
        self.cache = cache
        self.pool = pool

    async def run(self, state: RecommendationState) -> None:
        request = state.request
        # a category filter may drop most candidates: read the whole pool only then
        pool = self.pool if request.category else min(self.pool, max(40, 4 * request.k))
        lookup = await self.cache.lookup(request.user_id, pool)
        state.summary = lookup.summary
        state.cache_status = lookup.status
        if lookup.entry is None:  # missing, expired or another configuration's list
            state.served_from = "fallback"
            state.refresh_requested = True
            return
        state.meta = lookup.entry.meta
        state.items = [ScoredItem(c.sku, c.score, c.sources, c.via_sku, c.via_category)
                       for c in lookup.entry.candidates]
