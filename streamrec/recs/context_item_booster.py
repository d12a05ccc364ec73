"""Serving stage: the item on screen (``context_sku``) steers the list.

Candidate scores are first scaled to [0, 1] by the best one (cached blends add up to
the sum of the source weights), then gain ``boost * max(cosine, 0)`` with the context
item's vector; its nearest neighbours join as ``context/similar`` candidates (base
score ``neighbour_weight * cosine``), and the context item itself is removed. Vector
work runs in a worker thread; vectors fetched are kept on the state for the diversifier.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import numpy as np

from streamrec.recs.item_vector_index import ItemVectorIndex, usable_hits, vectors_of
from streamrec.recs.recommendation_state import RecommendationState, ScoredItem

CONTEXT_SIMILAR = "context/similar"


@dataclass(frozen=True)
class ContextBoostConfig:
    boost: float = 1.0
    neighbours: int = 20
    neighbour_weight: float = 0.8
    """Base score of an added neighbour: ``neighbour_weight * cosine`` (then boosted)."""


class ContextItemBooster:
    name = "context-boost"
    requires = frozenset({"candidates"})
    provides = frozenset({"candidates", "vectors", "context"})

    def __init__(self, index: ItemVectorIndex | None,
                 config: ContextBoostConfig | None = None) -> None:
        self.index = index
        self.config = config or ContextBoostConfig()

    def _look_up(self, context_sku: str, skus: list[str]) -> tuple[Any, list[Any], dict]:
        assert self.index is not None
        context = vectors_of(self.index, [context_sku])[context_sku]
        if context is None:
            return None, [], {}
        hits = usable_hits(self.index.search(context, self.config.neighbours + 1))
        hits = [h for h in hits if h.sku != context_sku][: self.config.neighbours]
        return context, hits, vectors_of(self.index, [*skus, *(h.sku for h in hits)])

    async def run(self, state: RecommendationState) -> None:
        context_sku = state.request.context_sku
        if not context_sku:
            return
        state.items = [item for item in state.items if item.sku != context_sku]
        if self.index is None:
            return
        wanted = [item.sku for item in state.items if item.sku not in state.vectors]
        context, hits, vectors = await asyncio.to_thread(self._look_up, context_sku, wanted)
        if context is None:
            state.counts[self.name] = {"context_missing": 1}
            return
        state.context_vector = context
        state.vectors.update(vectors)
        boost = self.config.boost
        best = max((item.score for item in state.items), default=0.0)
        if best > 0:
            for item in state.items:
                item.score /= best
        present = {item.sku for item in state.items}
        added = 0
        for hit in hits:
            if hit.sku not in present:
                state.items.append(ScoredItem(hit.sku, self.config.neighbour_weight * hit.score,
                                              (CONTEXT_SIMILAR,), via_sku=context_sku))
                present.add(hit.sku)
                added += 1
        for item in state.items:
            vector = state.vectors.get(item.sku)
            if vector is None:
                continue
            similarity = float(np.dot(vector, context))
            item.context_similarity = similarity
            item.score += boost * max(similarity, 0.0)
        state.items.sort(key=lambda item: -item.score)
        state.counts[self.name] = {"added": added}
