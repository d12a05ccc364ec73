"""Serving stage: score candidates from features with a replaceable ``ItemScorer``.

Features (all in [0, 1] except ``source_count``), in ``FEATURE_NAMES`` order:

- ``candidate_score``: the cached/boosted score, divided by the best in the list;
- ``source_count``: how many sources proposed the item;
- ``from_<family>``: 1 when a source of that family proposed it;
- ``freshness``: ``0.5 ** (age of the item's last update / half-life)``;
- ``popularity``: log1p(event-weighted popularity) relative to the best candidate;
- ``category_affinity``: the user's mean interest share over the item's category prefixes;
- ``context_similarity``: cosine with the context item (0 without one).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from streamrec.recs.category_scope import category_scopes
from streamrec.recs.linear_item_scorer import ItemScorer, LinearItemScorer
from streamrec.recs.recommendation_state import RecommendationState, ScoredItem

FEATURE_SET = "streamrec.recs.features/1"
"""Names this list in model files; change the features => bump it and retrain."""
SOURCE_FAMILIES = ("embedding", "item-based", "popular", "context", "fallback")
FEATURE_NAMES = (
    "candidate_score", "source_count",
    *(f"from_{family.replace('-', '_')}" for family in SOURCE_FAMILIES),
    "freshness", "popularity", "category_affinity", "context_similarity",
)
DEFAULT_WEIGHTS: Mapping[str, float] = {
    "candidate_score": 1.0, "source_count": 0.05, "from_fallback": -0.05, "freshness": 0.05,
    "popularity": 0.15, "category_affinity": 0.3, "context_similarity": 0.2,
}


@dataclass(frozen=True)
class FeatureRerankerConfig:
    weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    freshness_half_life_days: float = 30.0


def item_features(state: RecommendationState, items: list[ScoredItem],
                  config: FeatureRerankerConfig) -> np.ndarray:
    """The (n, len(FEATURE_NAMES)) feature matrix of ``items``."""
    out = np.zeros((len(items), len(FEATURE_NAMES)), dtype=np.float32)
    if not items:
        return out
    column = {name: i for i, name in enumerate(FEATURE_NAMES)}
    best = max(max(item.score for item in items), 0.0)
    top_popularity = math.log1p(max(state.popularity.values(), default=0.0))
    affinity = state.summary.category_affinity
    half_life_ms = config.freshness_half_life_days * 86_400_000
    for row, item in enumerate(items):
        out[row, column["candidate_score"]] = max(item.score, 0.0) / best if best > 0 else 0.0
        out[row, column["source_count"]] = len(item.sources)
        for source in item.sources:
            family = source.split("/", 1)[0].replace("-", "_")
            if f"from_{family}" in column:
                out[row, column[f"from_{family}"]] = 1.0
        doc = item.doc or {}
        updated = doc.get("updated_at")
        if updated:
            age = max(state.now_ms - int(updated), 0)
            out[row, column["freshness"]] = 0.5 ** (age / half_life_ms)
        popularity = state.popularity.get(item.sku, 0.0)
        if top_popularity > 0 and popularity > 0:
            out[row, column["popularity"]] = math.log1p(popularity) / top_popularity
        scopes = category_scopes(doc.get("category_path"))
        if scopes and affinity:
            out[row, column["category_affinity"]] = (
                sum(affinity.get(s, 0.0) for s in scopes) / len(scopes))
        if item.context_similarity is not None:
            out[row, column["context_similarity"]] = max(item.context_similarity, 0.0)
    return out


class FeatureReranker:
    name = "rerank"
    requires = frozenset({"candidates", "docs", "popularity", "summary"})
    provides = frozenset({"ranked"})

    def __init__(self, scorer: ItemScorer | None = None,
                 config: FeatureRerankerConfig | None = None) -> None:
        self.config = config or FeatureRerankerConfig()
        self.scorer = scorer or LinearItemScorer(self.config.weights, FEATURE_NAMES)
        if tuple(self.scorer.feature_names) != FEATURE_NAMES:
            raise ValueError(f"the scorer expects {self.scorer.feature_names}, "
                             f"the reranker produces {FEATURE_NAMES}")

    async def run(self, state: RecommendationState) -> None:
        items = state.items
        features = item_features(state, items, self.config)
        scores = self.scorer.score(features)
        state.feature_names = FEATURE_NAMES
        for item, row, score in zip(items, features.tolist(), scores.tolist(), strict=True):
            item.features = dict(zip(FEATURE_NAMES, row, strict=True))
            item.score = float(score)
        items.sort(key=lambda item: (-item.score, item.sku))
