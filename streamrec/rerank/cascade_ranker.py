"""Two rerankers in a cascade: a cheap one over the whole head, an expensive one over its top.

LightGBM orders the candidates the budget allows (100 at a few ms); the cross-encoder
reads only LightGBM's best ``second_depth`` (a transformer pass per pair), and the two
scores are blended there: ``z(first) + weight * z(second)``, each standardised within
those top candidates, so neither model's scale matters and ``weight`` says how far the
expensive model may overrule the cheap one. The rest keep LightGBM's order below them.

A model file of kind ``cascade`` names the two model files (relative to itself) and holds
``second_depth`` and ``weight``, both chosen on validation queries by
``streamrec train cascade`` (``cascade_training``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from streamrec.rerank.rerank_candidate import RerankCandidate, RerankQuery
from streamrec.rerank.reranker_model_file import RerankerModelFile, load_model_file
from streamrec.rerank.search_log import SearchLog
from streamrec.rerank.search_reranker import SearchReranker

KIND = "cascade"
FEATURE_SET = "streamrec.rerank.cascade/1"
FEATURES = ("first_score", "second_score")


def standardised(scores: np.ndarray) -> np.ndarray:
    """Zero mean, unit spread within one request (a constant list stays all zeros)."""
    scores = np.asarray(scores, dtype=np.float64)
    spread = scores.std()
    return (scores - scores.mean()) / spread if spread > 1e-12 else np.zeros_like(scores)


def cascade_order(first: np.ndarray, second: np.ndarray, weight: float) -> np.ndarray:
    """Candidate indices best first: the top ``len(second)`` by first score, reordered by
    the blend, then the others by first score. ``second`` scores the top in that order."""
    by_first = np.argsort(-np.asarray(first, dtype=np.float64), kind="stable")
    n = len(second)
    top = by_first[:n]
    blend = standardised(np.asarray(first)[top]) + weight * standardised(second)
    return np.concatenate([top[np.argsort(-blend, kind="stable")], by_first[n:]])


def scores_for_order(order: np.ndarray) -> np.ndarray:
    """Scores whose descending sort is ``order`` (what ``reorder_head`` expects)."""
    scores = np.empty(len(order), dtype=np.float64)
    scores[order] = np.arange(len(order), 0, -1, dtype=np.float64)
    return scores


class CascadeRanker:
    name = KIND

    def __init__(self, first: SearchReranker, second: SearchReranker, second_depth: int,
                 weight: float, model: RerankerModelFile | None = None) -> None:
        if second_depth < 0:
            raise ValueError("second_depth must be >= 0")
        self.first, self.second = first, second
        self.second_depth, self.weight = second_depth, weight
        self.model = model

    @property
    def default_candidate_ms(self) -> float:
        # the second stage's cost is per request, spread over a typical first-stage depth
        return self.first.default_candidate_ms + \
            self.second.default_candidate_ms * self.second_depth / 100

    @classmethod
    def load(cls, path: Path, load_part: Any) -> CascadeRanker:
        """``load_part(path)`` opens each named model file (``load_reranker``)."""
        model = load_model_file(path, kind=KIND, feature_set=FEATURE_SET, features=FEATURES)
        folder = Path(path).parent
        first, second = (load_part(folder / model.params[key]) for key in ("first", "second"))
        return cls(first, second, int(model.params["second_depth"]),
                   float(model.params["weight"]), model)

    def score(self, query: RerankQuery, candidates: Sequence[RerankCandidate]) -> np.ndarray:
        first = np.asarray(self.first.score(query, candidates), dtype=np.float64)
        n = min(self.second_depth, len(candidates))
        if n < 2:
            return first
        top = np.argsort(-first, kind="stable")[:n]
        second = self.second.score(query, [candidates[int(i)] for i in top])
        return scores_for_order(cascade_order(first, second, self.weight))

    def prepare_titles(self, titles: Iterable[str | None]) -> int:
        titles = list(titles)
        return self.first.prepare_titles(titles) + self.second.prepare_titles(titles)

    def search_logs(self) -> list[SearchLog]:
        return [*self.first.search_logs(), *self.second.search_logs()]

    def describe(self) -> dict[str, Any]:
        def part(ranker: SearchReranker) -> dict[str, Any]:  # the parts' files say the rest
            return {k: v for k, v in ranker.describe().items() if k in ("name", "trained_at")}

        out: dict[str, Any] = {"name": self.name, "first": part(self.first),
                               "second": part(self.second), "second_depth": self.second_depth,
                               "weight": self.weight}
        if self.model is not None:
            out.update(trained_at=self.model.trained_at, validation=self.model.metrics.get(
                "best"), first_alone=self.model.metrics.get("first_alone"))
        return out
