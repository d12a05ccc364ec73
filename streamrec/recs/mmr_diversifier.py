"""Serving stage: pick the page with maximal marginal relevance, optionally capped per
category.

Greedy MMR over the best ``pool`` items: each pick maximises
``lambda * relevance - (1 - lambda) * max cosine to the items already picked``, with
relevance the reranked score min-max scaled over the pool (an item without a vector
has similarity 0). With ``max_per_category``, an item whose category (its first
``category_depth`` levels) already has that many picks waits until nothing else is left.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from streamrec.recs.category_scope import SEPARATOR
from streamrec.recs.item_vector_index import ItemVectorIndex, vectors_of
from streamrec.recs.recommendation_state import RecommendationState, ScoredItem


@dataclass(frozen=True)
class MmrConfig:
    relevance_weight: float = 0.7
    """MMR's lambda: 1 is pure relevance, 0 pure novelty."""
    pool: int = 100
    max_per_category: int | None = None
    category_depth: int = 1

    def __post_init__(self) -> None:
        if not 0.0 <= self.relevance_weight <= 1.0:
            raise ValueError("relevance_weight must be in [0, 1]")


def _category(item: ScoredItem, depth: int) -> str:
    path = (item.doc or {}).get("category_path") or []
    return SEPARATOR.join(path[:depth])


def mmr_order(relevance: np.ndarray, similarity: np.ndarray, k: int, relevance_weight: float,
              categories: list[str] | None = None, max_per_category: int | None = None
              ) -> list[int]:
    """Indices of the ``k`` picks, in pick order."""
    n = len(relevance)
    picked: list[int] = []
    left = list(range(n))
    closest = np.zeros(n, dtype=np.float32)  # max similarity to the picks so far
    per_category: dict[str, int] = {}
    while left and len(picked) < k:
        eligible = left
        if categories is not None and max_per_category is not None:
            capped = [i for i in left if per_category.get(categories[i], 0) < max_per_category]
            eligible = capped or left
        values = [relevance_weight * relevance[i] - (1 - relevance_weight) * closest[i]
                  for i in eligible]
        choice = eligible[int(np.argmax(values))]
        picked.append(choice)
        left.remove(choice)
        closest = np.maximum(closest, similarity[choice])
        if categories is not None:
            per_category[categories[choice]] = per_category.get(categories[choice], 0) + 1
    return picked


class MmrDiversifier:
    name = "diversify"
    requires = frozenset({"ranked"})
    provides = frozenset({"ranked", "vectors"})

    def __init__(self, index: ItemVectorIndex | None, config: MmrConfig | None = None) -> None:
        self.index = index
        self.config = config or MmrConfig()

    async def run(self, state: RecommendationState) -> None:
        k = state.request.k
        pool = state.items[: max(self.config.pool, k)]
        if len(pool) <= 1:
            state.items = pool[:k]
            return
        if self.index is not None:
            missing = [item.sku for item in pool if item.sku not in state.vectors]
            if missing:
                # in-memory lookups: a thread hand-off would cost more than the work
                state.vectors.update(vectors_of(self.index, missing))
        dim = next((v.shape[0] for v in state.vectors.values() if v is not None), 0)
        matrix = np.zeros((len(pool), max(dim, 1)), dtype=np.float32)
        for row, item in enumerate(pool):
            vector = state.vectors.get(item.sku)
            if vector is not None and vector.shape[0] == dim:
                matrix[row] = vector
        similarity = matrix @ matrix.T
        scores = np.array([item.score for item in pool], dtype=np.float32)
        spread = float(scores.max() - scores.min())
        relevance = (scores - scores.min()) / spread if spread > 0 else np.ones_like(scores)
        categories = None
        if self.config.max_per_category is not None:
            categories = [_category(item, self.config.category_depth) for item in pool]
        order = mmr_order(relevance, similarity, k, self.config.relevance_weight, categories,
                          self.config.max_per_category)
        state.items = [pool[i] for i in order]
