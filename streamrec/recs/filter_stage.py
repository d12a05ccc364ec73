"""Serving stage around a ``CandidateFilter``: builds its context from the state and
records what it kept and removed under the filter's name."""

from __future__ import annotations

from streamrec.recs.candidate_filter import CandidateFilter, FilterContext
from streamrec.recs.category_scope import category_scope
from streamrec.recs.recommendation_state import RecommendationState


class FilterStage:
    provides = frozenset({"candidates"})

    def __init__(self, candidate_filter: CandidateFilter) -> None:
        self.filter = candidate_filter
        self.name = f"filter:{candidate_filter.name}"
        self.requires = candidate_filter.requires

    async def run(self, state: RecommendationState) -> None:
        context = FilterContext(
            purchased=state.summary.purchased,
            category=category_scope(state.request.category),
            item=state.doc,
        )
        outcome = self.filter.apply(state.items, context)
        state.items = outcome.kept
        state.counts[self.name] = {"kept": len(outcome.kept), "removed": len(outcome.removed)}
